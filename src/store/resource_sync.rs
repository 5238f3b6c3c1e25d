//! The provider's side of resources (docs/site-agent.md): backend metadata, the last error and
//! the last sync, kept beside the resource's own row; the team the agent syncs accounts for;
//! and the membership sync statuses it reports.

use super::rows::uuid;
use super::{in_list, placeholders, Result, Tx};
use crate::domain::offering_user::OfferingUserState;
use crate::domain::provider_resource::{ResourceSync, SyncStatus, TeamMember};
use crate::domain::Role;
use sqlx::{AnyPool, FromRow};
use std::collections::HashMap;

#[derive(FromRow)]
struct SyncRow {
    id: i64,
    project_slug: String,
    customer_slug: String,
    backend_metadata: Option<String>,
    error_message: Option<String>,
    error_traceback: Option<String>,
    last_sync: Option<i64>,
}

/// What the provider recorded on each of the resources, by resource id (every id gets one).
pub async fn of_resources(pool: &AnyPool, ids: &[i64]) -> Result<HashMap<i64, ResourceSync>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let list = in_list(ids);
    let sql = format!(
        "SELECT r.id, p.slug AS project_slug, c.slug AS customer_slug, s.backend_metadata, s.error_message, \
         s.error_traceback, s.last_sync FROM resources r JOIN projects p ON p.id = r.project_id \
         JOIN customers c ON c.id = p.customer_id LEFT JOIN resource_sync s ON s.resource_id = r.id \
         WHERE r.id IN ({})",
        placeholders(1, list.len())
    );
    let mut q = sqlx::query_as::<_, SyncRow>(&sql);
    for id in list {
        q = q.bind(id);
    }
    Ok(q.fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| {
            let sync = ResourceSync {
                project_slug: r.project_slug,
                customer_slug: r.customer_slug,
                backend_metadata: r.backend_metadata.unwrap_or_else(|| "{}".into()),
                error_message: r.error_message.unwrap_or_default(),
                error_traceback: r.error_traceback.unwrap_or_default(),
                last_sync: r.last_sync,
            };
            (r.id, sync)
        })
        .collect())
}

/// Makes sure the resource has its row, so the updates below have one to change.
async fn ensure(tx: &mut Tx, resource_id: i64) -> Result<()> {
    sqlx::query("INSERT INTO resource_sync (resource_id) VALUES ($1) ON CONFLICT (resource_id) DO NOTHING")
        .bind(resource_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_backend_metadata(tx: &mut Tx, resource_id: i64, metadata: &str) -> Result<()> {
    ensure(tx, resource_id).await?;
    sqlx::query("UPDATE resource_sync SET backend_metadata = $1 WHERE resource_id = $2")
        .bind(metadata)
        .bind(resource_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records the error a resource went Erred with; an empty pair clears it.
pub async fn set_error(tx: &mut Tx, resource_id: i64, message: &str, traceback: &str) -> Result<()> {
    ensure(tx, resource_id).await?;
    sqlx::query("UPDATE resource_sync SET error_message = $1, error_traceback = $2 WHERE resource_id = $3")
        .bind(message)
        .bind(traceback)
        .bind(resource_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_last_sync(tx: &mut Tx, resource_id: i64, now: i64) -> Result<()> {
    ensure(tx, resource_id).await?;
    sqlx::query("UPDATE resource_sync SET last_sync = $1 WHERE resource_id = $2")
        .bind(now)
        .bind(resource_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(FromRow)]
struct MemberRow {
    user_uuid: String,
    username: String,
    first_name: String,
    last_name: String,
    email: String,
    role: String,
    expiration_time: Option<i64>,
    offering_username: Option<String>,
    offering_state: Option<String>,
}

const TEAM: &str = "FROM user_roles ur JOIN users u ON u.id = ur.user_id \
     JOIN resources r ON r.project_id = ur.scope_id \
     LEFT JOIN offering_users ou ON ou.offering_id = r.offering_id AND ou.user_id = u.id \
     WHERE r.id = $1 AND ur.scope_type = 'project' AND ur.is_active = 1 \
     AND (ur.expiration_time IS NULL OR ur.expiration_time > $2)";

pub async fn count_team(pool: &AnyPool, resource_id: i64, now: i64) -> Result<i64> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) {TEAM}"))
        .bind(resource_id)
        .bind(now)
        .fetch_one(pool)
        .await
}

/// The active project roles of the resource's project, each with the member's account on the
/// resource's offering, by username.
pub async fn team(pool: &AnyPool, resource_id: i64, now: i64, limit: i64, offset: i64) -> Result<Vec<TeamMember>> {
    let rows: Vec<MemberRow> = sqlx::query_as(&format!(
        "SELECT u.uuid AS user_uuid, u.username, u.first_name, u.last_name, u.email, ur.role, \
         ur.expiration_time, ou.username AS offering_username, ou.state AS offering_state {TEAM} \
         ORDER BY u.username, ur.id LIMIT $3 OFFSET $4"
    ))
    .bind(resource_id)
    .bind(now)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let role = match Role::parse(&r.role) {
                Some(role @ Role::Project(_)) => role,
                _ => return Err(super::rows::undecodable("user_roles.role", &r.role)),
            };
            let offering_user_state = r
                .offering_state
                .as_deref()
                .map(|s| {
                    OfferingUserState::parse(s)
                        .map(|v| v.as_str())
                        .ok_or_else(|| super::rows::undecodable("offering_users.state", s))
                })
                .transpose()?;
            Ok(TeamMember {
                user_uuid: uuid("users.uuid", &r.user_uuid)?,
                username: r.username,
                full_name: format!("{} {}", r.first_name, r.last_name).trim().to_string(),
                email: r.email,
                role: role.name(),
                expiration_time: r.expiration_time,
                offering_user_username: r.offering_username,
                offering_user_state,
            })
        })
        .collect()
}

/// The user an entry of a sync report names, by username or uuid.
pub async fn user_id(pool: &AnyPool, status: &SyncStatus) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM users WHERE ($1 IS NULL OR username = $1) AND ($2 IS NULL OR uuid = $2) AND ($1 IS NOT NULL OR $2 IS NOT NULL)")
        .bind(status.username.clone())
        .bind(status.user_uuid.map(|u| u.to_string()))
        .fetch_optional(pool)
        .await
}

/// Stores one entry of a sync report, replacing the last one for that grant.
pub async fn store_status(tx: &mut Tx, resource_id: i64, user_id: i64, s: &SyncStatus, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO membership_sync_statuses (resource_id, user_id, scope_type, role_name, state, message, modified) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (resource_id, user_id, scope_type, role_name) \
         DO UPDATE SET state = excluded.state, message = excluded.message, modified = excluded.modified",
    )
    .bind(resource_id)
    .bind(user_id)
    .bind(s.scope.as_str())
    .bind(&s.role_name)
    .bind(s.state.as_str())
    .bind(&s.message)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
