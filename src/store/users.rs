use super::{rows, Result, RowLock, Tx};
use crate::domain::user::{TokenOwner, User, UserFields};
use crate::domain::Uuid32;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, FromRow, Row};

const COLUMNS: &str = "id, uuid, username, email, first_name, last_name, native_name, organization, \
     job_title, phone_number, description, is_staff, is_support, is_active, token_lifetime, date_joined";

/// A row of `COLUMNS`, decoded.
struct Stored(User);

impl FromRow<'_, AnyRow> for Stored {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let uuid: String = row.try_get("uuid")?;
        Ok(Self(User {
            id: row.try_get("id")?,
            uuid: rows::uuid("users.uuid", &uuid)?,
            date_joined: row.try_get("date_joined")?,
            fields: UserFields {
                username: row.try_get("username")?,
                email: row.try_get("email")?,
                first_name: row.try_get("first_name")?,
                last_name: row.try_get("last_name")?,
                native_name: row.try_get("native_name")?,
                organization: row.try_get("organization")?,
                job_title: row.try_get("job_title")?,
                phone_number: row.try_get("phone_number")?,
                description: row.try_get("description")?,
                is_staff: rows::flag("users.is_staff", row.try_get("is_staff")?)?,
                is_support: rows::flag("users.is_support", row.try_get("is_support")?)?,
                is_active: rows::flag("users.is_active", row.try_get("is_active")?)?,
                token_lifetime: row.try_get("token_lifetime")?,
            },
        }))
    }
}

pub async fn insert(
    tx: &mut Tx,
    uuid: &Uuid32,
    f: &UserFields,
    password_hash: Option<&str>,
    is_system: bool,
    now: i64,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO users (uuid, username, email, first_name, last_name, native_name, organization, \
         job_title, phone_number, description, is_staff, is_support, is_active, token_lifetime, \
         password_hash, is_system, date_joined) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(&f.username)
    .bind(&f.email)
    .bind(&f.first_name)
    .bind(&f.last_name)
    .bind(&f.native_name)
    .bind(&f.organization)
    .bind(&f.job_title)
    .bind(&f.phone_number)
    .bind(&f.description)
    .bind(rows::int(f.is_staff))
    .bind(rows::int(f.is_support))
    .bind(rows::int(f.is_active))
    .bind(f.token_lifetime)
    .bind(password_hash)
    .bind(rows::int(is_system))
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn update(tx: &mut Tx, id: i64, f: &UserFields) -> Result<()> {
    sqlx::query(
        "UPDATE users SET username = $1, email = $2, first_name = $3, last_name = $4, \
         native_name = $5, organization = $6, job_title = $7, phone_number = $8, description = $9, \
         is_staff = $10, is_support = $11, is_active = $12, token_lifetime = $13 WHERE id = $14",
    )
    .bind(&f.username)
    .bind(&f.email)
    .bind(&f.first_name)
    .bind(&f.last_name)
    .bind(&f.native_name)
    .bind(&f.organization)
    .bind(&f.job_title)
    .bind(&f.phone_number)
    .bind(&f.description)
    .bind(rows::int(f.is_staff))
    .bind(rows::int(f.is_support))
    .bind(rows::int(f.is_active))
    .bind(f.token_lifetime)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_password(tx: &mut Tx, id: i64, hash: &str) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<User>> {
    let row: Option<Stored> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE uuid = $1 AND is_system = 0"
    ))
    .bind(uuid.to_string())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|Stored(u)| u))
}

/// A user read inside a writing transaction, locked with `lock` (`Db::row_lock`) until it ends.
pub async fn by_uuid_locked(tx: &mut Tx, uuid: &Uuid32) -> Result<Option<User>> {
    let lock = RowLock::Update.clause(tx);
    let row: Option<Stored> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE uuid = $1 AND is_system = 0 {lock}"
    ))
    .bind(uuid.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|Stored(u)| u))
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<User>> {
    let row: Option<Stored> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|Stored(u)| u))
}

/// The id of a user other than the system user, for a reference in a request body.
pub async fn id_by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM users WHERE uuid = $1 AND is_system = 0")
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}

/// A user's id, password hash (if it has one) and whether it is active, for logging in; never
/// the system user.
pub async fn credentials(pool: &AnyPool, username: &str) -> Result<Option<(i64, Option<String>, bool)>> {
    let row: Option<(i64, Option<String>, i64)> =
        sqlx::query_as("SELECT id, password_hash, is_active FROM users WHERE username = $1 AND is_system = 0")
            .bind(username)
            .fetch_optional(pool)
            .await?;
    row.map(|(id, hash, active)| Ok((id, hash, rows::flag("users.is_active", active)?)))
        .transpose()
}

pub async fn count(pool: &AnyPool, only: Option<i64>) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_system = 0 AND ($1 IS NULL OR id = $1)")
        .bind(only)
        .fetch_one(pool)
        .await
}

/// Users ordered by username; `only` restricts the list to one user (non-staff see themselves).
pub async fn list(pool: &AnyPool, only: Option<i64>, limit: i64, offset: i64) -> Result<Vec<User>> {
    let rows: Vec<Stored> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE is_system = 0 AND ($1 IS NULL OR id = $1) \
         ORDER BY username LIMIT $2 OFFSET $3"
    ))
    .bind(only)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|Stored(u)| u).collect())
}

/// The user behind a token hash, with when the token was last used, for lifetime checks.
pub async fn by_token_hash(pool: &AnyPool, hash: &str) -> Result<Option<TokenOwner>> {
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT u.id, u.uuid, u.username, u.is_staff, u.is_support, u.is_active, u.token_lifetime, \
         t.last_used FROM auth_tokens t JOIN users u ON u.id = t.user_id WHERE t.key_hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await?;
    row.map(TokenOwner::try_from).transpose()
}

#[derive(FromRow)]
struct TokenRow {
    id: i64,
    uuid: String,
    username: String,
    is_staff: i64,
    is_support: i64,
    is_active: i64,
    token_lifetime: Option<i64>,
    last_used: i64,
}

impl TryFrom<TokenRow> for TokenOwner {
    type Error = sqlx::Error;

    fn try_from(row: TokenRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            uuid: rows::uuid("users.uuid", &row.uuid)?,
            username: row.username,
            is_staff: rows::flag("users.is_staff", row.is_staff)?,
            is_support: rows::flag("users.is_support", row.is_support)?,
            is_active: rows::flag("users.is_active", row.is_active)?,
            token_lifetime: row.token_lifetime,
            last_used: row.last_used,
        })
    }
}

pub async fn insert_token(tx: &mut Tx, user_id: i64, hash: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO auth_tokens (user_id, key_hash, created, last_used) VALUES ($1, $2, $3, $3)")
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records a use of the token, unless one at or after `used_since` is already recorded (another
/// request or instance got there first); says whether it wrote.
pub async fn touch_token(tx: &mut Tx, hash: &str, now: i64, used_since: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE auth_tokens SET last_used = $1 WHERE key_hash = $2 AND last_used < $3")
        .bind(now)
        .bind(hash)
        .bind(used_since)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes the user's tokens except `keep` (a token hash), if given.
pub async fn revoke_tokens(tx: &mut Tx, user_id: i64, keep: Option<&str>) -> Result<()> {
    sqlx::query("DELETE FROM auth_tokens WHERE user_id = $1 AND ($2 IS NULL OR key_hash <> $2)")
        .bind(user_id)
        .bind(keep)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes up to `limit` tokens unused for longer than their owner's lifetime
/// (`default_lifetime` seconds for owners without one); returns how many.
pub async fn prune_expired_tokens(tx: &mut Tx, default_lifetime: i64, now: i64, limit: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM auth_tokens WHERE id IN (SELECT t.id FROM auth_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.last_used + COALESCE(u.token_lifetime, $1) * 1000000 < $2 LIMIT $3)",
    )
    .bind(default_lifetime)
    .bind(now)
    .bind(limit)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Counts a failed login for (username, client) before its password is checked, in one
/// statement, so that parallel attempts are counted one after the other. A count older than
/// `window_start` starts again at one. Returns the count including this attempt, or `None` when
/// the pair already has `max_failures` within the window (it is locked out; nothing is written).
pub async fn count_login_attempt(
    tx: &mut Tx,
    username: &str,
    client_ip: &str,
    now: i64,
    window_start: i64,
    max_failures: i64,
) -> Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO login_failures (username, client_ip, failures, last_failed_at) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (username, client_ip) DO UPDATE SET \
         failures = CASE WHEN login_failures.last_failed_at <= $4 THEN 1 ELSE login_failures.failures + 1 END, \
         last_failed_at = $3 \
         WHERE login_failures.last_failed_at <= $4 OR login_failures.failures < $5 \
         RETURNING failures",
    )
    .bind(username)
    .bind(client_ip)
    .bind(now)
    .bind(window_start)
    .bind(max_failures)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn clear_login_failures(tx: &mut Tx, username: &str, client_ip: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE username = $1 AND client_ip = $2")
        .bind(username)
        .bind(client_ip)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes up to `limit` failure counts whose lockout window has passed; returns how many.
pub async fn prune_login_failures(tx: &mut Tx, window_start: i64, limit: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM login_failures WHERE (username, client_ip) IN \
         (SELECT username, client_ip FROM login_failures WHERE last_failed_at <= $1 LIMIT $2)",
    )
    .bind(window_start)
    .bind(limit)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

pub async fn id_by_username(tx: &mut Tx, username: &str) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&mut **tx)
        .await
}

/// The built-in user that policy actions are attributed to (created by a migration).
pub async fn system_user_id(tx: &mut Tx) -> Result<i64> {
    sqlx::query_scalar("SELECT id FROM users WHERE is_system = 1 AND username = 'system'")
        .fetch_one(&mut **tx)
        .await
}
