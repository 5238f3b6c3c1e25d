//! `/api/marketplace-component-usage-grants/`: temporary top-ups of a policy's limit
//! (docs/grants.md, docs/api.md §8.5). No update: a grant is deleted and made anew.

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiResult, CommonErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, Need, Text};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::{bool_param, path_uuid, uuid_param};
use super::request::parsed;
use super::AppState;
use crate::domain::grant::{ComponentGrant, GrantAmount, GrantFilter, GrantReason, GrantWindow};
use crate::domain::page::PageRequest;
use crate::domain::time::{self, Micros};
use crate::domain::Uuid32;
use crate::service::grants::{self as service, GrantRequest};
use crate::service::parsed::Parsed;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

const COLLECTION: &str = "marketplace-component-usage-grants";
const POLICIES: &str = "marketplace-customer-component-usage-policies";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list).post(create))
        .route(&format!("/api/{COLLECTION}/{{uuid}}/"), get(retrieve).delete(destroy))
}

/// A grant: `amount` more of `component` for `policy` from `starts_at` until `expires_at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantOut {
    uuid: String,
    url: String,
    /// The policy's URL.
    policy: String,
    /// The component's uuid: one of the policy's limit rows.
    #[schema(format = Uuid)]
    component: String,
    /// A decimal with two places, added to the row's limit while the grant is active.
    #[schema(format = "decimal")]
    amount: String,
    #[schema(format = DateTime)]
    starts_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    reason: String,
    /// Empty once the user who made it is deleted.
    created_by_username: String,
    #[schema(format = DateTime)]
    created: String,
}

impl GrantOut {
    fn render(links: &Links, g: ComponentGrant) -> Self {
        Self {
            uuid: g.uuid.to_string(),
            url: links.detail(COLLECTION, &g.uuid),
            policy: links.detail(POLICIES, &g.policy_uuid),
            component: g.component_uuid.to_string(),
            amount: g.amount.to_string(),
            starts_at: time::render(g.starts_at),
            expires_at: time::render(g.expires_at),
            reason: g.reason,
            created_by_username: g.created_by_username.unwrap_or_default(),
            created: time::render(g.created),
        }
    }
}

/// The body of a create; a field is `None` when absent or refused.
#[derive(Debug, ToSchema)]
pub struct GrantCreateRequest {
    /// The policy's URL.
    #[schema(value_type = String, format = "uri", required = true)]
    policy: Option<Uuid32>,
    /// The uuid of a component the policy limits.
    #[schema(value_type = String, format = Uuid, required = true)]
    component: Option<Uuid32>,
    /// More than 0, two decimal places at most.
    #[schema(value_type = String, format = "decimal", required = true)]
    amount: Option<GrantAmount>,
    /// Now when left out.
    #[schema(value_type = String, format = DateTime, required = false)]
    starts_at: Option<Micros>,
    /// After `starts_at`, and in the future.
    #[schema(value_type = String, format = DateTime, required = true)]
    expires_at: Option<Micros>,
    #[schema(value_type = String, min_length = 1, max_length = 500, required = true)]
    reason: Option<GrantReason>,
}

const DATETIME_FORMAT: &str =
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

impl GrantCreateRequest {
    /// Reads every field with DRF's messages, in the body's order; whether the policy exists and
    /// limits the component is the use case's to say. `starts_at` defaults to `now`.
    fn parse(mut input: Input, now: Micros) -> Parsed<GrantRequest> {
        let policy = input
            .present("policy", Need::Required)
            .and_then(|value| match links::resolve(&value, POLICIES) {
                Ok(uuid) => Some(uuid),
                Err(e) => {
                    input.errors.add("policy", e.message());
                    None
                }
            });
        let component = input.uuid("component", Need::Required);
        let amount = input
            .present("amount", Need::Required)
            .and_then(|value| match GrantAmount::parse(&value) {
                Ok(amount) => Some(amount),
                Err(e) => {
                    input.errors.add("amount", e);
                    None
                }
            });
        let starts_at = if input.has("starts_at") {
            datetime(&mut input, "starts_at")
        } else {
            Some(now)
        };
        let expires_at = datetime(&mut input, "expires_at");
        if let (Some(starts_at), Some(expires_at)) = (starts_at, expires_at) {
            if let Err(e) = GrantWindow::new(starts_at, expires_at, now) {
                input.errors.add("expires_at", e);
            }
        }
        let reason = input
            .text("reason", Text::REQUIRED.max(GrantReason::MAX_LEN))
            .and_then(GrantReason::new);
        let request = Self {
            policy,
            component,
            amount,
            starts_at,
            expires_at,
            reason,
        };
        parsed(request, input).map(|request| request.into_args(now))
    }

    fn into_args(self, now: Micros) -> GrantRequest {
        let window = match (self.starts_at, self.expires_at) {
            (Some(starts_at), Some(expires_at)) => GrantWindow::new(starts_at, expires_at, now).ok(),
            _ => None,
        };
        GrantRequest {
            policy: self.policy,
            component: self.component,
            amount: self.amount,
            window,
            reason: self.reason,
        }
    }
}

/// A required datetime field; `None` when its error is recorded.
fn datetime(input: &mut Input, field: &str) -> Option<Micros> {
    let value = input.present(field, Need::Required)?;
    let parsed = value.as_str().and_then(time::parse_datetime);
    if parsed.is_none() {
        input.errors.add(field, DATETIME_FORMAT);
    }
    parsed.map(|t| t.timestamp_micros())
}

/// The list's query: uuid filters must be uuids, `active` a boolean (400 otherwise).
fn parse_filter(q: &HashMap<String, String>) -> ApiResult<GrantFilter> {
    Ok(GrantFilter {
        policy_uuid: uuid_param(q, "policy_uuid")?,
        customer_uuid: uuid_param(q, "customer_uuid")?,
        component_uuid: uuid_param(q, "component_uuid")?,
        active: bool_param(q, "active")?,
    })
}

/// Newest first. Staff and support see every grant; the policy's customer role holders see its
/// grants.
#[utoipa::path(
    get, path = "/api/marketplace-component-usage-grants/",
    operation_id = "marketplace_component_usage_grants_list",
    tag = "marketplace-component-usage-grants",
    params(
        ("active" = Option<bool>, Query, description = "Active now (starts_at ≤ now < expires_at)"),
        ("component_uuid" = Option<String>, Query, format = Uuid, description = "Component UUID"),
        ("customer_uuid" = Option<String>, Query, format = Uuid, description = "Customer UUID"),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
        ("policy_uuid" = Option<String>, Query, format = Uuid, description = "Policy UUID"),
    ),
    responses(
        (status = 200, body = Vec<GrantOut>, headers(("x-result-count" = i64))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<GrantOut>> {
    let filter = parse_filter(&q)?;
    let request = PageRequest::from_query(&q)?;
    let listed = service::list(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed.items.into_iter().map(|g| GrantOut::render(&links, g)).collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-component-usage-grants/{uuid}/",
    operation_id = "marketplace_component_usage_grants_retrieve",
    tag = "marketplace-component-usage-grants",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = GrantOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<GrantOut>> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    let grant = service::retrieve(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(GrantOut::render(&links, grant)))
}

/// Staff only. Re-evaluates the policy with the grant at once (a fired policy may reset).
#[utoipa::path(
    post, path = "/api/marketplace-component-usage-grants/",
    operation_id = "marketplace_component_usage_grants_create",
    tag = "marketplace-component-usage-grants",
    request_body = GrantCreateRequest,
    responses((status = 201, body = GrantOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create(
    State(state): State<AppState>,
    Staff(user): Staff,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<GrantOut>)> {
    let now = state.clock.now();
    let request = GrantCreateRequest::parse(input, now.timestamp_micros());
    let grant = service::create(&state.db, &state.actions, &user, request, now).await?;
    Ok((StatusCode::CREATED, Json(GrantOut::render(&links, grant))))
}

/// Staff only. Re-evaluates the policy without the grant at once (it may fire).
#[utoipa::path(
    delete, path = "/api/marketplace-component-usage-grants/{uuid}/",
    operation_id = "marketplace_component_usage_grants_destroy",
    tag = "marketplace-component-usage-grants",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 204, description = "No response body"), ForbiddenErrors, ObjectErrors, CommonErrors)
)]
async fn destroy(State(state): State<AppState>, Staff(user): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, service::NOT_FOUND)?;
    service::delete(&state.db, &state.actions, &user, &uuid, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, retrieve, create, destroy),
    components(schemas(GrantOut, GrantCreateRequest))
)]
pub struct Doc;
