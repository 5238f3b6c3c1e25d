//! `/api/marketplace-provider-resources/`: resources as their provider and its site agent see
//! and maintain them: listed by offering and state, their backend id, limits, metadata, state and
//! last sync set from the cluster, their project's team read, and the membership sync statuses
//! reported (docs/site-agent.md).

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiResult, CommonErrors, ConflictErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, Need, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::query::{object, path_uuid};
use super::request::deferred;
use super::resources::ResourceOut;
use super::site_agent::list_of;
use super::AppState;
use crate::domain::page::PageRequest;
use crate::domain::provider_resource::{ProviderResource, SyncScope, SyncState, SyncStatus, TeamMember};
use crate::domain::{time, ResourceLimits, Uuid32};
use crate::service::provider_resources::{self as service, NOT_FOUND};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;

const COLLECTION: &str = "marketplace-provider-resources";

pub fn router() -> Router<AppState> {
    let item = |action: &str| format!("/api/{COLLECTION}/{{uuid}}/{action}");
    Router::new()
        .route(&format!("/api/{COLLECTION}/"), get(list))
        .route(&item(""), get(retrieve))
        .route(&item("set_backend_id/"), post(set_backend_id))
        .route(&item("set_limits/"), post(set_limits))
        .route(&item("set_backend_metadata/"), post(set_backend_metadata))
        .route(&item("set_as_ok/"), post(set_as_ok))
        .route(&item("set_as_erred/"), post(set_as_erred))
        .route(&item("refresh_last_sync/"), post(refresh_last_sync))
        .route(&item("team/"), get(team))
        .route(
            &item("set_membership_sync_statuses/"),
            post(set_membership_sync_statuses),
        )
}

/// A resource as its provider sees it: the consumer's fields, and what the provider recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderResourceOut {
    #[serde(flatten)]
    resource: ResourceOut,
    project_slug: String,
    customer_slug: String,
    /// What the agent last read from the cluster about the resource.
    #[schema(value_type = Object)]
    backend_metadata: Value,
    error_message: String,
    error_traceback: String,
    /// When the agent last synced the resource; its creation until the first sync, as upstream.
    #[schema(format = DateTime)]
    last_sync: String,
}

impl ProviderResourceOut {
    fn render(links: &Links, r: ProviderResource) -> Self {
        let last_sync = time::render(r.sync.last_sync.unwrap_or(r.resource.created));
        Self {
            resource: ResourceOut::render(links, r.resource),
            project_slug: r.sync.project_slug,
            customer_slug: r.sync.customer_slug,
            backend_metadata: object(&r.sync.backend_metadata),
            error_message: r.sync.error_message,
            error_traceback: r.sync.error_traceback,
            last_sync,
        }
    }
}

/// Upstream's `{"status": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusOut {
    status: &'static str,
}

#[utoipa::path(
    get, path = "/api/marketplace-provider-resources/",
    operation_id = "marketplace_provider_resources_list",
    tag = "marketplace-provider-resources",
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
        (status = 200, body = Vec<ProviderResourceOut>, headers(("x-result-count" = i64), ("link" = String))),
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
) -> ApiResult<Paginated<ProviderResourceOut>> {
    let filter = super::resources::filter_from(&q, raw.as_deref())?;
    let request = PageRequest::from_query(&q)?;
    let listed = service::list(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|r| ProviderResourceOut::render(&links, r))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-provider-resources/{uuid}/",
    operation_id = "marketplace_provider_resources_retrieve",
    tag = "marketplace-provider-resources",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = ProviderResourceOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<ProviderResourceOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let found = service::retrieve(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(ProviderResourceOut::render(&links, found)))
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ResourceBackendIdRequest {
    #[schema(max_length = 255, required = false)]
    backend_id: String,
}

#[utoipa::path(
    post, path = "/api/marketplace-provider-resources/{uuid}/set_backend_id/",
    operation_id = "marketplace_provider_resources_set_backend_id",
    tag = "marketplace-provider-resources",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ResourceBackendIdRequest,
    responses(
        (status = 200, body = StatusOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn set_backend_id(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<StatusOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let backend_id = input.text("backend_id", Text::OPTIONAL).unwrap_or_default();
    let checked = deferred(input.finish().map(|()| backend_id))?;
    let status = service::set_backend_id(&state.db, &user, &uuid, checked, state.clock.now_micros()).await?;
    Ok(Json(StatusOut { status }))
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ResourceSetLimitsRequest {
    /// Component type → a whole amount, never negative.
    #[schema(value_type = HashMap<String, u64>)]
    limits: ResourceLimits,
}

/// The limits the cluster enforces replace the resource's; no order is placed.
#[utoipa::path(
    post, path = "/api/marketplace-provider-resources/{uuid}/set_limits/",
    operation_id = "marketplace_provider_resources_set_limits",
    tag = "marketplace-provider-resources",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ResourceSetLimitsRequest,
    responses(
        (status = 200, body = StatusOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn set_limits(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<StatusOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let limits = input.limits("limits", Need::Required).unwrap_or_default();
    let checked = deferred(input.finish().map(|()| limits))?;
    let status = service::set_limits(&state.db, &user, &uuid, checked, state.clock.now_micros()).await?;
    Ok(Json(StatusOut { status }))
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ResourceBackendMetadataRequest {
    #[schema(value_type = Object)]
    backend_metadata: Value,
}

#[utoipa::path(
    post, path = "/api/marketplace-provider-resources/{uuid}/set_backend_metadata/",
    operation_id = "marketplace_provider_resources_set_backend_metadata",
    tag = "marketplace-provider-resources",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ResourceBackendMetadataRequest,
    responses(
        (status = 200, body = StatusOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn set_backend_metadata(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<StatusOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    if !input.has("backend_metadata") {
        input.present("backend_metadata", Need::Required);
    }
    let metadata = input.object("backend_metadata").map(|m| Value::Object(m).to_string());
    let checked = deferred(input.finish().map(|()| metadata.unwrap_or_else(|| "{}".into())))?;
    let status = service::set_backend_metadata(&state.db, &user, &uuid, checked, state.clock.now_micros()).await?;
    Ok(Json(StatusOut { status }))
}

/// Back to OK from Erred (an OK resource stays OK); 409 in any other state.
#[utoipa::path(
    post, path = "/api/marketplace-provider-resources/{uuid}/set_as_ok/",
    operation_id = "marketplace_provider_resources_set_as_ok",
    tag = "marketplace-provider-resources",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "No response body"),
        ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn set_as_ok(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    service::set_as_ok(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(StatusCode::OK)
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ResourceSetStateErredRequest {
    #[schema(required = false)]
    error_message: String,
    #[schema(required = false)]
    error_traceback: String,
}

/// To Erred from OK (an Erred resource stays Erred), with the agent's error; 409 in any other
/// state.
#[utoipa::path(
    post, path = "/api/marketplace-provider-resources/{uuid}/set_as_erred/",
    operation_id = "marketplace_provider_resources_set_as_erred",
    tag = "marketplace-provider-resources",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ResourceSetStateErredRequest,
    responses(
        (status = 200, description = "No response body"),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn set_as_erred(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let message = input
        .text("error_message", Text::OPTIONAL.max(100_000))
        .unwrap_or_default();
    let traceback = input
        .text("error_traceback", Text::OPTIONAL.max(1_000_000))
        .unwrap_or_default();
    let checked = deferred(input.finish().map(|()| (message, traceback)))?;
    service::set_as_erred(&state.db, &user, &uuid, checked, state.clock.now_micros()).await?;
    Ok(StatusCode::OK)
}

/// Records that the agent synced the resource now.
#[utoipa::path(
    post, path = "/api/marketplace-provider-resources/{uuid}/refresh_last_sync/",
    operation_id = "marketplace_provider_resources_refresh_last_sync",
    tag = "marketplace-provider-resources",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "No response body"),
        ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn refresh_last_sync(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    service::refresh_last_sync(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(StatusCode::OK)
}

/// A member of the resource's project, with the account on its offering.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectUserOut {
    /// The user's URL.
    url: String,
    uuid: String,
    username: String,
    full_name: String,
    email: String,
    role: &'static str,
    #[schema(format = DateTime)]
    expiration_time: Option<String>,
    offering_user_username: Option<String>,
    offering_user_state: Option<&'static str>,
}

impl ProjectUserOut {
    fn render(links: &Links, m: TeamMember) -> Self {
        Self {
            url: links.detail("users", &m.user_uuid),
            uuid: m.user_uuid.to_string(),
            username: m.username,
            full_name: m.full_name,
            email: m.email,
            role: m.role,
            expiration_time: m.expiration_time.map(time::render),
            offering_user_username: m.offering_user_username,
            offering_user_state: m.offering_user_state,
        }
    }
}

#[utoipa::path(
    get, path = "/api/marketplace-provider-resources/{uuid}/team/",
    operation_id = "marketplace_provider_resources_team_list",
    tag = "marketplace-provider-resources",
    params(
        ("uuid" = String, Path, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses(
        (status = 200, body = Vec<ProjectUserOut>, headers(("x-result-count" = i64), ("link" = String))),
        ObjectErrors, CommonErrors
    )
)]
async fn team(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<ProjectUserOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let request = PageRequest::from_query(&q)?;
    let listed = service::team(&state.db, &user, &uuid, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|m| ProjectUserOut::render(&links, m))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct MemberSyncStatusReportRequest {
    statuses: Vec<MemberSyncStatusEntryRequest>,
}

/// One role grant: its user (by `username` or `user_uuid`), scope, role and state.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct MemberSyncStatusEntryRequest {
    #[schema(required = false)]
    username: String,
    #[schema(value_type = String, format = Uuid, required = false)]
    user_uuid: String,
    /// `resource` or `resource_project`.
    scope_type: String,
    #[schema(value_type = String, format = Uuid, required = false)]
    resource_project_uuid: String,
    #[schema(min_length = 1, max_length = 255)]
    role_name: String,
    /// `pending`, `synced`, `error` or `missing_in_idp`.
    state: String,
    #[schema(required = false)]
    message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberSyncStatusReportResult {
    stored: i64,
    /// The users of the entries skipped: none of meterguard's users.
    skipped: Vec<String>,
}

fn choice<T: Copy>(input: &mut Input, field: &str, all: &[T], name: fn(T) -> &'static str) -> Option<T> {
    let given = input.text(field, Text::REQUIRED)?;
    let found = all.iter().copied().find(|v| name(*v) == given);
    if found.is_none() {
        input.errors.add(field, format!("\"{given}\" is not a valid choice."));
    }
    found
}

impl MemberSyncStatusEntryRequest {
    fn parse(mut input: Input) -> ApiResult<SyncStatus> {
        let username = input
            .text("username", Text::OPTIONAL.max(128))
            .filter(|u| !u.is_empty());
        let user_uuid = input.uuid("user_uuid", Need::Optional);
        let scope = choice(&mut input, "scope_type", &SyncScope::ALL, SyncScope::as_str);
        input.uuid("resource_project_uuid", Need::Optional);
        let role_name = input.text("role_name", Text::REQUIRED);
        let state = choice(&mut input, "state", &SyncState::ALL, SyncState::as_str);
        let message = input.text("message", Text::OPTIONAL.max(10_000)).unwrap_or_default();
        if username.is_none() && !input.has("user_uuid") {
            input
                .errors
                .add("non_field_errors", "Either username or user_uuid must be provided.");
        }
        input.finish()?;
        match (scope, role_name, state) {
            (Some(scope), Some(role_name), Some(state)) => Ok(SyncStatus {
                username,
                user_uuid,
                scope,
                role_name,
                state,
                message,
            }),
            _ => Err(super::errors::ApiError::Internal(anyhow::anyhow!(
                "sync status passed validation unset"
            ))),
        }
    }
}

/// Stores which role grants landed on the cluster; an entry naming no known user is skipped.
#[utoipa::path(
    post, path = "/api/marketplace-provider-resources/{uuid}/set_membership_sync_statuses/",
    operation_id = "marketplace_provider_resources_set_membership_sync_statuses",
    tag = "marketplace-provider-resources",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = MemberSyncStatusReportRequest,
    responses(
        (status = 200, body = MemberSyncStatusReportResult),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn set_membership_sync_statuses(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<MemberSyncStatusReportResult>> {
    let uuid: Uuid32 = path_uuid(&raw, NOT_FOUND)?;
    let statuses = list_of(
        &mut input,
        "statuses",
        Need::Required,
        MemberSyncStatusEntryRequest::parse,
    )?;
    let checked = deferred(input.finish().map(|()| statuses.unwrap_or_default()))?;
    let result =
        service::set_membership_sync_statuses(&state.db, &user, &uuid, checked, state.clock.now_micros()).await?;
    Ok(Json(MemberSyncStatusReportResult {
        stored: result.stored,
        skipped: result.skipped,
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        retrieve,
        set_backend_id,
        set_limits,
        set_backend_metadata,
        set_as_ok,
        set_as_erred,
        refresh_last_sync,
        team,
        set_membership_sync_statuses
    ),
    components(schemas(
        ProviderResourceOut,
        StatusOut,
        ResourceBackendIdRequest,
        ResourceSetLimitsRequest,
        ResourceBackendMetadataRequest,
        ResourceSetStateErredRequest,
        ProjectUserOut,
        MemberSyncStatusReportRequest,
        MemberSyncStatusEntryRequest,
        MemberSyncStatusReportResult
    ))
)]
pub struct Doc;
