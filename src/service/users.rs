//! Creating users, setting passwords and issuing tokens.

use super::identity::{hash_password, hash_token, new_token, verify_password};
use super::{ServiceError, ServiceResult};
use crate::domain::Uuid32;
use crate::store::{self, users::UserFields, Db};

/// Creates a user (with a password when given); returns its id.
pub async fn create(db: &Db, fields: &UserFields, password: Option<&str>, now: i64) -> ServiceResult<i64> {
    let hash = password.map(hash_password).transpose().map_err(internal)?;
    let mut tx = db.begin().await?;
    let id = store::users::insert(&mut tx, &Uuid32::new_v4(), fields, hash.as_deref(), false, now)
        .await
        .map_err(|e| {
            if store::is_unique_violation(&e) {
                ServiceError::Rejected("A user with that username already exists.".into())
            } else {
                e.into()
            }
        })?;
    tx.commit().await?;
    Ok(id)
}

pub async fn set_password(db: &Db, user_id: i64, password: &str) -> ServiceResult<()> {
    let hash = hash_password(password).map_err(internal)?;
    let mut tx = db.begin().await?;
    store::users::set_password(&mut tx, user_id, &hash).await?;
    tx.commit().await?;
    Ok(())
}

/// Issues a new token; only its hash is kept, so the key is returned once.
pub async fn issue_token(db: &Db, user_id: i64, now: i64) -> ServiceResult<String> {
    let key = new_token();
    let mut tx = db.begin().await?;
    store::users::insert_token(&mut tx, user_id, &hash_token(&key), now).await?;
    tx.commit().await?;
    Ok(key)
}

/// Why a password login was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginRefused {
    LockedOut,
    InvalidCredentials,
}

/// Checks a username and password; repeated failures for one username lock it for a while.
pub async fn login(
    db: &Db,
    username: &str,
    password: &str,
    max_failures: i64,
    lockout_micros: i64,
    now: i64,
) -> ServiceResult<Result<String, LoginRefused>> {
    let failures = store::users::recent_login_failures(db.reader(), username, now - lockout_micros).await?;
    if failures >= max_failures {
        return Ok(Err(LoginRefused::LockedOut));
    }
    let user = store::users::credentials(db.reader(), username).await?;
    let accepted = match &user {
        Some((_, Some(hash), active)) if *active != 0 => verify_password(password, hash),
        _ => false,
    };
    let mut tx = db.begin().await?;
    let outcome = match (accepted, user) {
        (true, Some((id, _, _))) => {
            store::users::clear_login_failures(&mut tx, username).await?;
            let key = new_token();
            store::users::insert_token(&mut tx, id, &hash_token(&key), now).await?;
            Ok(key)
        }
        _ => {
            store::users::record_login_failure(&mut tx, username, now).await?;
            Err(LoginRefused::InvalidCredentials)
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

fn internal(e: anyhow::Error) -> ServiceError {
    ServiceError::Database(sqlx::Error::Protocol(e.to_string()))
}
