use super::{Result, Tx};
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub uuid: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub native_name: String,
    pub organization: String,
    pub job_title: String,
    pub phone_number: String,
    pub description: String,
    pub is_staff: i64,
    pub is_support: i64,
    pub is_active: i64,
    pub token_lifetime: Option<i64>,
    pub date_joined: i64,
}

const COLUMNS: &str = "id, uuid, username, email, first_name, last_name, native_name, organization, \
     job_title, phone_number, description, is_staff, is_support, is_active, token_lifetime, date_joined";

impl UserRow {
    /// What a client may set, as the row has it.
    pub fn fields(&self) -> UserFields {
        UserFields {
            username: self.username.clone(),
            email: self.email.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            native_name: self.native_name.clone(),
            organization: self.organization.clone(),
            job_title: self.job_title.clone(),
            phone_number: self.phone_number.clone(),
            description: self.description.clone(),
            is_staff: self.is_staff != 0,
            is_support: self.is_support != 0,
            is_active: self.is_active != 0,
            token_lifetime: self.token_lifetime,
        }
    }

    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_string()
    }
}

/// Everything a client may set on a user.
#[derive(Debug, Clone, Default)]
pub struct UserFields {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub native_name: String,
    pub organization: String,
    pub job_title: String,
    pub phone_number: String,
    pub description: String,
    pub is_staff: bool,
    pub is_support: bool,
    pub is_active: bool,
    pub token_lifetime: Option<i64>,
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
    .bind(i64::from(f.is_staff))
    .bind(i64::from(f.is_support))
    .bind(i64::from(f.is_active))
    .bind(f.token_lifetime)
    .bind(password_hash)
    .bind(i64::from(is_system))
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
    .bind(i64::from(f.is_staff))
    .bind(i64::from(f.is_support))
    .bind(i64::from(f.is_active))
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

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE uuid = $1 AND is_system = 0"
    ))
    .bind(uuid.to_string())
    .fetch_optional(pool)
    .await
}

/// A user read inside a writing transaction, locked with `lock` (`Db::row_lock`) until it ends.
pub async fn by_uuid_locked(tx: &mut Tx, uuid: &Uuid32, lock: &str) -> Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE uuid = $1 AND is_system = 0 {lock}"
    ))
    .bind(uuid.to_string())
    .fetch_optional(&mut **tx)
    .await
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<UserRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The password hash of an active, non-system user, for logging in.
pub async fn credentials(pool: &AnyPool, username: &str) -> Result<Option<(i64, Option<String>, i64)>> {
    sqlx::query_as("SELECT id, password_hash, is_active FROM users WHERE username = $1 AND is_system = 0")
        .bind(username)
        .fetch_optional(pool)
        .await
}

pub async fn count(pool: &AnyPool, only: Option<i64>) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_system = 0 AND ($1 IS NULL OR id = $1)")
        .bind(only)
        .fetch_one(pool)
        .await
}

/// Users ordered by username; `only` restricts the list to one user (non-staff see themselves).
pub async fn list(pool: &AnyPool, only: Option<i64>, limit: i64, offset: i64) -> Result<Vec<UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE is_system = 0 AND ($1 IS NULL OR id = $1) \
         ORDER BY username LIMIT $2 OFFSET $3"
    ))
    .bind(only)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// The principal behind a token hash, with when the token was last used for lifetime checks.
#[derive(Debug, Clone, FromRow)]
pub struct TokenOwner {
    pub id: i64,
    pub uuid: String,
    pub username: String,
    pub is_staff: i64,
    pub is_support: i64,
    pub is_active: i64,
    pub token_lifetime: Option<i64>,
    pub last_used: i64,
}

pub async fn by_token_hash(pool: &AnyPool, hash: &str) -> Result<Option<TokenOwner>> {
    sqlx::query_as(
        "SELECT u.id, u.uuid, u.username, u.is_staff, u.is_support, u.is_active, u.token_lifetime, \
         t.last_used FROM auth_tokens t JOIN users u ON u.id = t.user_id WHERE t.key_hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
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
