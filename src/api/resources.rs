//! `/api/marketplace-resources/`: what orders created, their edits, and the orders that change
//! or end them.

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiResult, CommonErrors, ConflictErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, Need, Text};
use super::links::Links;
use super::orders::choices;
use super::pagination::Paginated;
use super::query::path_uuid;
use super::query::{object, uuid_param};
use super::request::deferred;
use super::AppState;
use crate::domain::marketplace::{ResourceState, RESOURCE_NAME_MAX};
use crate::domain::page::PageRequest;
use crate::domain::resource::{Resource, ResourceFilter, ResourcePatch, RestrictedFlag, Restriction};
use crate::domain::{time, ResourceLimits};
use crate::service::resources as service;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::Uri;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

const COLLECTION: &str = "marketplace-resources";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list))
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/"),
            get(retrieve).put(update).patch(partial_update),
        )
        .route(
            &format!("/api/{COLLECTION}/{{uuid}}/update_limits/"),
            post(update_limits),
        )
        .route(&format!("/api/{COLLECTION}/{{uuid}}/terminate/"), post(terminate))
}

/// A resource as upstream serialises it, keys in upstream order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceOut {
    url: String,
    uuid: String,
    name: String,
    description: String,
    /// `Creating`, `OK`, `Erred`, `Updating`, `Terminating` or `Terminated`.
    state: &'static str,
    offering: String,
    offering_uuid: String,
    offering_name: String,
    offering_type: String,
    #[schema(value_type = Object)]
    offering_plugin_options: Value,
    provider_uuid: String,
    provider_name: String,
    plan: Option<String>,
    plan_uuid: Option<String>,
    plan_name: Option<String>,
    project: String,
    project_uuid: String,
    project_name: String,
    customer_uuid: String,
    customer_name: String,
    #[schema(value_type = Object)]
    limits: Value,
    #[schema(value_type = Object)]
    attributes: Value,
    backend_id: String,
    end_date: Option<String>,
    paused: bool,
    downscaled: bool,
    restrict_member_access: bool,
    #[schema(format = DateTime)]
    created: String,
    #[schema(format = DateTime)]
    modified: String,
    /// The fired policies holding each flag (docs/ladder.md §5).
    restrictions: RestrictionsOut,
}

/// The holders of each flag; a flag clears when its last holder lets go.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RestrictionsOut {
    paused: Vec<HolderOut>,
    downscaled: Vec<HolderOut>,
    restrict_member_access: Vec<HolderOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HolderOut {
    policy_uuid: String,
    #[schema(format = DateTime)]
    since: String,
}

impl RestrictionsOut {
    fn render(restrictions: Vec<Restriction>) -> Self {
        let mut out = Self::default();
        for r in restrictions {
            let holders = match r.flag {
                RestrictedFlag::Paused => &mut out.paused,
                RestrictedFlag::Downscaled => &mut out.downscaled,
                RestrictedFlag::RestrictMemberAccess => &mut out.restrict_member_access,
            };
            holders.push(HolderOut {
                policy_uuid: r.policy_uuid.to_string(),
                since: time::render(r.since),
            });
        }
        out
    }
}

impl ResourceOut {
    pub(super) fn render(links: &Links, r: Resource) -> Self {
        let offering_uuid = r.offering_uuid.to_string();
        let plan_uuid = r.plan_uuid.map(|p| p.to_string());
        Self {
            url: links.detail(COLLECTION, &r.uuid),
            uuid: r.uuid.to_string(),
            name: r.name,
            description: r.description,
            state: r.state.as_str(),
            offering: links.detail("marketplace-public-offerings", &r.offering_uuid),
            plan: plan_uuid.as_ref().map(|p| {
                format!(
                    "{}/api/marketplace-public-offerings/{offering_uuid}/plans/{p}/",
                    links.base()
                )
            }),
            offering_uuid,
            offering_name: r.offering_name,
            offering_type: r.offering_type,
            offering_plugin_options: object(&r.offering_plugin_options),
            provider_uuid: r.provider_uuid.to_string(),
            provider_name: r.provider_name,
            plan_uuid,
            plan_name: r.plan_name,
            project: links.detail("projects", &r.project_uuid),
            project_uuid: r.project_uuid.to_string(),
            project_name: r.project_name,
            customer_uuid: r.customer_uuid.to_string(),
            customer_name: r.customer_name,
            limits: object(&r.limits),
            attributes: object(&r.attributes),
            backend_id: r.backend_id,
            end_date: r.end_date,
            paused: r.paused,
            downscaled: r.downscaled,
            restrict_member_access: r.restrict_member_access,
            created: time::render(r.created),
            modified: time::render(r.modified),
            restrictions: RestrictionsOut::render(r.restrictions),
        }
    }
}

/// What `update_limits/` and `terminate/` answer: the order they placed.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderUuidOut {
    order_uuid: String,
}

#[utoipa::path(
    get, path = "/api/marketplace-resources/",
    operation_id = "marketplace_resources_list",
    tag = "marketplace-resources",
    params(
        ("customer_uuid" = Option<String>, Query, format = Uuid),
        ("offering_uuid" = Option<String>, Query, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
        ("project_uuid" = Option<String>, Query, format = Uuid),
        ("state" = Option<Vec<String>>, Query, explode,
            description = "Any of: Creating, OK, Erred, Updating, Terminating, Terminated."),
    ),
    responses(
        (status = 200, body = Vec<ResourceOut>, headers(("x-result-count" = i64), ("link" = String))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Paginated<ResourceOut>> {
    let filter = filter_from(&q, raw.as_deref())?;
    let request = PageRequest::from_query(&q)?;
    let listed = service::list(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|r| ResourceOut::render(&links, r))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-resources/{uuid}/",
    operation_id = "marketplace_resources_retrieve",
    tag = "marketplace-resources",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = ResourceOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<ResourceOut>> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let resource = service::retrieve(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(ResourceOut::render(&links, resource)))
}

/// Edits `name`, `description` and `end_date`; fields left out keep their values (docs/api.md §7).
#[utoipa::path(
    put, path = "/api/marketplace-resources/{uuid}/",
    operation_id = "marketplace_resources_update",
    tag = "marketplace-resources",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ResourceUpdateRequest,
    responses(
        (status = 200, body = ResourceOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn update(
    state: State<AppState>,
    user: CurrentUser,
    links: Links,
    path: Path<String>,
    body: JsonBody,
) -> ApiResult<Json<ResourceOut>> {
    edit(state, user, links, path, body).await
}

/// As PUT, with no field required.
#[utoipa::path(
    patch, path = "/api/marketplace-resources/{uuid}/",
    operation_id = "marketplace_resources_partial_update",
    tag = "marketplace-resources",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PatchedResourceUpdateRequest,
    responses(
        (status = 200, body = ResourceOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn partial_update(
    state: State<AppState>,
    user: CurrentUser,
    links: Links,
    path: Path<String>,
    body: JsonBody,
) -> ApiResult<Json<ResourceOut>> {
    edit(state, user, links, path, body).await
}

async fn edit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<ResourceOut>> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let patch = deferred(ResourceUpdateRequest::parse(input))?.map(ResourcePatch::from);
    let resource = service::edit(&state.db, &user, &uuid, patch, state.clock.now_micros()).await?;
    Ok(Json(ResourceOut::render(&links, resource)))
}

/// A resource's details; fields left out keep their values.
// PATCH reads its body with this too: a PATCH's `JsonBody` is partial, so `name` is not required.
#[derive(Debug, ToSchema)]
pub struct ResourceUpdateRequest {
    #[schema(value_type = String, min_length = 1, max_length = 150)]
    name: Option<String>,
    #[schema(value_type = String, max_length = 2000, required = false)]
    description: Option<String>,
    /// `YYYY-MM-DD`, or null to clear it.
    #[schema(value_type = Option<String>, format = Date)]
    end_date: Option<Option<String>>,
}

/// A resource's details, none of them required; fields left out keep their values.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PatchedResourceUpdateRequest {
    #[schema(value_type = String, min_length = 1, max_length = 150, required = false)]
    name: Option<String>,
    #[schema(value_type = String, max_length = 2000, required = false)]
    description: Option<String>,
    /// `YYYY-MM-DD`, or null to clear it.
    #[schema(value_type = Option<String>, format = Date)]
    end_date: Option<Option<String>>,
}

impl ResourceUpdateRequest {
    fn parse(mut input: Input) -> ApiResult<Self> {
        let name = input.text("name", Text::REQUIRED.max(RESOURCE_NAME_MAX));
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
        Ok(Self {
            name,
            description,
            end_date,
        })
    }
}

impl From<ResourceUpdateRequest> for ResourcePatch {
    fn from(request: ResourceUpdateRequest) -> Self {
        ResourcePatch {
            name: request.name,
            description: request.description,
            end_date: request.end_date,
        }
    }
}

/// An Update order with new limits; the resource must be OK (docs/api.md §7).
#[utoipa::path(
    post, path = "/api/marketplace-resources/{uuid}/update_limits/",
    operation_id = "marketplace_resources_update_limits",
    tag = "marketplace-resources",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ResourceUpdateLimitsRequest,
    responses(
        (status = 200, body = OrderUuidOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn update_limits(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<OrderUuidOut>> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let limits = deferred(ResourceUpdateLimitsRequest::parse(input))?.map(|r| r.limits);
    let order = service::update_limits(&state.db, &user, &uuid, limits, state.clock.now_micros()).await?;
    Ok(Json(OrderUuidOut {
        order_uuid: order.to_string(),
    }))
}

#[derive(Debug, ToSchema)]
pub struct ResourceUpdateLimitsRequest {
    /// Component type → a whole amount, never negative.
    #[schema(value_type = HashMap<String, u64>)]
    limits: ResourceLimits,
}

impl ResourceUpdateLimitsRequest {
    fn parse(mut input: Input) -> ApiResult<Self> {
        let limits = input.limits("limits", Need::Required);
        input.finish()?;
        Ok(Self {
            limits: limits.unwrap_or_default(),
        })
    }
}

/// A Terminate order; the resource must be OK or Erred (docs/api.md §7).
#[utoipa::path(
    post, path = "/api/marketplace-resources/{uuid}/terminate/",
    operation_id = "marketplace_resources_terminate",
    tag = "marketplace-resources",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ResourceTerminateRequest,
    responses(
        (status = 200, body = OrderUuidOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn terminate(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<OrderUuidOut>> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let checked = deferred(ResourceTerminateRequest::parse(input))?.map(|_| ());
    let order = service::terminate(&state.db, &user, &uuid, checked, state.clock.now_micros()).await?;
    Ok(Json(OrderUuidOut {
        order_uuid: order.to_string(),
    }))
}

#[derive(Debug, ToSchema)]
pub struct ResourceTerminateRequest {
    /// Must be an object if sent; the Terminate order does not keep it.
    #[schema(value_type = Object, required = false)]
    #[allow(dead_code)]
    attributes: Option<Map<String, Value>>,
}

impl ResourceTerminateRequest {
    fn parse(mut input: Input) -> ApiResult<Self> {
        let attributes = input.object("attributes");
        input.finish()?;
        Ok(Self { attributes })
    }
}

/// The list's filters, shared with the provider's view of resources: uuids must be uuids, and
/// each `state` one of the states (400 otherwise).
pub(super) fn filter_from(q: &HashMap<String, String>, raw: Option<&str>) -> ApiResult<ResourceFilter> {
    Ok(ResourceFilter {
        customer_uuid: uuid_param(q, "customer_uuid")?,
        project_uuid: uuid_param(q, "project_uuid")?,
        offering_uuid: uuid_param(q, "offering_uuid")?,
        states: choices(raw, "state", ResourceState::parse)?,
    })
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, retrieve, update, partial_update, update_limits, terminate),
    components(schemas(
        ResourceOut,
        RestrictionsOut,
        HolderOut,
        OrderUuidOut,
        ResourceUpdateRequest,
        PatchedResourceUpdateRequest,
        ResourceUpdateLimitsRequest,
        ResourceTerminateRequest
    ))
)]
pub struct Doc;
