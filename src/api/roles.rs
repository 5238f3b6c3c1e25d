//! The role actions customers and projects share: `add_user/`, `update_user/`, `delete_user/`,
//! `list_users/` (docs/api.md §3.3). Each resource serves them under its own paths.

use super::errors::ApiResult;
use super::input::{Input, Need, Text};
use super::links::Links;
use super::pagination::Paginated;
use super::request::parsed;
use super::AppState;
use crate::authz::Principal;
use crate::domain::page::PageRequest;
use crate::domain::roles::{Grant, ScopeType};
use crate::domain::user::full_name;
use crate::domain::{time, Role, Uuid32};
use crate::service::parsed::Parsed;
use crate::service::roles::{self as service, RoleAction, RoleRequest};
use crate::service::{customers, projects};
use axum::http::Uri;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;

/// The body of a role action: the user (a uuid), the role (its name) and, for `add_user/` and
/// `update_user/`, when the role expires (`null`: never).
#[derive(Debug, ToSchema)]
pub struct UserRoleRequest {
    #[schema(value_type = String, format = Uuid, required = true)]
    user: Option<Uuid32>,
    #[schema(value_type = String, min_length = 1, required = true)]
    role: Option<Role>,
    #[schema(value_type = Option<String>, format = DateTime)]
    expiration_time: Option<i64>,
}

const DATETIME_FORMAT: &str =
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

impl UserRoleRequest {
    /// Reads the fields with DRF's messages; whether the user exists is the use case's to say.
    fn parse(mut input: Input, now: i64) -> Parsed<RoleRequest> {
        let user = input.uuid("user", Need::Required);
        let role_name = input.text("role", Text::REQUIRED);
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
        let role = role_name.and_then(|name| {
            let role = Role::parse(&name);
            if role.is_none() {
                input.errors.add("role", "Role is not found.");
            }
            role
        });
        let request = Self {
            user,
            role,
            expiration_time,
        };
        parsed(request, input).map(Self::into_args)
    }

    fn into_args(self) -> RoleRequest {
        RoleRequest {
            user: self.user,
            role: self.role,
            expiration_time: self.expiration_time,
        }
    }
}

/// What `add_user/` and `update_user/` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRoleExpirationTime {
    #[schema(format = DateTime)]
    expiration_time: Option<String>,
}

/// What `delete_user/` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleRevoked {
    detail: &'static str,
}

/// A grant as `list_users/` shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UserRoleDetails)]
pub struct GrantOut {
    uuid: String,
    #[schema(format = DateTime)]
    created: String,
    #[schema(format = DateTime)]
    expiration_time: Option<String>,
    role_name: &'static str,
    role_description: &'static str,
    user_email: String,
    user_full_name: String,
    user_username: String,
    user_uuid: String,
    created_by_full_name: String,
    /// Absent once the user who made the grant is deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by_uuid: Option<String>,
}

impl GrantOut {
    fn render(g: Grant) -> Self {
        Self {
            uuid: g.uuid.to_string(),
            created: time::render(g.created),
            expiration_time: g.expiration_time.map(time::render),
            role_name: g.role.name(),
            role_description: g.role.description(),
            user_email: g.user.email,
            user_full_name: full_name(&g.user.first_name, &g.user.last_name),
            user_username: g.user.username,
            user_uuid: g.user.uuid.to_string(),
            created_by_full_name: g
                .created_by
                .as_ref()
                .map(|a| full_name(&a.first_name, &a.last_name))
                .unwrap_or_default(),
            created_by_uuid: g.created_by.map(|a| a.uuid.to_string()),
        }
    }
}

/// The 404 detail of the scope's collection.
fn not_found(scope: ScopeType) -> &'static str {
    match scope {
        ScopeType::Customer => customers::NOT_FOUND,
        ScopeType::Project => projects::NOT_FOUND,
    }
}

/// Grants, updates or revokes the role the body names on the scope the path names.
pub async fn change(
    state: &AppState,
    caller: &Principal,
    scope: ScopeType,
    raw: &str,
    action: RoleAction,
    input: Input,
) -> ApiResult<UserRoleExpirationTime> {
    let uuid = super::query::path_uuid(raw, not_found(scope))?;
    let now = state.clock.now_micros();
    let request = UserRoleRequest::parse(input, now);
    let expiration_time = service::change(&state.db, caller, scope, &uuid, action, request, now).await?;
    Ok(UserRoleExpirationTime {
        expiration_time: expiration_time.map(time::render),
    })
}

pub fn revoked() -> RoleRevoked {
    RoleRevoked {
        detail: "Role has been revoked.",
    }
}

/// The scope's active grants, a page of them.
pub async fn list(
    state: &AppState,
    caller: &Principal,
    scope: ScopeType,
    raw: &str,
    links: Links,
    uri: Uri,
    q: &HashMap<String, String>,
) -> ApiResult<Paginated<GrantOut>> {
    let uuid = super::query::path_uuid(raw, not_found(scope))?;
    // Checked after the scope is found.
    let page = PageRequest::from_query(q);
    let listed = service::list(&state.db, caller, scope, &uuid, page, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed.items.into_iter().map(GrantOut::render).collect(),
        page: listed.page,
        links,
        uri,
    })
}
