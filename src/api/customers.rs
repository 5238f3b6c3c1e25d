//! `/api/customers/` and its role actions.

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{Input, Need, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::roles::{self, RoleHolder, RoleScope};
use super::AppState;
use crate::authz::{Principal, Visibility};
use crate::domain::page::PageRequest;
use crate::domain::{time, Uuid32};
use crate::store::{
    self,
    customers::{CustomerFields, CustomerPatch, CustomerRow, TEXT_FIELDS},
    roles::ScopeType,
    NameFilter,
};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value};
use std::collections::HashMap;

const COLLECTION: &str = "customers";
const NOT_FOUND: &str = "No Customer matches the given query.";

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(roles::router::<CustomerRoles>())
        .route("/api/customers/", get(list).post(create))
        .route(
            "/api/customers/{uuid}/",
            get(retrieve).put(save).patch(save).delete(destroy),
        )
}

/// Upstream's customer keys that meterguard models; text fields in declaration order.
fn render(links: &Links, c: CustomerRow) -> Value {
    let uuid: Uuid32 = c.uuid.parse().unwrap_or_else(|_| Uuid32::new_v4());
    let mut out = Map::new();
    out.insert("url".into(), links.detail(COLLECTION, &uuid).into());
    out.insert("uuid".into(), c.uuid.clone().into());
    out.insert("created".into(), time::render(c.created).into());
    out.insert("display_name".into(), c.name.clone().into());
    for field in TEXT_FIELDS {
        out.insert(field.into(), c.text(field).into());
    }
    out.insert("blocked".into(), (c.blocked != 0).into());
    out.insert("archived".into(), (c.archived != 0).into());
    out.insert("projects_count".into(), c.projects_count.into());
    out.insert("users_count".into(), c.users_count.into());
    out.insert("is_service_provider".into(), c.service_provider_uuid.is_some().into());
    out.insert("service_provider_uuid".into(), c.service_provider_uuid.into());
    Value::Object(out)
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<Value>> {
    let request = PageRequest::from_query(&q)?;
    let vis = Visibility::of(&user, state.clock.now_micros());
    let name = NameFilter::new(
        q.get("name_exact").map(String::as_str),
        q.get("name").map(String::as_str),
    );
    let page = request.resolve(store::customers::count(state.db.reader(), vis, &name).await?)?;
    let rows = store::customers::list(state.db.reader(), vis, &name, page.limit(), page.offset()).await?;
    let items = rows.into_iter().map(|c| render(&links, c)).collect();
    Ok(Paginated {
        items,
        page,
        links,
        uri,
    })
}

/// The customer if the caller may see it, else 404.
pub async fn visible(state: &AppState, user: &Principal, raw: &str) -> ApiResult<CustomerRow> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let vis = Visibility::of(user, state.clock.now_micros());
    store::customers::visible_by_uuid(state.db.reader(), &uuid, vis)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))
}

async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render(&links, visible(&state, &user, &raw).await?)))
}

fn read_fields(input: &mut Input, fields: &mut CustomerPatch) {
    for field in TEXT_FIELDS {
        let rule = match field {
            "name" => Text::REQUIRED.max(150),
            "email" => continue,
            _ => Text::OPTIONAL.max(500),
        };
        if let Some(v) = input.text(field, rule) {
            if field == "country" && !is_country_code(&v) {
                input.errors.add("country", format!("\"{v}\" is not a valid choice."));
            }
            fields.set(field, v);
        }
    }
    if let Some(email) = input.email("email", Need::Optional) {
        fields.set("email", email);
    }
    fields.blocked = input.boolean("blocked");
    fields.archived = input.boolean("archived");
}

/// ISO 3166 alpha-2 in shape (or upstream's "EU"), or empty.
fn is_country_code(s: &str) -> bool {
    s.is_empty() || (s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()))
}

async fn create(
    State(state): State<AppState>,
    Staff(_): Staff,
    links: Links,
    JsonBody(mut input): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut patch = CustomerPatch::default();
    read_fields(&mut input, &mut patch);
    input.finish()?;
    let mut fields = CustomerFields::empty();
    patch.apply(&mut fields);
    let uuid = Uuid32::new_v4();
    let mut tx = state.db.begin().await?;
    store::customers::insert(&mut tx, &uuid, &fields, state.clock.now_micros()).await?;
    tx.commit().await?;
    let row = store::customers::by_uuid(state.db.reader(), &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok((StatusCode::CREATED, Json(render(&links, row))))
}

async fn save(
    State(state): State<AppState>,
    Staff(user): Staff,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<Value>> {
    let row = visible(&state, &user, &raw).await?;
    let mut patch = CustomerPatch::default();
    read_fields(&mut input, &mut patch);
    input.finish()?;
    crate::service::customers::update(&state.db, row.id, &patch).await?;
    let uuid: Uuid32 = row.uuid.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let row = store::customers::by_uuid(state.db.reader(), &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(Json(render(&links, row)))
}

async fn destroy(State(state): State<AppState>, Staff(user): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let row = visible(&state, &user, &raw).await?;
    crate::service::customers::delete(&state.db, &state.actions, row.id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The customer's role actions (`add_user/` and the rest).
pub struct CustomerRoles;

impl RoleHolder for CustomerRoles {
    const COLLECTION: &'static str = COLLECTION;

    async fn visible(state: &AppState, user: &Principal, raw: &str) -> ApiResult<RoleScope> {
        let row = visible(state, user, raw).await?;
        Ok(RoleScope {
            scope: ScopeType::Customer,
            scope_id: row.id,
        })
    }

    /// Staff and the customer's owners manage its roles.
    async fn manageable(state: &AppState, user: &Principal, raw: &str) -> ApiResult<RoleScope> {
        let row = visible(state, user, raw).await?;
        if !user.is_staff {
            let roles =
                crate::store::roles::load(state.db.reader(), user, row.id, None, state.clock.now_micros()).await?;
            if !roles.is_owner() {
                return Err(ApiError::PermissionDenied);
            }
        }
        if row.blocked != 0 || row.archived != 0 {
            return Err(ApiError::non_field("Customer is not available."));
        }
        Ok(RoleScope {
            scope: ScopeType::Customer,
            scope_id: row.id,
        })
    }
}
