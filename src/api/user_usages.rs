//! Per-user usage and per-user limits (docs/site-agent.md): `set_user_usage/` and
//! `set_user_usages/` on a component usage row, `/api/marketplace-component-user-usages/`, and
//! `/api/component-user-usage-limits/`. Kept and listed as upstream does; no policy reads them.

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, Need, Text};
use super::links::{self, Links};
use super::offering_users::COLLECTION as OFFERING_USERS;
use super::pagination::Paginated;
use super::query::{path_uuid, text_param, uuid_param};
use super::request::deferred;
use super::site_agent::{datetime, list_of};
use super::AppState;
use crate::domain::page::PageRequest;
use crate::domain::user_usage::{UserUsage, UserUsageFilter, UserUsageItem, UserUsageLimit, UserUsageLimitFilter};
use crate::domain::{time, Amount, Month};
use crate::service::user_usages::{self as service, NewLimit};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

const USER_USAGES: &str = "marketplace-component-user-usages";
const LIMITS: &str = "component-user-usage-limits";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/marketplace-component-usages/{uuid}/set_user_usage/",
            post(set_user_usage),
        )
        .route(
            "/api/marketplace-component-usages/{uuid}/set_user_usages/",
            post(set_user_usages),
        )
        .route(&format!("/api/{USER_USAGES}/"), get(list))
        .route(&format!("/api/{USER_USAGES}/{{uuid}}/"), get(retrieve))
        .route(&format!("/api/{LIMITS}/"), get(list_limits).post(create_limit))
        .route(
            &format!("/api/{LIMITS}/{{uuid}}/"),
            get(retrieve_limit).delete(destroy_limit),
        )
}

/// One user's amount of a component usage row.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ComponentUserUsageCreateRequest {
    /// The user's username on the cluster.
    #[schema(min_length = 1, max_length = 255)]
    username: String,
    /// At least 0, with at most two decimal places; absent: 0.
    #[schema(value_type = String, format = "decimal", required = false)]
    usage: Amount,
    /// The offering user's URL, if the agent knows it.
    #[schema(required = false)]
    user: String,
    /// When it was measured; absent: the component usage row's date.
    #[schema(value_type = String, format = DateTime, required = false)]
    date: String,
}

impl ComponentUserUsageCreateRequest {
    fn parse(mut input: Input) -> ApiResult<UserUsageItem> {
        let username = input.text("username", Text::REQUIRED);
        let usage = match input.present("usage", Need::Optional) {
            None => Some(Amount::ZERO),
            Some(v) => match Amount::parse(&v) {
                Ok(a) => Some(a),
                Err(m) => {
                    input.errors.add("usage", m);
                    None
                }
            },
        };
        let offering_user = match input.present("user", Need::Optional) {
            None => None,
            Some(v) => match links::resolve(&v, OFFERING_USERS) {
                Ok(uuid) => Some(uuid),
                Err(e) => {
                    input.errors.add("user", e.message());
                    None
                }
            },
        };
        let date = datetime(&mut input, "date");
        input.finish()?;
        match (username, usage) {
            (Some(username), Some(usage)) => Ok(UserUsageItem {
                username,
                usage,
                offering_user,
                date,
            }),
            _ => Err(ApiError::Internal(anyhow::anyhow!(
                "user usage passed validation unset"
            ))),
        }
    }
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ComponentUserUsageBulkCreateRequest {
    usages: Vec<ComponentUserUsageCreateRequest>,
}

/// Sets one user's amount under the component usage row, replacing the one it had.
#[utoipa::path(
    post, path = "/api/marketplace-component-usages/{uuid}/set_user_usage/",
    operation_id = "marketplace_component_usages_set_user_usage",
    tag = "marketplace-component-usages",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ComponentUserUsageCreateRequest,
    responses(
        (status = 201, description = "No response body"),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn set_user_usage(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, service::USAGE_NOT_FOUND)?;
    let items = deferred(ComponentUserUsageCreateRequest::parse(input).map(|item| vec![item]))?;
    service::report(&state.db, &user, &uuid, items, state.clock.now_micros()).await?;
    Ok(StatusCode::CREATED)
}

/// Sets several users' amounts under the component usage row at once.
#[utoipa::path(
    post, path = "/api/marketplace-component-usages/{uuid}/set_user_usages/",
    operation_id = "marketplace_component_usages_set_user_usages",
    tag = "marketplace-component-usages",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ComponentUserUsageBulkCreateRequest,
    responses(
        (status = 201, description = "No response body"),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn set_user_usages(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, service::USAGE_NOT_FOUND)?;
    let items = list_of(
        &mut input,
        "usages",
        Need::Required,
        ComponentUserUsageCreateRequest::parse,
    )?;
    let items = deferred(input.finish().map(|()| items.unwrap_or_default()))?;
    service::report(&state.db, &user, &uuid, items, state.clock.now_micros()).await?;
    Ok(StatusCode::CREATED)
}

/// A user's amount of a component usage row, as upstream serialises it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentUserUsageOut {
    uuid: String,
    /// The offering user's URL, if the report linked one.
    user: Option<String>,
    username: String,
    /// The component usage row's URL.
    component_usage: String,
    /// A decimal with two places.
    #[schema(format = "decimal")]
    usage: String,
    measured_unit: String,
    description: String,
    #[schema(format = DateTime)]
    created: String,
    #[schema(format = DateTime)]
    modified: String,
    backend_id: String,
    resource_name: String,
    resource_uuid: String,
    offering_name: String,
    offering_uuid: String,
    project_name: String,
    project_uuid: String,
    customer_name: String,
    customer_uuid: String,
    component_type: String,
    #[schema(format = DateTime)]
    date: String,
    #[schema(format = Date)]
    billing_period: String,
}

impl ComponentUserUsageOut {
    fn render(links: &Links, u: UserUsage) -> Self {
        Self {
            uuid: u.uuid.to_string(),
            user: u.offering_user_uuid.map(|o| links.detail(OFFERING_USERS, &o)),
            username: u.username,
            component_usage: links.detail("marketplace-component-usages", &u.component_usage_uuid),
            usage: u.usage.to_string(),
            measured_unit: u.measured_unit,
            description: u.description,
            created: time::render(u.created),
            modified: time::render(u.modified),
            backend_id: String::new(),
            resource_name: u.resource_name,
            resource_uuid: u.resource_uuid.to_string(),
            offering_name: u.offering_name,
            offering_uuid: u.offering_uuid.to_string(),
            project_name: u.project_name,
            project_uuid: u.project_uuid.to_string(),
            customer_name: u.customer_name,
            customer_uuid: u.customer_uuid.to_string(),
            component_type: u.component_type,
            date: time::render(u.date),
            billing_period: u.billing_period.to_string(),
        }
    }
}

fn date_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<Month>> {
    match text_param(q, key)? {
        None => Ok(None),
        Some(v) => time::parse_datetime(&v)
            .map(|t| Some(Month::of(t.date_naive())))
            .ok_or_else(|| ApiError::field(key, "Enter a valid date.")),
    }
}

#[utoipa::path(
    get, path = "/api/marketplace-component-user-usages/",
    operation_id = "marketplace_component_user_usages_list",
    tag = "marketplace-component-user-usages",
    params(
        ("component_usage_billing_period" = Option<String>, Query, format = Date,
            description = "A day of the component usage's billing month."),
        ("component_usage_uuid" = Option<String>, Query, format = Uuid),
        ("component_type" = Option<String>, Query),
        ("customer_uuid" = Option<String>, Query, format = Uuid),
        ("offering_uuid" = Option<String>, Query, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
        ("project_uuid" = Option<String>, Query, format = Uuid),
        ("resource_uuid" = Option<String>, Query, format = Uuid),
        ("username" = Option<String>, Query),
    ),
    responses(
        (status = 200, body = Vec<ComponentUserUsageOut>, headers(("x-result-count" = i64), ("link" = String))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<ComponentUserUsageOut>> {
    let filter = UserUsageFilter {
        resource_uuid: uuid_param(&q, "resource_uuid")?,
        offering_uuid: uuid_param(&q, "offering_uuid")?,
        customer_uuid: uuid_param(&q, "customer_uuid")?,
        project_uuid: uuid_param(&q, "project_uuid")?,
        component_usage_uuid: uuid_param(&q, "component_usage_uuid")?,
        username: text_param(&q, "username")?,
        component_type: text_param(&q, "component_type")?,
        billing_month: date_param(&q, "component_usage_billing_period")?,
    };
    let request = PageRequest::from_query(&q)?;
    let listed = service::list(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|u| ComponentUserUsageOut::render(&links, u))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-component-user-usages/{uuid}/",
    operation_id = "marketplace_component_user_usages_retrieve",
    tag = "marketplace-component-user-usages",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = ComponentUserUsageOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<ComponentUserUsageOut>> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let found = service::retrieve(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(ComponentUserUsageOut::render(&links, found)))
}

/// A user's limit on a resource's component.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentUserUsageLimitOut {
    url: String,
    uuid: String,
    /// The resource's URL.
    resource: String,
    /// The component's uuid.
    component: String,
    component_type: String,
    /// The offering user's username on the offering, as the site agent reads it.
    user: String,
    #[schema(format = "decimal")]
    limit: String,
}

impl ComponentUserUsageLimitOut {
    fn render(links: &Links, l: UserUsageLimit) -> Self {
        Self {
            url: links.detail(LIMITS, &l.uuid),
            uuid: l.uuid.to_string(),
            resource: links.detail("marketplace-resources", &l.resource_uuid),
            component: l.component_uuid.to_string(),
            component_type: l.component_type,
            user: l.username,
            limit: l.limit.to_string(),
        }
    }
}

/// A user's limit: the resource (URL), the component (uuid) and the offering user's username.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ComponentUserUsageLimitRequest {
    resource: String,
    #[schema(value_type = String, format = Uuid)]
    component: String,
    /// The offering user's username on the resource's offering.
    user: String,
    #[schema(value_type = String, format = "decimal")]
    limit: Amount,
}

impl ComponentUserUsageLimitRequest {
    fn parse(mut input: Input) -> ApiResult<NewLimit> {
        let resource = match input.present("resource", Need::Required) {
            None => None,
            Some(v) => match links::resolve(&v, "marketplace-resources") {
                Ok(uuid) => Some(uuid),
                Err(e) => {
                    input.errors.add("resource", e.message());
                    None
                }
            },
        };
        let component = input.uuid("component", Need::Required);
        let username = input.text("user", Text::REQUIRED);
        let limit = match input.present("limit", Need::Required) {
            None => None,
            Some(v) => match Amount::parse(&v) {
                Ok(a) => Some(a),
                Err(m) => {
                    input.errors.add("limit", m);
                    None
                }
            },
        };
        input.finish()?;
        match (resource, component, username, limit) {
            (Some(resource), Some(component), Some(username), Some(limit)) => Ok(NewLimit {
                resource,
                component,
                username,
                limit,
            }),
            _ => Err(ApiError::Internal(anyhow::anyhow!(
                "user limit passed validation unset"
            ))),
        }
    }
}

#[utoipa::path(
    get, path = "/api/component-user-usage-limits/",
    operation_id = "component_user_usage_limits_list",
    tag = "component-user-usage-limits",
    params(
        ("component_type" = Option<String>, Query),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
        ("resource_uuid" = Option<String>, Query, format = Uuid),
    ),
    responses(
        (status = 200, body = Vec<ComponentUserUsageLimitOut>, headers(("x-result-count" = i64), ("link" = String))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list_limits(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<ComponentUserUsageLimitOut>> {
    let filter = UserUsageLimitFilter {
        resource_uuid: uuid_param(&q, "resource_uuid")?,
        component_type: text_param(&q, "component_type")?,
    };
    let request = PageRequest::from_query(&q)?;
    let listed = service::list_limits(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|l| ComponentUserUsageLimitOut::render(&links, l))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/component-user-usage-limits/{uuid}/",
    operation_id = "component_user_usage_limits_retrieve",
    tag = "component-user-usage-limits",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = ComponentUserUsageLimitOut), ObjectErrors, CommonErrors)
)]
async fn retrieve_limit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<ComponentUserUsageLimitOut>> {
    let uuid = path_uuid(&raw, service::LIMIT_NOT_FOUND)?;
    let found = service::retrieve_limit(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(ComponentUserUsageLimitOut::render(&links, found)))
}

/// Sets a user's limit (replacing the one it had): staff, or the resource's provider's owners
/// and managers.
#[utoipa::path(
    post, path = "/api/component-user-usage-limits/",
    operation_id = "component_user_usage_limits_create",
    tag = "component-user-usage-limits",
    request_body = ComponentUserUsageLimitRequest,
    responses((status = 201, body = ComponentUserUsageLimitOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create_limit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<ComponentUserUsageLimitOut>)> {
    let new = ComponentUserUsageLimitRequest::parse(input)?;
    let limit = service::set_limit(&state.db, &user, new, state.clock.now_micros()).await?;
    Ok((
        StatusCode::CREATED,
        Json(ComponentUserUsageLimitOut::render(&links, limit)),
    ))
}

#[utoipa::path(
    delete, path = "/api/component-user-usage-limits/{uuid}/",
    operation_id = "component_user_usage_limits_destroy",
    tag = "component-user-usage-limits",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "No response body"),
        ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn destroy_limit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, service::LIMIT_NOT_FOUND)?;
    service::delete_limit(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        set_user_usage,
        set_user_usages,
        list,
        retrieve,
        list_limits,
        retrieve_limit,
        create_limit,
        destroy_limit
    ),
    components(schemas(
        ComponentUserUsageCreateRequest,
        ComponentUserUsageBulkCreateRequest,
        ComponentUserUsageOut,
        ComponentUserUsageLimitOut,
        ComponentUserUsageLimitRequest
    ))
)]
pub struct Doc;
