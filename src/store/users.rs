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

/// The principal behind a token hash, with the token's age for lifetime checks.
#[derive(Debug, Clone, FromRow)]
pub struct TokenOwner {
    pub id: i64,
    pub uuid: String,
    pub username: String,
    pub is_staff: i64,
    pub is_support: i64,
    pub is_active: i64,
    pub token_lifetime: Option<i64>,
    pub token_created: i64,
}

pub async fn by_token_hash(pool: &AnyPool, hash: &str) -> Result<Option<TokenOwner>> {
    sqlx::query_as(
        "SELECT u.id, u.uuid, u.username, u.is_staff, u.is_support, u.is_active, u.token_lifetime, \
         t.created AS token_created \
         FROM auth_tokens t JOIN users u ON u.id = t.user_id WHERE t.key_hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
}

pub async fn insert_token(tx: &mut Tx, user_id: i64, hash: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO auth_tokens (user_id, key_hash, created) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn recent_login_failures(pool: &AnyPool, username: &str, since: i64) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE username = $1 AND failed_at > $2")
        .bind(username)
        .bind(since)
        .fetch_one(pool)
        .await
}

pub async fn record_login_failure(tx: &mut Tx, username: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO login_failures (username, failed_at) VALUES ($1, $2)")
        .bind(username)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn clear_login_failures(tx: &mut Tx, username: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn id_by_username(pool: &AnyPool, username: &str) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(pool)
        .await
}

/// The built-in user that policy actions are attributed to (created by a migration).
pub async fn system_user_id(tx: &mut Tx) -> Result<i64> {
    sqlx::query_scalar("SELECT id FROM users WHERE is_system = 1 AND username = 'system'")
        .fetch_one(&mut **tx)
        .await
}
