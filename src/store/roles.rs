use super::{rows, Result, Tx};
use crate::authz::{Principal, Roles};
use crate::domain::roles::{Grant, GrantAuthor, GrantUser, ScopeType};
use crate::domain::{Role, Uuid32};
use sqlx::{AnyPool, FromRow};

pub async fn active_names(
    pool: &AnyPool,
    user_id: i64,
    scope: ScopeType,
    scope_id: i64,
    now: i64,
) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT role FROM user_roles WHERE user_id = $1 AND scope_type = $2 AND scope_id = $3 \
         AND is_active = 1 AND (expiration_time IS NULL OR expiration_time > $4)",
    )
    .bind(user_id)
    .bind(scope.as_str())
    .bind(scope_id)
    .bind(now)
    .fetch_all(pool)
    .await
}

/// The id of the user's active grant of `role` on the scope, if any.
pub async fn find_active(
    tx: &mut Tx,
    user_id: i64,
    role: &str,
    scope: ScopeType,
    scope_id: i64,
    now: i64,
) -> Result<Option<i64>> {
    sqlx::query_scalar(
        "SELECT id FROM user_roles WHERE user_id = $1 AND role = $2 AND scope_type = $3 \
         AND scope_id = $4 AND is_active = 1 AND (expiration_time IS NULL OR expiration_time > $5)",
    )
    .bind(user_id)
    .bind(role)
    .bind(scope.as_str())
    .bind(scope_id)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

/// Deactivates the user's grants of `role` on the scope that expired by `now`, so that a new
/// grant can take their place among the active ones.
pub async fn deactivate_expired(
    tx: &mut Tx,
    user_id: i64,
    role: &str,
    scope: ScopeType,
    scope_id: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE user_roles SET is_active = 0 WHERE user_id = $1 AND role = $2 AND scope_type = $3 \
         AND scope_id = $4 AND is_active = 1 AND expiration_time <= $5",
    )
    .bind(user_id)
    .bind(role)
    .bind(scope.as_str())
    .bind(scope_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct NewGrant<'a> {
    pub user_id: i64,
    pub role: &'a str,
    pub scope: ScopeType,
    pub scope_id: i64,
    pub expiration_time: Option<i64>,
    pub created_by: i64,
}

pub async fn insert(tx: &mut Tx, g: &NewGrant<'_>, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_roles (uuid, user_id, role, scope_type, scope_id, is_active, \
         expiration_time, created, created_by_id) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8)",
    )
    .bind(Uuid32::new_v4().to_string())
    .bind(g.user_id)
    .bind(g.role)
    .bind(g.scope.as_str())
    .bind(g.scope_id)
    .bind(g.expiration_time)
    .bind(now)
    .bind(g.created_by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_expiration(tx: &mut Tx, id: i64, expiration_time: Option<i64>) -> Result<()> {
    sqlx::query("UPDATE user_roles SET expiration_time = $1 WHERE id = $2")
        .bind(expiration_time)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Revoking keeps the row for history, inactive.
pub async fn deactivate(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("UPDATE user_roles SET is_active = 0 WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(FromRow)]
struct GrantRow {
    uuid: String,
    role: String,
    expiration_time: Option<i64>,
    created: i64,
    user_uuid: String,
    user_username: String,
    user_email: String,
    user_first_name: String,
    user_last_name: String,
    created_by_uuid: Option<String>,
    created_by_first_name: Option<String>,
    created_by_last_name: Option<String>,
}

impl TryFrom<GrantRow> for Grant {
    type Error = sqlx::Error;

    fn try_from(row: GrantRow) -> Result<Self> {
        let role = Role::parse(&row.role)
            .ok_or_else(|| sqlx::Error::Decode(format!("user_roles.role: cannot decode {}", row.role).into()))?;
        let created_by = match row.created_by_uuid {
            Some(uuid) => Some(GrantAuthor {
                uuid: rows::uuid("users.uuid", &uuid)?,
                first_name: row.created_by_first_name.unwrap_or_default(),
                last_name: row.created_by_last_name.unwrap_or_default(),
            }),
            None => None,
        };
        Ok(Self {
            uuid: rows::uuid("user_roles.uuid", &row.uuid)?,
            role,
            created: row.created,
            expiration_time: row.expiration_time,
            user: GrantUser {
                uuid: rows::uuid("users.uuid", &row.user_uuid)?,
                username: row.user_username,
                email: row.user_email,
                first_name: row.user_first_name,
                last_name: row.user_last_name,
            },
            created_by,
        })
    }
}

const GRANTS: &str = "FROM user_roles r JOIN users u ON u.id = r.user_id \
     LEFT JOIN users c ON c.id = r.created_by_id \
     WHERE r.scope_type = $1 AND r.scope_id = $2 AND r.is_active = 1 \
     AND (r.expiration_time IS NULL OR r.expiration_time > $3)";

pub async fn count_active(pool: &AnyPool, scope: ScopeType, scope_id: i64, now: i64) -> Result<i64> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) {GRANTS}"))
        .bind(scope.as_str())
        .bind(scope_id)
        .bind(now)
        .fetch_one(pool)
        .await
}

pub async fn list_active(
    pool: &AnyPool,
    scope: ScopeType,
    scope_id: i64,
    now: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Grant>> {
    let rows: Vec<GrantRow> = sqlx::query_as(&format!(
        "SELECT r.uuid, r.role, r.expiration_time, r.created, u.uuid AS user_uuid, \
         u.username AS user_username, u.email AS user_email, u.first_name AS user_first_name, \
         u.last_name AS user_last_name, c.uuid AS created_by_uuid, \
         c.first_name AS created_by_first_name, c.last_name AS created_by_last_name \
         {GRANTS} ORDER BY r.created, r.id LIMIT $4 OFFSET $5"
    ))
    .bind(scope.as_str())
    .bind(scope_id)
    .bind(now)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(Grant::try_from).collect()
}

/// Email addresses of the customer's active owners that have one.
pub async fn owner_emails(tx: &mut Tx, customer_id: i64, now: i64) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT u.email FROM user_roles r JOIN users u ON u.id = r.user_id \
         WHERE r.scope_type = 'customer' AND r.scope_id = $1 AND r.role = 'CUSTOMER.OWNER' \
         AND r.is_active = 1 AND (r.expiration_time IS NULL OR r.expiration_time > $2) \
         AND u.is_active = 1 AND u.email <> '' ORDER BY u.email",
    )
    .bind(customer_id)
    .bind(now)
    .fetch_all(&mut **tx)
    .await
}

/// The caller's active roles on a customer, and on its project when given, for `authz` to decide
/// on. A stored role name this build does not know grants nothing.
pub async fn load(
    pool: &AnyPool,
    principal: &Principal,
    customer_id: i64,
    project_id: Option<i64>,
    now: i64,
) -> Result<Roles> {
    let mut roles = Roles::default();
    for name in active_names(pool, principal.id, ScopeType::Customer, customer_id, now).await? {
        if let Some(Role::Customer(r)) = Role::parse(&name) {
            roles.customer.push(r);
        }
    }
    if let Some(project_id) = project_id {
        for name in active_names(pool, principal.id, ScopeType::Project, project_id, now).await? {
            if let Some(Role::Project(r)) = Role::parse(&name) {
                roles.project.push(r);
            }
        }
    }
    Ok(roles)
}
