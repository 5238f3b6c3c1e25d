//! `/api/marketplace-site-agent-identities/` and `/api/marketplace-site-agent-services/`: the
//! Waldur Site Agent registers itself per offering, then its services (modes) and their
//! processors at each cycle; an operator reads which agent last reported for which offering, and
//! when (docs/site-agent.md).

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{python_type, Input, Need, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::query::{path_uuid, text_param, uuid_param};
use super::request::deferred;
use super::AppState;
use crate::domain::page::PageRequest;
use crate::domain::site_agent::{
    AgentIdentity, AgentProcessor, AgentService, Dependency, IdentityFields, IdentityFilter, ProcessorFields,
    ServiceFilter,
};
use crate::domain::time;
use crate::service::site_agent::{self as service, IdentityRequest, ServiceRequest};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

const IDENTITIES: &str = "marketplace-site-agent-identities";
const SERVICES: &str = "marketplace-site-agent-services";
const PROCESSORS: &str = "marketplace-site-agent-processors";
/// A registered service is active: meterguard keeps no statistics that would make it idle.
const ACTIVE: &str = "Active";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            &format!("/api/{IDENTITIES}/"),
            get(list_identities).post(create_identity),
        )
        .route(
            &format!("/api/{IDENTITIES}/{{uuid}}/"),
            get(retrieve_identity).put(update_identity).delete(destroy_identity),
        )
        .route(
            &format!("/api/{IDENTITIES}/{{uuid}}/register_service/"),
            post(register_service),
        )
        .route(&format!("/api/{SERVICES}/"), get(list_services))
        .route(&format!("/api/{SERVICES}/{{uuid}}/"), get(retrieve_service))
        .route(
            &format!("/api/{SERVICES}/{{uuid}}/register_processor/"),
            post(register_processor),
        )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyOut {
    package: String,
    version: String,
}

/// An agent identity as upstream serialises it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentIdentityOut {
    uuid: String,
    url: String,
    /// The offering's uuid.
    offering: String,
    /// The uuid of the user who registered it.
    created_by: Option<String>,
    name: String,
    version: Option<String>,
    dependencies: Vec<DependencyOut>,
    config_file_path: Option<String>,
    config_file_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, format = DateTime)]
    last_restarted: Option<String>,
    #[schema(format = DateTime)]
    created: String,
    #[schema(format = DateTime)]
    modified: String,
    services: Vec<NestedServiceOut>,
}

impl AgentIdentityOut {
    fn render(links: &Links, i: AgentIdentity) -> Self {
        Self {
            url: links.detail(IDENTITIES, &i.uuid),
            uuid: i.uuid.to_string(),
            offering: i.offering_uuid.to_string(),
            created_by: i.created_by_uuid.map(|u| u.to_string()),
            name: i.name,
            version: i.version,
            dependencies: i
                .dependencies
                .into_iter()
                .map(|d| DependencyOut {
                    package: d.package,
                    version: d.version,
                })
                .collect(),
            config_file_path: i.config_file_path,
            config_file_content: i.config_file_content,
            last_restarted: i.last_restarted.map(time::render),
            created: time::render(i.created),
            modified: time::render(i.modified),
            services: i
                .services
                .into_iter()
                .map(|s| NestedServiceOut::render(links, s))
                .collect(),
        }
    }
}

/// A service inside its identity.
#[derive(Debug, Serialize, ToSchema)]
pub struct NestedServiceOut {
    uuid: String,
    url: String,
    name: String,
    mode: Option<String>,
    /// Always `Active`.
    state: &'static str,
    #[schema(format = DateTime)]
    created: String,
    /// When the agent last registered it.
    #[schema(format = DateTime)]
    modified: String,
}

impl NestedServiceOut {
    fn render(links: &Links, s: AgentService) -> Self {
        Self {
            url: links.detail(SERVICES, &s.uuid),
            uuid: s.uuid.to_string(),
            name: s.name,
            mode: s.mode,
            state: ACTIVE,
            created: time::render(s.created),
            modified: time::render(s.modified),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentServiceOut {
    uuid: String,
    url: String,
    /// The identity's uuid.
    identity: String,
    identity_name: String,
    name: String,
    mode: Option<String>,
    /// Always `Active`.
    state: &'static str,
    #[schema(format = DateTime)]
    created: String,
    /// When the agent last registered it.
    #[schema(format = DateTime)]
    modified: String,
    processors: Vec<NestedProcessorOut>,
}

impl AgentServiceOut {
    fn render(links: &Links, s: AgentService) -> Self {
        Self {
            url: links.detail(SERVICES, &s.uuid),
            uuid: s.uuid.to_string(),
            identity: s.identity_uuid.to_string(),
            identity_name: s.identity_name,
            name: s.name,
            mode: s.mode,
            state: ACTIVE,
            created: time::render(s.created),
            modified: time::render(s.modified),
            processors: s
                .processors
                .into_iter()
                .map(|p| NestedProcessorOut::render(links, p))
                .collect(),
        }
    }
}

/// A processor inside its service.
#[derive(Debug, Serialize, ToSchema)]
pub struct NestedProcessorOut {
    uuid: String,
    url: String,
    name: String,
    /// When the agent last registered it, right before it processed the offering.
    #[schema(format = DateTime)]
    last_run: Option<String>,
    backend_type: String,
    backend_version: Option<String>,
    #[schema(format = DateTime)]
    created: String,
    #[schema(format = DateTime)]
    modified: String,
}

impl NestedProcessorOut {
    fn render(links: &Links, p: AgentProcessor) -> Self {
        Self {
            url: links.detail(PROCESSORS, &p.uuid),
            uuid: p.uuid.to_string(),
            name: p.name,
            last_run: p.last_run.map(time::render),
            backend_type: p.backend_type,
            backend_version: p.backend_version,
            created: time::render(p.created),
            modified: time::render(p.modified),
        }
    }
}

/// A processor, as its registration answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentProcessorOut {
    uuid: String,
    url: String,
    /// The service's uuid.
    service: String,
    service_name: String,
    name: String,
    #[schema(format = DateTime)]
    last_run: Option<String>,
    backend_type: String,
    backend_version: Option<String>,
    #[schema(format = DateTime)]
    created: String,
    #[schema(format = DateTime)]
    modified: String,
}

/// An identity's registration or update: the offering (a uuid) and the agent's details.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AgentIdentityRequest {
    #[schema(value_type = String, format = Uuid)]
    offering: String,
    #[schema(min_length = 1, max_length = 255)]
    name: String,
    #[schema(nullable, required = false, max_length = 255)]
    version: Option<String>,
    #[schema(required = false)]
    dependencies: Vec<DependencyRequest>,
    #[schema(nullable, required = false, max_length = 255)]
    config_file_path: Option<String>,
    #[schema(nullable, required = false)]
    config_file_content: Option<String>,
    #[schema(value_type = String, format = DateTime, required = false)]
    last_restarted: Option<String>,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct DependencyRequest {
    #[schema(min_length = 1, max_length = 255)]
    package: String,
    #[schema(min_length = 1, max_length = 255)]
    version: String,
}

const DATETIME_FORMAT: &str =
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/// A text field that may be null or absent (both: none).
fn nullable_text(input: &mut Input, field: &str, max: usize) -> Option<String> {
    match input.raw(field).cloned() {
        None | Some(Value::Null) => None,
        Some(_) => input.text(field, Text::OPTIONAL.max(max)),
    }
}

/// An optional datetime field, as DRF's DateTimeField reads it.
pub(super) fn datetime(input: &mut Input, field: &str) -> Option<i64> {
    match input.present(field, Need::Optional)? {
        Value::String(s) => match time::parse_datetime(&s) {
            Some(t) => Some(time::to_micros(t)),
            None => {
                input.errors.add(field, DATETIME_FORMAT);
                None
            }
        },
        _ => {
            input.errors.add(field, DATETIME_FORMAT);
            None
        }
    }
}

/// Each item of a list field read by `parse` from its own object, or DRF's nested errors: one
/// object per item, empty for the good ones. `Ok(None)` (with the field's errors) when it fails.
pub(super) fn list_of<T>(
    input: &mut Input,
    field: &str,
    need: Need,
    parse: impl Fn(Input) -> ApiResult<T>,
) -> ApiResult<Option<Vec<T>>> {
    let Some(value) = input.present(field, need) else {
        return Ok(None);
    };
    let Value::Array(items) = value else {
        input.errors.add(
            field,
            format!("Expected a list of items but got type \"{}\".", python_type(&value)),
        );
        return Ok(None);
    };
    let mut parsed = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let outcome = match item {
            Value::Object(map) => match parse(Input::new(map)) {
                Err(ApiError::Validation(body)) => Err(body),
                other => Ok(other?),
            },
            other => Err(json!({"non_field_errors": [format!(
                "Invalid data. Expected a dictionary, but got {}.", python_type(&other)
            )]})),
        };
        match outcome {
            Ok(v) => {
                parsed.push(v);
                errors.push(json!({}));
            }
            Err(e) => errors.push(e),
        }
    }
    if parsed.len() == errors.len() {
        Ok(Some(parsed))
    } else {
        input.errors.set(field, Value::Array(errors));
        Ok(None)
    }
}

impl AgentIdentityRequest {
    fn parse(mut input: Input) -> ApiResult<IdentityRequest> {
        let offering = input.uuid("offering", Need::Required);
        let name = input.text("name", Text::REQUIRED);
        let version = nullable_text(&mut input, "version", 255);
        let dependencies = match input.raw("dependencies") {
            None => Some(Vec::new()),
            Some(_) => list_of(&mut input, "dependencies", Need::Optional, |mut item| {
                let package = item.text("package", Text::REQUIRED);
                let version = item.text("version", Text::REQUIRED);
                item.finish()?;
                Ok(Dependency {
                    package: package.unwrap_or_default(),
                    version: version.unwrap_or_default(),
                })
            })?,
        };
        let config_file_path = nullable_text(&mut input, "config_file_path", 255);
        let config_file_content = match input.raw("config_file_content").cloned() {
            None | Some(Value::Null) => None,
            Some(_) => input.text("config_file_content", Text::OPTIONAL.max(1_000_000)),
        };
        let last_restarted = datetime(&mut input, "last_restarted");
        input.finish()?;
        let (Some(offering), Some(name)) = (offering, name) else {
            return Err(ApiError::Internal(anyhow::anyhow!("identity passed validation unset")));
        };
        Ok(IdentityRequest {
            offering,
            fields: IdentityFields {
                name,
                version,
                dependencies: dependencies.unwrap_or_default(),
                config_file_path,
                config_file_content,
                last_restarted,
            },
        })
    }
}

/// A service's registration.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AgentServiceCreateRequest {
    #[schema(min_length = 1, max_length = 150)]
    name: String,
    #[schema(nullable, required = false, max_length = 100)]
    mode: Option<String>,
}

impl AgentServiceCreateRequest {
    fn parse(mut input: Input) -> ApiResult<ServiceRequest> {
        let name = input.text("name", Text::REQUIRED.max(150));
        let mode = nullable_text(&mut input, "mode", 100);
        input.finish()?;
        Ok(ServiceRequest {
            name: name.unwrap_or_default(),
            mode,
        })
    }
}

/// A processor's registration.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AgentProcessorCreateRequest {
    #[schema(min_length = 1, max_length = 150)]
    name: String,
    #[schema(min_length = 1, max_length = 100)]
    backend_type: String,
    #[schema(nullable, required = false, max_length = 100)]
    backend_version: Option<String>,
}

impl AgentProcessorCreateRequest {
    fn parse(mut input: Input) -> ApiResult<ProcessorFields> {
        let name = input.text("name", Text::REQUIRED.max(150));
        let backend_type = input.text("backend_type", Text::REQUIRED.max(100));
        let backend_version = nullable_text(&mut input, "backend_version", 100);
        input.finish()?;
        Ok(ProcessorFields {
            name: name.unwrap_or_default(),
            backend_type: backend_type.unwrap_or_default(),
            backend_version,
        })
    }
}

#[utoipa::path(
    get, path = "/api/marketplace-site-agent-identities/",
    operation_id = "marketplace_site_agent_identities_list",
    tag = "marketplace-site-agent-identities",
    params(
        ("name" = Option<String>, Query),
        ("offering_uuid" = Option<String>, Query, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses(
        (status = 200, body = Vec<AgentIdentityOut>, headers(("x-result-count" = i64), ("link" = String))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list_identities(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<AgentIdentityOut>> {
    let filter = IdentityFilter {
        name: text_param(&q, "name")?,
        offering_uuid: uuid_param(&q, "offering_uuid")?,
    };
    let request = PageRequest::from_query(&q)?;
    let listed = service::list_identities(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|i| AgentIdentityOut::render(&links, i))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-site-agent-identities/{uuid}/",
    operation_id = "marketplace_site_agent_identities_retrieve",
    tag = "marketplace-site-agent-identities",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = AgentIdentityOut), ObjectErrors, CommonErrors)
)]
async fn retrieve_identity(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<AgentIdentityOut>> {
    let uuid = path_uuid(&raw, service::IDENTITY_NOT_FOUND)?;
    let identity = service::retrieve_identity(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(AgentIdentityOut::render(&links, identity)))
}

/// Staff, or an owner or manager of the offering's provider (docs/site-agent.md).
#[utoipa::path(
    post, path = "/api/marketplace-site-agent-identities/",
    operation_id = "marketplace_site_agent_identities_create",
    tag = "marketplace-site-agent-identities",
    request_body = AgentIdentityRequest,
    responses((status = 201, body = AgentIdentityOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create_identity(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<AgentIdentityOut>)> {
    let request = AgentIdentityRequest::parse(input)?;
    let identity = service::create_identity(&state.db, &user, request, state.clock.now_micros()).await?;
    Ok((StatusCode::CREATED, Json(AgentIdentityOut::render(&links, identity))))
}

/// Replaces the identity's fields, as the agent does at each start.
#[utoipa::path(
    put, path = "/api/marketplace-site-agent-identities/{uuid}/",
    operation_id = "marketplace_site_agent_identities_update",
    tag = "marketplace-site-agent-identities",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = AgentIdentityRequest,
    responses(
        (status = 200, body = AgentIdentityOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn update_identity(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<AgentIdentityOut>> {
    let uuid = path_uuid(&raw, service::IDENTITY_NOT_FOUND)?;
    let request = deferred(AgentIdentityRequest::parse(input))?;
    let identity = service::update_identity(&state.db, &user, &uuid, request, state.clock.now_micros()).await?;
    Ok(Json(AgentIdentityOut::render(&links, identity)))
}

/// Removes the identity with its services and processors.
#[utoipa::path(
    delete, path = "/api/marketplace-site-agent-identities/{uuid}/",
    operation_id = "marketplace_site_agent_identities_destroy",
    tag = "marketplace-site-agent-identities",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "No response body"),
        ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn destroy_identity(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, service::IDENTITY_NOT_FOUND)?;
    service::delete_identity(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Registers a service under the identity (201), or refreshes the one of that name (200).
#[utoipa::path(
    post, path = "/api/marketplace-site-agent-identities/{uuid}/register_service/",
    operation_id = "marketplace_site_agent_identities_register_service",
    tag = "marketplace-site-agent-identities",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = AgentServiceCreateRequest,
    responses(
        (status = 200, body = AgentServiceOut),
        (status = 201, body = AgentServiceOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn register_service(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<AgentServiceOut>)> {
    let uuid = path_uuid(&raw, service::IDENTITY_NOT_FOUND)?;
    let request = deferred(AgentServiceCreateRequest::parse(input))?;
    let (registered, created) =
        service::register_service(&state.db, &user, &uuid, request, state.clock.now_micros()).await?;
    Ok((
        created_or_ok(created),
        Json(AgentServiceOut::render(&links, registered)),
    ))
}

fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

#[utoipa::path(
    get, path = "/api/marketplace-site-agent-services/",
    operation_id = "marketplace_site_agent_services_list",
    tag = "marketplace-site-agent-services",
    params(
        ("identity_uuid" = Option<String>, Query, format = Uuid),
        ("offering_uuid" = Option<String>, Query, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses(
        (status = 200, body = Vec<AgentServiceOut>, headers(("x-result-count" = i64), ("link" = String))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list_services(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<AgentServiceOut>> {
    let filter = ServiceFilter {
        identity_uuid: uuid_param(&q, "identity_uuid")?,
        offering_uuid: uuid_param(&q, "offering_uuid")?,
    };
    let request = PageRequest::from_query(&q)?;
    let listed = service::list_services(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|s| AgentServiceOut::render(&links, s))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-site-agent-services/{uuid}/",
    operation_id = "marketplace_site_agent_services_retrieve",
    tag = "marketplace-site-agent-services",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = AgentServiceOut), ObjectErrors, CommonErrors)
)]
async fn retrieve_service(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<AgentServiceOut>> {
    let uuid = path_uuid(&raw, service::SERVICE_NOT_FOUND)?;
    let found = service::retrieve_service(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(AgentServiceOut::render(&links, found)))
}

/// Registers a processor under the service (201), or refreshes the one of that name (200); either
/// way its `last_run` becomes now.
#[utoipa::path(
    post, path = "/api/marketplace-site-agent-services/{uuid}/register_processor/",
    operation_id = "marketplace_site_agent_services_register_processor",
    tag = "marketplace-site-agent-services",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = AgentProcessorCreateRequest,
    responses(
        (status = 200, body = AgentProcessorOut),
        (status = 201, body = AgentProcessorOut),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn register_processor(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<AgentProcessorOut>)> {
    let uuid = path_uuid(&raw, service::SERVICE_NOT_FOUND)?;
    let request = deferred(AgentProcessorCreateRequest::parse(input))?;
    let (p, owner, created) =
        service::register_processor(&state.db, &user, &uuid, request, state.clock.now_micros()).await?;
    let out = AgentProcessorOut {
        url: links.detail(PROCESSORS, &p.uuid),
        uuid: p.uuid.to_string(),
        service: owner.uuid.to_string(),
        service_name: owner.name,
        name: p.name,
        last_run: p.last_run.map(time::render),
        backend_type: p.backend_type,
        backend_version: p.backend_version,
        created: time::render(p.created),
        modified: time::render(p.modified),
    };
    Ok((created_or_ok(created), Json(out)))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_identities,
        retrieve_identity,
        create_identity,
        update_identity,
        destroy_identity,
        register_service,
        list_services,
        retrieve_service,
        register_processor
    ),
    components(schemas(
        AgentIdentityOut,
        DependencyOut,
        NestedServiceOut,
        AgentServiceOut,
        NestedProcessorOut,
        AgentProcessorOut,
        AgentIdentityRequest,
        DependencyRequest,
        AgentServiceCreateRequest,
        AgentProcessorCreateRequest
    ))
)]
pub struct Doc;
