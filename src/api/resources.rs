//! `/api/marketplace-resources/`: what orders created, their edits, and the orders that change
//! or end them.

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{Need, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::query::{choices_param, object, uuid_param};
use super::AppState;
use crate::authz::{Principal, Visibility};
use crate::domain::marketplace::{OrderType, ResourceState};
use crate::domain::page::PageRequest;
use crate::domain::{time, ResourceLimits, Uuid32};
use crate::service::orders as service;
use crate::store::{
    self,
    resources::{ResourceFilter, ResourcePatch, ResourceRow},
};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::Uri;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const COLLECTION: &str = "marketplace-resources";
const NOT_FOUND: &str = "No Resource matches the given query.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list))
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/"),
            get(retrieve).put(edit).patch(edit),
        )
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/update_limits/"),
            post(update_limits),
        )
        .route(&format!("/api/{COLLECTION}/{{uuid}}/terminate/"), post(terminate))
}

pub fn render(links: &Links, r: ResourceRow) -> Value {
    let plan = r.plan_uuid.as_ref().map(|p| {
        format!(
            "{}/api/marketplace-public-offerings/{}/plans/{p}/",
            links.base(),
            r.offering_uuid
        )
    });
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        out.insert(k.to_string(), v);
    };
    put("url", links.detail_hex(COLLECTION, &r.uuid).into());
    put("uuid", r.uuid.clone().into());
    put("name", r.name.clone().into());
    put("description", r.description.clone().into());
    put("state", r.state.clone().into());
    put(
        "offering",
        links
            .detail_hex("marketplace-public-offerings", &r.offering_uuid)
            .into(),
    );
    put("offering_uuid", r.offering_uuid.clone().into());
    put("offering_name", r.offering_name.clone().into());
    put("offering_type", r.offering_type.clone().into());
    put("offering_plugin_options", object(&r.offering_plugin_options));
    put("provider_uuid", r.provider_uuid.clone().into());
    put("provider_name", r.provider_name.clone().into());
    put("plan", plan.into());
    put("plan_uuid", r.plan_uuid.clone().into());
    put("plan_name", r.plan_name.clone().into());
    put("project", links.detail_hex("projects", &r.project_uuid).into());
    put("project_uuid", r.project_uuid.clone().into());
    put("project_name", r.project_name.clone().into());
    put("customer_uuid", r.customer_uuid.clone().into());
    put("customer_name", r.customer_name.clone().into());
    put("limits", object(&r.limits));
    put("attributes", object(&r.attributes));
    put("backend_id", r.backend_id.clone().into());
    put("end_date", r.end_date.clone().into());
    put("paused", (r.paused != 0).into());
    put("downscaled", (r.downscaled != 0).into());
    put("restrict_member_access", (r.restrict_member_access != 0).into());
    put("created", time::render(r.created).into());
    put("modified", time::render(r.modified).into());
    Value::Object(out)
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Paginated<Value>> {
    let filter = ResourceFilter {
        customer_uuid: uuid_param(&q, "customer_uuid")?,
        project_uuid: uuid_param(&q, "project_uuid")?,
        offering_uuid: uuid_param(&q, "offering_uuid")?,
        states: choices_param(raw.as_deref(), "state", |s| ResourceState::parse(s).is_some())?,
    };
    let request = PageRequest::from_query(&q)?;
    let vis = Visibility::of(&user, state.clock.now_micros());
    let page = request.resolve(store::resources::count(state.db.reader(), vis, &filter).await?)?;
    let rows = store::resources::list(state.db.reader(), vis, &filter, page.limit(), page.offset()).await?;
    Ok(Paginated {
        items: rows.into_iter().map(|r| render(&links, r)).collect(),
        page,
        links,
        uri,
    })
}

async fn visible(state: &AppState, user: &Principal, raw: &str) -> ApiResult<ResourceRow> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let vis = Visibility::of(user, state.clock.now_micros());
    store::resources::visible_by_uuid(state.db.reader(), &uuid, vis)
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

/// The resource, if the caller may change it (staff, customer owners, project admins/managers).
async fn manageable(state: &AppState, user: &Principal, raw: &str) -> ApiResult<ResourceRow> {
    let r = visible(state, user, raw).await?;
    if crate::service::access::may_manage_consumer(
        &state.db,
        user,
        r.customer_id,
        r.project_id,
        state.clock.now_micros(),
    )
    .await?
    {
        Ok(r)
    } else {
        Err(ApiError::PermissionDenied)
    }
}

async fn edit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<Value>> {
    let r = manageable(&state, &user, &raw).await?;
    let name = input.text(
        "name",
        Text::REQUIRED.max(crate::domain::marketplace::RESOURCE_NAME_MAX),
    );
    let description = input.text("description", Text::OPTIONAL.max(2000));
    let end_date = match input.raw("end_date").cloned() {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_ok() => Some(Some(s)),
        Some(_) => {
            input.errors.add(
                "end_date",
                "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
            );
            None
        }
    };
    input.finish()?;
    let patch = ResourcePatch {
        name,
        description,
        end_date,
    };
    service::edit_resource(&state.db, &r, &patch, state.clock.now_micros()).await?;
    let uuid: Uuid32 = r.uuid.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let fresh = store::resources::by_uuid(state.db.reader(), &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(Json(render(&links, fresh)))
}

async fn update_limits(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<Value>> {
    let r = manageable(&state, &user, &raw).await?;
    let limits = input.limits("limits", Need::Required);
    input.finish()?;
    let limits = limits.unwrap_or_default();
    if limits == ResourceLimits::from_stored(&r.limits) {
        return Err(ApiError::non_field(
            "Impossible to create update orders with limits set to exactly the same.",
        ));
    }
    let now = state.clock.now_micros();
    let order = service::for_resource(
        &state.db,
        &r,
        OrderType::Update,
        Some(limits.to_json().to_string()),
        user.id,
        now,
    )
    .await?;
    Ok(Json(json!({ "order_uuid": order.to_string() })))
}

async fn terminate(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<Value>> {
    let r = manageable(&state, &user, &raw).await?;
    input.object("attributes");
    input.finish()?;
    let order = service::for_resource(
        &state.db,
        &r,
        OrderType::Terminate,
        None,
        user.id,
        state.clock.now_micros(),
    )
    .await?;
    Ok(Json(json!({ "order_uuid": order.to_string() })))
}
