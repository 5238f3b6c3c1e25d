//! `/api/users/`

use super::auth::{CallerToken, CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, Need, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::query::path_uuid;
use super::request::optional_fields;
use super::AppState;
use crate::authz::Principal;
use crate::domain::page::PageRequest;
use crate::domain::user::{User, UserPatch};
use crate::domain::{time, Uuid32};
use crate::service::users::{self as service, NOT_FOUND};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

const COLLECTION: &str = "users";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/", get(list).post(create))
        .route("/api/users/me/", get(me))
        .route(
            "/api/users/{uuid}/",
            get(retrieve).put(update).patch(partial_update).delete(destroy),
        )
        .route("/api/users/{uuid}/change_password/", post(change_password))
}

/// A user as upstream serialises the keys meterguard models, in upstream's order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserOut {
    url: String,
    uuid: String,
    username: String,
    full_name: String,
    native_name: String,
    job_title: String,
    email: String,
    phone_number: String,
    organization: String,
    description: String,
    is_staff: bool,
    is_active: bool,
    is_support: bool,
    /// Seconds a token lives without use; null: the configured default.
    token_lifetime: Option<i64>,
    registration_method: &'static str,
    #[schema(format = DateTime)]
    date_joined: String,
    first_name: String,
    last_name: String,
}

impl UserOut {
    fn render(links: &Links, u: User) -> Self {
        let f = u.fields;
        Self {
            url: links.detail(COLLECTION, &u.uuid),
            full_name: f.full_name(),
            uuid: u.uuid.to_string(),
            username: f.username,
            native_name: f.native_name,
            job_title: f.job_title,
            email: f.email,
            phone_number: f.phone_number,
            organization: f.organization,
            description: f.description,
            is_staff: f.is_staff,
            is_active: f.is_active,
            is_support: f.is_support,
            token_lifetime: f.token_lifetime,
            registration_method: "default",
            date_joined: time::render(u.date_joined),
            first_name: f.first_name,
            last_name: f.last_name,
        }
    }
}

/// The body of a user create or full update: the fields sent, read with DRF's messages. Only
/// staff set the global flags and the token lifetime; anyone else's are ignored.
#[derive(Debug, ToSchema)]
pub struct UserRequest {
    #[schema(value_type = String, min_length = 1, max_length = 128, pattern = r"^[\w.@+-]+$", required = true)]
    username: Option<String>,
    #[schema(value_type = String, format = Email, min_length = 1, max_length = 320, required = true)]
    email: Option<String>,
    #[schema(nullable = false, max_length = 255)]
    first_name: Option<String>,
    #[schema(nullable = false, max_length = 255)]
    last_name: Option<String>,
    #[schema(nullable = false, max_length = 255)]
    native_name: Option<String>,
    #[schema(nullable = false, max_length = 255)]
    organization: Option<String>,
    #[schema(nullable = false, max_length = 255)]
    job_title: Option<String>,
    #[schema(nullable = false, max_length = 255)]
    phone_number: Option<String>,
    #[schema(nullable = false, max_length = 255)]
    description: Option<String>,
    #[schema(nullable = false)]
    is_staff: Option<bool>,
    #[schema(nullable = false)]
    is_support: Option<bool>,
    #[schema(nullable = false)]
    is_active: Option<bool>,
    #[schema(value_type = Option<i64>, minimum = 60, maximum = 2147483647)]
    token_lifetime: Option<Option<i64>>,
}

impl UserRequest {
    /// Reads the fields sent; their errors stay in `input`.
    fn read(input: &mut Input, caller: &Principal) -> Self {
        let username = input.text("username", Text::REQUIRED.max(128));
        if let Some(name) = &username {
            if !name.chars().all(|c| c.is_alphanumeric() || "_.@+-".contains(c)) {
                input.errors.add(
                    "username",
                    "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
                );
            }
        }
        let email = input.email("email", Need::Required);
        let [first_name, last_name, native_name, organization, job_title, phone_number, description] = [
            "first_name",
            "last_name",
            "native_name",
            "organization",
            "job_title",
            "phone_number",
            "description",
        ]
        .map(|name| input.text(name, Text::OPTIONAL));
        let [is_staff, is_support, is_active] =
            ["is_staff", "is_support", "is_active"].map(|name| caller.is_staff.then(|| input.boolean(name)).flatten());
        let token_lifetime = caller
            .is_staff
            .then(|| input.nullable_integer("token_lifetime", 60, i64::from(i32::MAX)))
            .flatten();
        Self {
            username,
            email,
            first_name,
            last_name,
            native_name,
            organization,
            job_title,
            phone_number,
            description,
            is_staff,
            is_support,
            is_active,
            token_lifetime,
        }
    }

    fn into_patch(self) -> UserPatch {
        UserPatch {
            username: self.username,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            native_name: self.native_name,
            organization: self.organization,
            job_title: self.job_title,
            phone_number: self.phone_number,
            description: self.description,
            is_staff: self.is_staff,
            is_support: self.is_support,
            is_active: self.is_active,
            token_lifetime: self.token_lifetime,
        }
    }

    /// The body's fields, or 400 with every error found.
    fn parse(mut input: Input, caller: &Principal) -> ApiResult<UserPatch> {
        let request = Self::read(&mut input, caller);
        input.finish()?;
        Ok(request.into_patch())
    }
}

/// The body of a PATCH: the fields of `UserRequest`, none required.
#[derive(Debug)]
pub struct PatchedUserRequest(UserPatch);

impl PartialSchema for PatchedUserRequest {
    fn schema() -> RefOr<Schema> {
        optional_fields(UserRequest::schema())
    }
}

impl ToSchema for PatchedUserRequest {}

impl PatchedUserRequest {
    /// Read as the full body; the fields left out are not required, as `Input` knows for a PATCH.
    fn parse(input: Input, caller: &Principal) -> ApiResult<Self> {
        UserRequest::parse(input, caller).map(Self)
    }
}

/// The body of `change_password/`.
#[derive(Debug, ToSchema)]
#[schema(as = PasswordChangeRequest)]
pub struct PasswordRequest {
    #[schema(min_length = 1, max_length = 4096)]
    new_password: String,
}

impl PasswordRequest {
    fn parse(mut input: Input) -> ApiResult<Self> {
        let rule = Text {
            need: Need::Required,
            allow_blank: false,
            max_len: 4096,
        };
        let password = input.text("new_password", rule);
        input.finish()?;
        Ok(Self {
            new_password: password.unwrap_or_default(),
        })
    }
}

/// What `change_password/` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    detail: &'static str,
}

/// Staff and support list every user; anyone else only themselves.
#[utoipa::path(
    get, path = "/api/users/", operation_id = "users_list", tag = "users",
    params(
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
    ),
    responses(
        (status = 200, body = Vec<UserOut>, headers(("x-result-count" = i64), ("link" = String))),
        ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<UserOut>> {
    let page = PageRequest::from_query(&q)?;
    let listed = service::list(&state.db, &user, page).await?;
    Ok(Paginated {
        items: listed.items.into_iter().map(|u| UserOut::render(&links, u)).collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/users/{uuid}/", operation_id = "users_retrieve", tag = "users",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = UserOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<UserOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    Ok(Json(UserOut::render(
        &links,
        service::retrieve(&state.db, &user, &uuid).await?,
    )))
}

#[utoipa::path(
    get, path = "/api/users/me/", operation_id = "users_me_retrieve", tag = "users",
    responses((status = 200, body = UserOut), CommonErrors)
)]
async fn me(State(state): State<AppState>, CurrentUser(user): CurrentUser, links: Links) -> ApiResult<Json<UserOut>> {
    let me = service::me(&state.db, &user).await?.ok_or(ApiError::NotAuthenticated)?;
    Ok(Json(UserOut::render(&links, me)))
}

/// Staff only, refused before the body is read (docs/api.md §1.3).
#[utoipa::path(
    post, path = "/api/users/", operation_id = "users_create", tag = "users",
    request_body = UserRequest,
    responses((status = 201, body = UserOut), InputErrors, ForbiddenErrors, CommonErrors)
)]
async fn create(
    State(state): State<AppState>,
    Staff(user): Staff,
    links: Links,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let patch = UserRequest::parse(input, &user)?;
    let created = service::create_by_staff(&state.db, &user, patch, state.clock.now_micros()).await?;
    Ok((StatusCode::CREATED, Json(UserOut::render(&links, created))))
}

/// Staff, or the user itself.
#[utoipa::path(
    put, path = "/api/users/{uuid}/", operation_id = "users_update", tag = "users",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = UserRequest,
    responses((status = 200, body = UserOut), InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors)
)]
async fn update(
    state: State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<UserOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let patch = UserRequest::parse(input, &user)?;
    save(state, user, links, uuid, patch).await
}

/// Staff, or the user itself.
#[utoipa::path(
    patch, path = "/api/users/{uuid}/", operation_id = "users_partial_update", tag = "users",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PatchedUserRequest,
    responses((status = 200, body = UserOut), InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors)
)]
async fn partial_update(
    state: State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<UserOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let PatchedUserRequest(patch) = PatchedUserRequest::parse(input, &user)?;
    save(state, user, links, uuid, patch).await
}

async fn save(
    State(state): State<AppState>,
    user: Principal,
    links: Links,
    uuid: Uuid32,
    patch: UserPatch,
) -> ApiResult<Json<UserOut>> {
    let updated = service::update(&state.db, &user, &uuid, patch).await?;
    state.tokens.clear();
    Ok(Json(UserOut::render(&links, updated)))
}

/// Staff only; nobody deletes themselves (400).
#[utoipa::path(
    delete, path = "/api/users/{uuid}/", operation_id = "users_destroy", tag = "users",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 204, description = "No response body"), InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors)
)]
async fn destroy(State(state): State<AppState>, Staff(user): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    service::delete(&state.db, &user, &uuid).await?;
    state.tokens.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// Staff, or the user itself; revokes the user's other tokens.
#[utoipa::path(
    post, path = "/api/users/{uuid}/change_password/", operation_id = "users_change_password", tag = "users",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PasswordRequest,
    responses((status = 200, body = PasswordChanged), InputErrors, ForbiddenErrors, ObjectErrors, CommonErrors)
)]
async fn change_password(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CallerToken(token): CallerToken,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<PasswordChanged>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let request = PasswordRequest::parse(input)?;
    service::change_password(&state.db, &user, &token, &uuid, &request.new_password).await?;
    // Revoked tokens stop working here at once; other instances forget them within their
    // cache's lifetime.
    state.tokens.clear();
    Ok(Json(PasswordChanged {
        detail: "Password has been successfully updated.",
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, retrieve, me, create, update, partial_update, destroy, change_password),
    components(schemas(UserOut, UserRequest, PatchedUserRequest, PasswordRequest, PasswordChanged))
)]
pub struct Doc;
