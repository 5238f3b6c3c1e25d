//! The role actions customers and projects share: `add_user/`, `update_user/`, `delete_user/`,
//! `list_users/`.

use super::auth::CurrentUser;
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{Input, Need};
use super::links::Links;
use super::pagination::Paginated;
use super::AppState;
use crate::authz::Principal;
use crate::domain::page::PageRequest;
use crate::domain::{time, Role};
use crate::service::roles::{self as service, RoleChange};
use crate::store::{self, roles::ScopeType};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;

/// A customer or project, as far as its role actions need it.
pub trait RoleHolder: Send + Sync + 'static {
    const COLLECTION: &'static str;

    /// The scope if the caller may see it (404 otherwise).
    fn visible(state: &AppState, user: &Principal, raw: &str) -> impl Future<Output = ApiResult<RoleScope>> + Send;

    /// The scope if the caller may manage its roles (404 or 403 otherwise).
    fn manageable(state: &AppState, user: &Principal, raw: &str) -> impl Future<Output = ApiResult<RoleScope>> + Send;
}

/// `add_user/`, `update_user/`, `delete_user/` and `list_users/` under the holder's detail path.
pub fn router<H: RoleHolder>() -> Router<AppState> {
    let base = format!("/api/{}/{{uuid}}", H::COLLECTION);
    Router::new()
        .route(&format!("{base}/add_user/"), post(add_user::<H>))
        .route(&format!("{base}/update_user/"), post(update_user::<H>))
        .route(&format!("{base}/delete_user/"), post(delete_user::<H>))
        .route(&format!("{base}/list_users/"), get(list_users::<H>))
}

async fn add_user<H: RoleHolder>(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let target = H::manageable(&state, &user, &raw).await?;
    let out = change(&state, &user, target, input, RoleAction::Add).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

async fn update_user<H: RoleHolder>(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<Value>> {
    let target = H::manageable(&state, &user, &raw).await?;
    Ok(Json(change(&state, &user, target, input, RoleAction::Update).await?))
}

async fn delete_user<H: RoleHolder>(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<Value>> {
    let target = H::manageable(&state, &user, &raw).await?;
    change(&state, &user, target, input, RoleAction::Delete).await?;
    Ok(Json(json!({"detail": "Role has been revoked."})))
}

async fn list_users<H: RoleHolder>(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<GrantOut>> {
    let target = H::visible(&state, &user, &raw).await?;
    list(&state, target, links, uri, &q).await
}

/// The scope a role action works on, already found visible and manageable by the caller.
pub struct RoleScope {
    pub scope: ScopeType,
    pub scope_id: i64,
}

enum RoleAction {
    Add,
    Update,
    Delete,
}

/// Reads `{user, role, expiration_time?}` and applies the action.
async fn change(
    state: &AppState,
    caller: &Principal,
    target: RoleScope,
    mut input: Input,
    action: RoleAction,
) -> ApiResult<Value> {
    let now = state.clock.now_micros();
    let user_uuid = input.uuid("user", Need::Required);
    let role_name = input.text("role", super::input::Text::REQUIRED);
    let expiration_time = match input.raw("expiration_time").cloned() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match time::parse_datetime(&s) {
            Some(t) if t.timestamp_micros() > now => Some(t.timestamp_micros()),
            Some(_) => {
                input.errors.add(
                    "expiration_time",
                    "Expiration time should be greater than current time.",
                );
                None
            }
            None => {
                input.errors.add("expiration_time", DATETIME_FORMAT);
                None
            }
        },
        Some(_) => {
            input.errors.add("expiration_time", DATETIME_FORMAT);
            None
        }
    };
    let role = role_name.as_deref().map(|name| Role::parse(name).ok_or(()));
    if let Some(Err(())) = role {
        input.errors.add("role", "Role is not found.");
    }
    let user = match &user_uuid {
        Some(uuid) => store::users::by_uuid(state.db.reader(), uuid).await?,
        None => None,
    };
    if user_uuid.is_some() && user.is_none() {
        input.errors.add("user", "User is not found.");
    }
    input.finish()?;
    let (Some(user), Some(Ok(role))) = (user, role) else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "role fields passed validation unset"
        )));
    };
    if !caller.is_staff && user.id == caller.id {
        return Err(ApiError::Validation(
            json!({"non_field_errors": ["User can not manage own role."]}),
        ));
    }
    let change = RoleChange {
        scope: target.scope,
        scope_id: target.scope_id,
        user_id: user.id,
        role,
        expiration_time,
        by: caller.id,
        by_staff: caller.is_staff,
    };
    match action {
        RoleAction::Add => service::add(&state.db, &change, now).await?,
        RoleAction::Update => service::update(&state.db, &change, now).await?,
        RoleAction::Delete => service::revoke(&state.db, &change, now).await?,
    }
    Ok(json!({ "expiration_time": expiration_time.map(time::render) }))
}

const DATETIME_FORMAT: &str =
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

#[derive(Debug, Serialize)]
pub struct GrantOut {
    uuid: String,
    created: String,
    expiration_time: Option<String>,
    role_name: String,
    role_description: &'static str,
    user_email: String,
    user_full_name: String,
    user_username: String,
    user_uuid: String,
    created_by_full_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by_uuid: Option<String>,
}

async fn list(
    state: &AppState,
    target: RoleScope,
    links: Links,
    uri: Uri,
    q: &HashMap<String, String>,
) -> ApiResult<Paginated<GrantOut>> {
    let now = state.clock.now_micros();
    let request = PageRequest::from_query(q)?;
    let total = store::roles::count_active(state.db.reader(), target.scope, target.scope_id, now).await?;
    let page = request.resolve(total)?;
    let rows = store::roles::list_active(
        state.db.reader(),
        target.scope,
        target.scope_id,
        now,
        page.limit(),
        page.offset(),
    )
    .await?;
    let items = rows
        .into_iter()
        .map(|g| GrantOut {
            uuid: g.uuid,
            created: time::render(g.created),
            expiration_time: g.expiration_time.map(time::render),
            role_description: Role::parse(&g.role).map(Role::description).unwrap_or(""),
            role_name: g.role,
            user_email: g.user_email,
            user_full_name: format!("{} {}", g.user_first_name, g.user_last_name).trim().to_string(),
            user_username: g.user_username,
            user_uuid: g.user_uuid,
            created_by_full_name: format!(
                "{} {}",
                g.created_by_first_name.unwrap_or_default(),
                g.created_by_last_name.unwrap_or_default()
            )
            .trim()
            .to_string(),
            created_by_uuid: g.created_by_uuid,
        })
        .collect();
    Ok(Paginated {
        items,
        page,
        links,
        uri,
    })
}
