//! `/api/projects/` and its role actions.

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiResult, CommonErrors, ConflictErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, Need, Text};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::path_uuid;
use super::query::{uuid_list_param, uuid_param, verbatim_param};
use super::request::{optional_fields, parsed};
use super::roles::{self, GrantOut, RoleRevoked, UserRoleExpirationTime, UserRoleRequest};
use super::AppState;
use crate::authz::Principal;
use crate::domain::page::PageRequest;
use crate::domain::project::{Project, ProjectFilter, ProjectPatch};
use crate::domain::roles::ScopeType;
use crate::domain::{slug, time, Uuid32};
use crate::service::parsed::Parsed;
use crate::service::projects::{self as service, NewProject, NOT_FOUND};
use crate::service::roles::RoleAction;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

const COLLECTION: &str = "projects";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/projects/", get(list).post(create))
        .route(
            "/api/projects/{uuid}/",
            get(retrieve).put(update).patch(partial_update).delete(destroy),
        )
        .route("/api/projects/{uuid}/add_user/", post(add_user))
        .route("/api/projects/{uuid}/update_user/", post(update_user))
        .route("/api/projects/{uuid}/delete_user/", post(delete_user))
        .route("/api/projects/{uuid}/list_users/", get(list_users))
}

/// A project as upstream serialises the keys meterguard models, in upstream's order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Project)]
pub struct ProjectOut {
    url: String,
    uuid: String,
    name: String,
    #[schema(pattern = "^[-a-zA-Z0-9_]+$", max_length = 50)]
    slug: String,
    customer: String,
    customer_uuid: String,
    customer_name: String,
    customer_slug: String,
    customer_native_name: String,
    customer_abbreviation: String,
    description: String,
    #[schema(format = DateTime)]
    created: String,
    backend_id: String,
    #[schema(format = Date)]
    start_date: Option<String>,
    #[schema(format = Date)]
    end_date: Option<String>,
    is_removed: bool,
}

impl ProjectOut {
    fn render(links: &Links, p: Project) -> Self {
        Self {
            url: links.detail(COLLECTION, &p.uuid),
            uuid: p.uuid.to_string(),
            name: p.fields.name,
            slug: p.fields.slug,
            customer: links.detail("customers", &p.customer.uuid),
            customer_uuid: p.customer.uuid.to_string(),
            customer_name: p.customer.name,
            customer_slug: p.customer.slug,
            customer_native_name: p.customer.native_name,
            customer_abbreviation: p.customer.abbreviation,
            description: p.fields.description,
            created: time::render(p.created),
            backend_id: p.fields.backend_id,
            start_date: p.fields.start_date,
            end_date: p.fields.end_date,
            is_removed: false,
        }
    }
}

/// The body of a project create or full update. `customer` is read on an update too, and left
/// as it is: usage totals are kept per customer, so a project never moves. Only staff set the
/// slug; anyone else's is ignored, as upstream's read-only field.
#[derive(Debug, ToSchema)]
pub struct ProjectRequest {
    /// The customer's URL.
    #[schema(value_type = String, required = true)]
    customer: Option<Uuid32>,
    #[schema(value_type = String, min_length = 1, max_length = 500, required = true)]
    name: Option<String>,
    #[schema(nullable = false, max_length = 50, pattern = "^[-a-zA-Z0-9_]+$")]
    slug: Option<String>,
    #[schema(nullable = false, max_length = 2000)]
    description: Option<String>,
    #[schema(nullable = false, max_length = 2000)]
    backend_id: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    start_date: Option<Option<String>>,
    #[schema(value_type = Option<String>, format = Date)]
    end_date: Option<Option<String>>,
}

/// What a project body is read for: `customer` is resolved only when creating.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Create,
    Update,
}

const DATE_FORMAT: &str = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";

impl ProjectRequest {
    /// A create's body. Whether the customer exists, and may be seen, is the use case's to say.
    fn parse_new(input: Input, caller: &Principal) -> Parsed<NewProject> {
        Self::parse(input, caller, Purpose::Create).map(Self::into_new)
    }

    /// An update's body (partial for PATCH).
    fn parse_changes(input: Input, caller: &Principal) -> Parsed<ProjectPatch> {
        Self::parse(input, caller, Purpose::Update).map(Self::into_patch)
    }

    fn parse(mut input: Input, caller: &Principal, purpose: Purpose) -> Parsed<Self> {
        let customer = input
            .present("customer", Need::Required)
            .filter(|_| purpose == Purpose::Create)
            .and_then(|value| match links::resolve(&value, "customers") {
                Ok(uuid) => Some(uuid),
                Err(e) => {
                    input.errors.add("customer", e.message());
                    None
                }
            });
        let name = input.text("name", Text::REQUIRED.max(500));
        let slug = caller
            .is_staff
            .then(|| input.text("slug", Text::OPTIONAL.max(slug::MAX_LEN)))
            .flatten();
        if slug.as_deref().is_some_and(|s| !slug::is_valid(s)) {
            input.errors.add("slug", slug::INVALID);
        }
        let description = input.text("description", Text::OPTIONAL.max(2000));
        let backend_id = input.text("backend_id", Text::OPTIONAL.max(2000));
        let start_date = read_date(&mut input, "start_date");
        let end_date = read_date(&mut input, "end_date");
        let request = Self {
            customer,
            name,
            slug,
            description,
            backend_id,
            start_date,
            end_date,
        };
        parsed(request, input)
    }

    fn into_new(self) -> NewProject {
        NewProject {
            customer: self.customer,
            fields: self.into_patch(),
        }
    }

    fn into_patch(self) -> ProjectPatch {
        ProjectPatch {
            name: self.name,
            slug: self.slug,
            description: self.description,
            backend_id: self.backend_id,
            start_date: self.start_date,
            end_date: self.end_date,
        }
    }
}

/// The body of a PATCH: the fields of `ProjectRequest`, none required.
#[derive(Debug)]
pub struct PatchedProjectRequest(Parsed<ProjectPatch>);

impl PartialSchema for PatchedProjectRequest {
    fn schema() -> RefOr<Schema> {
        optional_fields(ProjectRequest::schema())
    }
}

impl ToSchema for PatchedProjectRequest {}

impl PatchedProjectRequest {
    /// Read as the full body; the fields left out are not required, as `Input` knows for a PATCH.
    fn parse(input: Input, caller: &Principal) -> Self {
        Self(ProjectRequest::parse_changes(input, caller))
    }
}

/// A date field: `YYYY-MM-DD`, or null to clear it.
fn read_date(input: &mut Input, name: &str) -> Option<Option<String>> {
    match input.raw(name).cloned() {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_ok() => Some(Some(s)),
        Some(_) => {
            input.errors.add(name, DATE_FORMAT);
            None
        }
    }
}

#[utoipa::path(
    get, path = "/api/projects/", operation_id = "projects_list", tag = "projects",
    params(
        ("customer" = Option<String>, Query, description = "Customer uuids, separated by commas."),
        ("customer_uuid" = Option<String>, Query, format = Uuid),
        ("name" = Option<String>, Query, description = "Names containing this, in any case."),
        ("name_exact" = Option<String>, Query),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses(
        (status = 200, body = Vec<ProjectOut>, headers(("x-result-count" = i64), ("link" = String))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<ProjectOut>> {
    let page = PageRequest::from_query(&q)?;
    let filter = ProjectFilter {
        customer_uuid: uuids(uuid_param(&q, "customer_uuid")?).pop(),
        customers: uuids(uuid_list_param(&q, "customer")?),
        name_exact: verbatim_param(&q, "name_exact")?,
        name: verbatim_param(&q, "name")?,
    };
    let listed = service::list(&state.db, &user, &filter, page, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|p| ProjectOut::render(&links, p))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

/// A uuid filter's values, which `api::query` checked.
fn uuids(checked: impl IntoIterator<Item = String>) -> Vec<Uuid32> {
    checked.into_iter().filter_map(|v| v.parse().ok()).collect()
}

#[utoipa::path(
    get, path = "/api/projects/{uuid}/", operation_id = "projects_retrieve", tag = "projects",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = ProjectOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<ProjectOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let project = service::retrieve(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(ProjectOut::render(&links, project)))
}

/// Staff and the customer's owners; a customer the caller does not see is reported as missing.
#[utoipa::path(
    post, path = "/api/projects/", operation_id = "projects_create", tag = "projects",
    request_body = ProjectRequest,
    responses((status = 201, body = ProjectOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<ProjectOut>)> {
    let request = ProjectRequest::parse_new(input, &user);
    let project = service::create(&state.db, &user, request, state.clock.now_micros()).await?;
    Ok((StatusCode::CREATED, Json(ProjectOut::render(&links, project))))
}

#[utoipa::path(
    put, path = "/api/projects/{uuid}/", operation_id = "projects_update", tag = "projects",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = ProjectRequest,
    responses(
        (status = 200, body = ProjectOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn update(
    state: State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    path: Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<ProjectOut>> {
    let patch = ProjectRequest::parse_changes(input, &user);
    save(state, user, links, path, patch).await
}

#[utoipa::path(
    patch, path = "/api/projects/{uuid}/", operation_id = "projects_partial_update", tag = "projects",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PatchedProjectRequest,
    responses(
        (status = 200, body = ProjectOut),
        InputErrors, ForbiddenErrors, ObjectErrors, ConflictErrors, CommonErrors
    )
)]
async fn partial_update(
    state: State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    path: Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<ProjectOut>> {
    let PatchedProjectRequest(patch) = PatchedProjectRequest::parse(input, &user);
    save(state, user, links, path, patch).await
}

/// PUT and PATCH: staff, the customer's owners and the project's admins and managers; the body's
/// errors are reported after the project is found and the caller allowed.
async fn save(
    State(state): State<AppState>,
    user: Principal,
    links: Links,
    Path(raw): Path<String>,
    patch: Parsed<ProjectPatch>,
) -> ApiResult<Json<ProjectOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let project = service::update(&state.db, &user, &uuid, patch, state.clock.now_micros()).await?;
    Ok(Json(ProjectOut::render(&links, project)))
}

/// Staff and the customer's owners; a soft delete.
#[utoipa::path(
    delete, path = "/api/projects/{uuid}/", operation_id = "projects_destroy", tag = "projects",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 204, description = "No response body"), ForbiddenErrors, ObjectErrors, CommonErrors)
)]
async fn destroy(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    service::delete(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/api/projects/{uuid}/add_user/", operation_id = "projects_add_user", tag = "projects",
    params(("uuid" = String, Path, format = Uuid)),
    request_body(content = UserRoleRequest, description = "Upstream's UserRoleCreateRequest."),
    responses(
        (status = 201, body = UserRoleExpirationTime),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn add_user(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<UserRoleExpirationTime>)> {
    let out = roles::change(&state, &user, ScopeType::Project, &raw, RoleAction::Grant, input).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    post, path = "/api/projects/{uuid}/update_user/", operation_id = "projects_update_user", tag = "projects",
    params(("uuid" = String, Path, format = Uuid)),
    request_body(content = UserRoleRequest, description = "Upstream's UserRoleUpdateRequest."),
    responses(
        (status = 200, body = UserRoleExpirationTime),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn update_user(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<UserRoleExpirationTime>> {
    let out = roles::change(&state, &user, ScopeType::Project, &raw, RoleAction::Update, input).await?;
    Ok(Json(out))
}

#[utoipa::path(
    post, path = "/api/projects/{uuid}/delete_user/", operation_id = "projects_delete_user", tag = "projects",
    params(("uuid" = String, Path, format = Uuid)),
    request_body(content = UserRoleRequest, description = "Upstream's UserRoleDeleteRequest."),
    responses(
        (status = 200, body = RoleRevoked, description = "Role revoked successfully."),
        InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn delete_user(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<RoleRevoked>> {
    roles::change(&state, &user, ScopeType::Project, &raw, RoleAction::Revoke, input).await?;
    Ok(Json(roles::revoked()))
}

#[utoipa::path(
    get, path = "/api/projects/{uuid}/list_users/", operation_id = "projects_list_users_list", tag = "projects",
    params(
        ("uuid" = String, Path, format = Uuid),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses(
        (status = 200, body = Vec<GrantOut>, headers(("x-result-count" = i64), ("link" = String))),
        ObjectErrors, CommonErrors
    )
)]
async fn list_users(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<GrantOut>> {
    roles::list(&state, &user, ScopeType::Project, &raw, links, uri, &q).await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        retrieve,
        create,
        update,
        partial_update,
        destroy,
        add_user,
        update_user,
        delete_user,
        list_users
    ),
    components(schemas(ProjectOut, ProjectRequest, PatchedProjectRequest))
)]
pub struct Doc;
