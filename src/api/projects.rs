//! `/api/projects/` and its role actions.

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{Input, Need, Text};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::{uuid_list_param, uuid_param};
use super::roles::{self, RoleHolder, RoleScope};
use super::AppState;
use crate::authz::{Principal, Visibility};
use crate::domain::page::PageRequest;
use crate::domain::{time, Uuid32};
use crate::store::{
    self,
    projects::{ProjectFields, ProjectFilter, ProjectPatch, ProjectRow},
    roles::ScopeType,
    NameFilter,
};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

const COLLECTION: &str = "projects";
const NOT_FOUND: &str = "No Project matches the given query.";

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(roles::router::<ProjectRoles>())
        .route("/api/projects/", get(list).post(create))
        .route(
            "/api/projects/{uuid}/",
            get(retrieve).put(save).patch(save).delete(destroy),
        )
}

#[derive(Debug, Serialize)]
pub struct ProjectOut {
    url: String,
    uuid: String,
    name: String,
    slug: String,
    customer: String,
    customer_uuid: String,
    customer_name: String,
    customer_slug: String,
    customer_native_name: String,
    customer_abbreviation: String,
    description: String,
    created: String,
    backend_id: String,
    start_date: Option<String>,
    end_date: Option<String>,
    is_removed: bool,
}

fn render(links: &Links, p: ProjectRow) -> ProjectOut {
    let uuid: Uuid32 = p.uuid.parse().unwrap_or_else(|_| Uuid32::new_v4());
    let customer: Uuid32 = p.customer_uuid.parse().unwrap_or_else(|_| Uuid32::new_v4());
    ProjectOut {
        url: links.detail(COLLECTION, &uuid),
        uuid: p.uuid,
        name: p.name,
        slug: p.slug,
        customer: links.detail("customers", &customer),
        customer_uuid: p.customer_uuid,
        customer_name: p.customer_name,
        customer_slug: p.customer_slug,
        customer_native_name: p.customer_native_name,
        customer_abbreviation: p.customer_abbreviation,
        description: p.description,
        created: time::render(p.created),
        backend_id: p.backend_id,
        start_date: p.start_date,
        end_date: p.end_date,
        is_removed: false,
    }
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<ProjectOut>> {
    let request = PageRequest::from_query(&q)?;
    let vis = Visibility::of(&user, state.clock.now_micros());
    let customer_uuid = uuid_param(&q, "customer_uuid")?;
    let filter = ProjectFilter {
        customer_uuid,
        name: NameFilter::new(
            q.get("name_exact").map(String::as_str),
            q.get("name").map(String::as_str),
        ),
        customers: uuid_list_param(&q, "customer")?,
    };
    let page = request.resolve(store::projects::count(state.db.reader(), vis, &filter).await?)?;
    let rows = store::projects::list(state.db.reader(), vis, &filter, page.limit(), page.offset()).await?;
    let items = rows.into_iter().map(|p| render(&links, p)).collect();
    Ok(Paginated {
        items,
        page,
        links,
        uri,
    })
}

async fn visible(state: &AppState, user: &Principal, raw: &str) -> ApiResult<ProjectRow> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let vis = Visibility::of(user, state.clock.now_micros());
    store::projects::visible_by_uuid(state.db.reader(), &uuid, vis)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))
}

async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<ProjectOut>> {
    Ok(Json(render(&links, visible(&state, &user, &raw).await?)))
}

/// Reads the writable fields; `customer` (at creation only) resolves to the id of a customer the
/// caller may see, one it may not see looking missing. Usage totals are kept per customer, so a
/// project never moves between customers.
async fn read_fields(
    state: &AppState,
    user: &Principal,
    input: &mut Input,
    creating: bool,
) -> ApiResult<(i64, ProjectPatch)> {
    let mut customer_id = 0;
    if let Some(customer) = input.present("customer", Need::Required).filter(|_| creating) {
        let vis = Visibility::of(user, state.clock.now_micros());
        match links::resolve(&customer, "customers") {
            Ok(uuid) => match store::customers::visible_id(state.db.reader(), &uuid, vis).await? {
                Some(id) => customer_id = id,
                None => input
                    .errors
                    .add("customer", links::HyperlinkError::DoesNotExist.message()),
            },
            Err(e) => input.errors.add("customer", e.message()),
        }
    }
    let mut patch = ProjectPatch {
        name: input.text("name", Text::REQUIRED.max(500)),
        ..Default::default()
    };
    for (name, slot) in [
        ("slug", &mut patch.slug),
        ("description", &mut patch.description),
        ("backend_id", &mut patch.backend_id),
    ] {
        *slot = input.text(name, Text::OPTIONAL.max(2000));
    }
    for (name, slot) in [("start_date", &mut patch.start_date), ("end_date", &mut patch.end_date)] {
        match input.raw(name).cloned() {
            None => {}
            Some(Value::Null) => *slot = Some(None),
            Some(Value::String(s)) if chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_ok() => {
                *slot = Some(Some(s))
            }
            Some(_) => input.errors.add(
                name,
                "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
            ),
        }
    }
    Ok((customer_id, patch))
}

/// Staff, the customer's owners, and (for edits) the project's admins and managers.
async fn may_manage(state: &AppState, user: &Principal, customer_id: i64, project_id: Option<i64>) -> ApiResult<()> {
    if user.is_staff {
        return Ok(());
    }
    let roles = crate::store::roles::load(
        state.db.reader(),
        user,
        customer_id,
        project_id,
        state.clock.now_micros(),
    )
    .await?;
    let allowed = if project_id.is_some() {
        roles.manages_project()
    } else {
        roles.is_owner()
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(mut input): JsonBody,
) -> ApiResult<(StatusCode, Json<ProjectOut>)> {
    let (customer_id, patch) = read_fields(&state, &user, &mut input, true).await?;
    input.finish()?;
    let mut fields = ProjectFields {
        customer_id,
        ..Default::default()
    };
    patch.apply(&mut fields);
    may_manage(&state, &user, fields.customer_id, None).await?;
    let uuid = Uuid32::new_v4();
    let mut tx = state.db.begin().await?;
    store::projects::insert(&mut tx, &uuid, &fields, state.clock.now_micros()).await?;
    tx.commit().await?;
    let row = store::projects::by_uuid(state.db.reader(), &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok((StatusCode::CREATED, Json(render(&links, row))))
}

async fn save(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<ProjectOut>> {
    let row = visible(&state, &user, &raw).await?;
    may_manage(&state, &user, row.customer_id, Some(row.id)).await?;
    let (_, patch) = read_fields(&state, &user, &mut input, false).await?;
    input.finish()?;
    crate::service::projects::update(&state.db, row.id, &patch).await?;
    let uuid: Uuid32 = row.uuid.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let row = store::projects::by_uuid(state.db.reader(), &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(Json(render(&links, row)))
}

async fn destroy(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let row = visible(&state, &user, &raw).await?;
    may_manage(&state, &user, row.customer_id, None).await?;
    let mut tx = state.db.begin().await?;
    store::projects::soft_delete(&mut tx, row.id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The project's role actions (`add_user/` and the rest).
pub struct ProjectRoles;

impl RoleHolder for ProjectRoles {
    const COLLECTION: &'static str = COLLECTION;

    async fn visible(state: &AppState, user: &Principal, raw: &str) -> ApiResult<RoleScope> {
        let row = visible(state, user, raw).await?;
        Ok(RoleScope {
            scope: ScopeType::Project,
            scope_id: row.id,
        })
    }

    /// Staff, the customer's owners and the project's admins and managers manage its roles.
    async fn manageable(state: &AppState, user: &Principal, raw: &str) -> ApiResult<RoleScope> {
        let row = visible(state, user, raw).await?;
        may_manage(state, user, row.customer_id, Some(row.id)).await?;
        Ok(RoleScope {
            scope: ScopeType::Project,
            scope_id: row.id,
        })
    }
}
