//! `/api/users/`

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{Input, Text};
use super::links::Links;
use super::pagination::{PageRequest, Paginated};
use super::AppState;
use crate::authz::Principal;
use crate::domain::{time, Uuid32};
use crate::service::users as service;
use crate::store::{
    self,
    users::{UserFields, UserRow},
    Tx,
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

/// Staff and support see every user; anyone else only themselves.
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

async fn visible(state: &AppState, user: &Principal, raw: &str) -> ApiResult<UserRow> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let row = store::users::by_uuid(state.db.reader(), &uuid)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    match only_self(user) {
        Some(id) if id != row.id => Err(ApiError::NotFound(NOT_FOUND)),
        _ => Ok(row),
    }
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
    let mut fields = UserFields {
        is_active: true,
        ..Default::default()
    };
    read_fields(&state, &mut input, &mut fields, None, true).await?;
    input.finish()?;
    let id = service::create(&state.db, &fields, None, state.clock.now_micros()).await?;
    let row = store::users::by_id(state.db.reader(), id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok((StatusCode::CREATED, Json(render(&links, row))))
}

/// Reads the writable fields into `fields`; only staff may change the global flags.
async fn read_fields(
    state: &AppState,
    input: &mut Input,
    fields: &mut UserFields,
    current_id: Option<i64>,
    by_staff: bool,
) -> ApiResult<()> {
    if let Some(username) = input.text("username", Text::REQUIRED.max(128)) {
        if !username.chars().all(|c| c.is_alphanumeric() || "_.@+-".contains(c)) {
            input.errors.add(
                "username",
                "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
            );
        } else if store::users::id_by_username(state.db.reader(), &username)
            .await?
            .is_some_and(|id| Some(id) != current_id)
        {
            input
                .errors
                .add("username", "A user with that username already exists.");
        }
        fields.username = username;
    }
    if let Some(email) = input.email("email", true) {
        fields.email = email;
    }
    let texts: [(&str, &mut String); 7] = [
        ("first_name", &mut fields.first_name),
        ("last_name", &mut fields.last_name),
        ("native_name", &mut fields.native_name),
        ("organization", &mut fields.organization),
        ("job_title", &mut fields.job_title),
        ("phone_number", &mut fields.phone_number),
        ("description", &mut fields.description),
    ];
    for (name, slot) in texts {
        if let Some(v) = input.text(name, Text::OPTIONAL) {
            *slot = v;
        }
    }
    if by_staff {
        for (name, slot) in [
            ("is_staff", &mut fields.is_staff),
            ("is_support", &mut fields.is_support),
            ("is_active", &mut fields.is_active),
        ] {
            if let Some(v) = input.boolean(name) {
                *slot = v;
            }
        }
        if let Some(v) = input.nullable_integer("token_lifetime", 60, i64::from(i32::MAX)) {
            fields.token_lifetime = v;
        }
    }
    Ok(())
}

async fn save(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<UserOut>> {
    let row = visible(&state, &user, &raw).await?;
    if !user.is_staff && user.id != row.id {
        return Err(ApiError::PermissionDenied);
    }
    let mut fields = UserFields {
        username: row.username.clone(),
        email: row.email.clone(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        native_name: row.native_name.clone(),
        organization: row.organization.clone(),
        job_title: row.job_title.clone(),
        phone_number: row.phone_number.clone(),
        description: row.description.clone(),
        is_staff: row.is_staff != 0,
        is_support: row.is_support != 0,
        is_active: row.is_active != 0,
        token_lifetime: row.token_lifetime,
    };
    read_fields(&state, &mut input, &mut fields, Some(row.id), user.is_staff).await?;
    input.finish()?;
    let mut tx: Tx = state.db.begin().await?;
    store::users::update(&mut tx, row.id, &fields).await?;
    tx.commit().await?;
    state.tokens.clear();
    let row = store::users::by_id(state.db.reader(), row.id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(Json(render(&links, row)))
}

async fn destroy(State(state): State<AppState>, Staff(user): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let row = visible(&state, &user, &raw).await?;
    let mut tx = state.db.begin().await?;
    store::users::delete(&mut tx, row.id).await?;
    tx.commit().await?;
    state.tokens.clear();
    Ok(StatusCode::NO_CONTENT)
}

async fn change_password(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Json<serde_json::Value>> {
    let row = visible(&state, &user, &raw).await?;
    if !user.is_staff && user.id != row.id {
        return Err(ApiError::PermissionDenied);
    }
    let password = input.text(
        "new_password",
        Text {
            required: true,
            allow_blank: false,
            max_len: 4096,
        },
    );
    input.finish()?;
    let password = password.unwrap_or_default();
    service::set_password(&state.db, row.id, &password).await?;
    state.tokens.clear();
    Ok(Json(
        serde_json::json!({"detail": "Password has been successfully updated."}),
    ))
}
