//! `/api/users/`

use super::auth::{CallerToken, CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{Input, Need, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::AppState;
use crate::authz::Principal;
use crate::domain::page::PageRequest;
use crate::domain::{time, Uuid32};
use crate::service::users::{self as service, UserPatch};
use crate::store::{
    self,
    users::{UserFields, UserRow},
};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;

const COLLECTION: &str = "users";
const NOT_FOUND: &str = "No User matches the given query.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/", get(list).post(create))
        .route("/api/users/me/", get(me))
        .route(
            "/api/users/{uuid}/",
            get(retrieve).put(save).patch(save).delete(destroy),
        )
        .route("/api/users/{uuid}/change_password/", post(change_password))
}

#[derive(Debug, Serialize)]
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
    token_lifetime: Option<i64>,
    registration_method: &'static str,
    date_joined: String,
    first_name: String,
    last_name: String,
}

fn render(links: &Links, u: UserRow) -> UserOut {
    let uuid: Uuid32 = u.uuid.parse().unwrap_or_else(|_| Uuid32::new_v4());
    UserOut {
        url: links.detail(COLLECTION, &uuid),
        full_name: u.full_name(),
        uuid: u.uuid,
        username: u.username,
        native_name: u.native_name,
        job_title: u.job_title,
        email: u.email,
        phone_number: u.phone_number,
        organization: u.organization,
        description: u.description,
        is_staff: u.is_staff != 0,
        is_active: u.is_active != 0,
        is_support: u.is_support != 0,
        token_lifetime: u.token_lifetime,
        registration_method: "default",
        date_joined: time::render(u.date_joined),
        first_name: u.first_name,
        last_name: u.last_name,
    }
}

/// Staff and support list every user; anyone else only themselves.
fn only_self(user: &Principal) -> Option<i64> {
    (!user.sees_everything()).then_some(user.id)
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<UserOut>> {
    let request = PageRequest::from_query(&q)?;
    let only = only_self(&user);
    let page = request.resolve(store::users::count(state.db.reader(), only).await?)?;
    let rows = store::users::list(state.db.reader(), only, page.limit(), page.offset()).await?;
    let items = rows.into_iter().map(|u| render(&links, u)).collect();
    Ok(Paginated {
        items,
        page,
        links,
        uri,
    })
}

fn parse_uuid(raw: &str) -> ApiResult<Uuid32> {
    raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))
}

async fn visible(state: &AppState, user: &Principal, raw: &str) -> ApiResult<UserRow> {
    let row = store::users::by_uuid(state.db.reader(), &parse_uuid(raw)?)
        .await?
        .filter(|row| service::sees(user, row.id))
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(row)
}

async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
) -> ApiResult<Json<UserOut>> {
    Ok(Json(render(&links, visible(&state, &user, &raw).await?)))
}

async fn me(State(state): State<AppState>, CurrentUser(user): CurrentUser, links: Links) -> ApiResult<Json<UserOut>> {
    let row = store::users::by_id(state.db.reader(), user.id)
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    Ok(Json(render(&links, row)))
}

async fn create(
    State(state): State<AppState>,
    Staff(_): Staff,
    links: Links,
    JsonBody(mut input): JsonBody,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let patch = read_patch(&mut input, true);
    input.finish()?;
    let fields = patch.over(UserFields {
        is_active: true,
        ..Default::default()
    });
    let id = service::create(&state.db, &fields, None, state.clock.now_micros()).await?;
    let row = store::users::by_id(state.db.reader(), id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok((StatusCode::CREATED, Json(render(&links, row))))
}

/// Reads the writable fields that were sent; only staff may change the global flags.
fn read_patch(input: &mut Input, by_staff: bool) -> UserPatch {
    let mut patch = UserPatch::default();
    if let Some(username) = input.text("username", Text::REQUIRED.max(128)) {
        if !username.chars().all(|c| c.is_alphanumeric() || "_.@+-".contains(c)) {
            input.errors.add(
                "username",
                "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
            );
        }
        patch.username = Some(username);
    }
    patch.email = input.email("email", Need::Required);
    let texts: [(&str, &mut Option<String>); 7] = [
        ("first_name", &mut patch.first_name),
        ("last_name", &mut patch.last_name),
        ("native_name", &mut patch.native_name),
        ("organization", &mut patch.organization),
        ("job_title", &mut patch.job_title),
        ("phone_number", &mut patch.phone_number),
        ("description", &mut patch.description),
    ];
    for (name, slot) in texts {
        *slot = input.text(name, Text::OPTIONAL);
    }
    if by_staff {
        for (name, slot) in [
            ("is_staff", &mut patch.is_staff),
            ("is_support", &mut patch.is_support),
            ("is_active", &mut patch.is_active),
        ] {
            *slot = input.boolean(name);
        }
        patch.token_lifetime = input.nullable_integer("token_lifetime", 60, i64::from(i32::MAX));
    }
    patch
}

async fn save(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<UserOut>> {
    let uuid = parse_uuid(&raw)?;
    let patch = read_patch(&mut input, user.is_staff);
    input.finish()?;
    let id = service::update(&state.db, &user, &uuid, patch)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    state.tokens.clear();
    let row = store::users::by_id(state.db.reader(), id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(Json(render(&links, row)))
}

async fn destroy(State(state): State<AppState>, Staff(user): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let uuid = parse_uuid(&raw)?;
    service::delete(&state.db, &user, &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    state.tokens.clear();
    Ok(StatusCode::NO_CONTENT)
}

async fn change_password(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CallerToken(token): CallerToken,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<serde_json::Value>> {
    let uuid = parse_uuid(&raw)?;
    let password = input.text(
        "new_password",
        Text {
            need: Need::Required,
            allow_blank: false,
            max_len: 4096,
        },
    );
    input.finish()?;
    let password = password.unwrap_or_default();
    service::change_password(&state.db, &user, &token, &uuid, &password)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    // Revoked tokens stop working here at once; other instances forget them within their
    // cache's lifetime.
    state.tokens.clear();
    Ok(Json(
        serde_json::json!({"detail": "Password has been successfully updated."}),
    ))
}
