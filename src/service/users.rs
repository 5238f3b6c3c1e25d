//! Users, passwords, logins and tokens (docs/api.md §2).

use super::identity::{hash_password, hash_token, new_token, verify_password};
use super::{ServiceError, ServiceResult};
use crate::authz::Principal;
use crate::domain::page::{Listed, PageRequest};
use crate::domain::user::{TokenOwner, User, UserFields, UserPatch};
use crate::domain::Uuid32;
use crate::store::{self, Db, Tx};

pub const NOT_FOUND: &str = "No User matches the given query.";
const USERNAME_TAKEN: &str = "A user with that username already exists.";

/// Creates a user (with a password when given); returns its id.
pub async fn create(db: &Db, fields: &UserFields, password: Option<&str>, now: i64) -> ServiceResult<i64> {
    let hash = match password {
        Some(p) => Some(hash_password(p).await.map_err(internal)?),
        None => None,
    };
    let mut tx = db.begin().await?;
    ensure_username_free(&mut tx, &fields.username, None).await?;
    let id = store::users::insert(&mut tx, &Uuid32::new_v4(), fields, hash.as_deref(), false, now)
        .await
        .map_err(username_clash)?;
    tx.commit().await?;
    Ok(id)
}

/// Staff create a user through the API: the fields the request sets, active unless it says
/// otherwise, without a password.
pub async fn create_by_staff(db: &Db, caller: &Principal, patch: UserPatch, now: i64) -> ServiceResult<User> {
    if !caller.is_staff {
        return Err(ServiceError::Forbidden);
    }
    let fields = patch.over(UserFields {
        is_active: true,
        ..Default::default()
    });
    let id = create(db, &fields, None, now).await?;
    reread(db, id).await
}

/// Staff and support see every user; anyone else only themselves.
fn sees(caller: &Principal, user_id: i64) -> bool {
    caller.sees_everything() || caller.id == user_id
}

/// The users the caller sees, by username.
pub async fn list(db: &Db, caller: &Principal, page: PageRequest) -> ServiceResult<Listed<User>> {
    let only = (!caller.sees_everything()).then_some(caller.id);
    let page = page.resolve(store::users::count(db.reader(), only).await?)?;
    let items = store::users::list(db.reader(), only, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

/// The user if the caller may see it; 404 otherwise.
pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32) -> ServiceResult<User> {
    store::users::by_uuid(db.reader(), uuid)
        .await?
        .filter(|user| sees(caller, user.id))
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// The caller as a user; `None` when it was deleted since its token was checked.
pub async fn me(db: &Db, caller: &Principal) -> ServiceResult<Option<User>> {
    Ok(store::users::by_id(db.reader(), caller.id).await?)
}

/// The user by uuid, read and locked inside `tx`, if the caller may see it (404 otherwise); only
/// staff and the user itself may change it.
async fn writable(tx: &mut Tx, caller: &Principal, uuid: &Uuid32) -> ServiceResult<User> {
    let user = store::users::by_uuid_locked(tx, uuid)
        .await?
        .filter(|user| sees(caller, user.id))
        .ok_or(ServiceError::NotFound(NOT_FOUND))?;
    if !caller.is_staff && caller.id != user.id {
        return Err(ServiceError::Forbidden);
    }
    Ok(user)
}

/// Updates a user. A user cannot deactivate itself: the last active staff user would lock
/// everyone out of administration.
pub async fn update(db: &Db, caller: &Principal, uuid: &Uuid32, patch: UserPatch) -> ServiceResult<User> {
    let mut tx = db.begin().await?;
    let user = writable(&mut tx, caller, uuid).await?;
    if user.id == caller.id && user.fields.is_active && patch.is_active == Some(false) {
        return Err(ServiceError::Field(
            "is_active",
            "You cannot deactivate yourself.".into(),
        ));
    }
    if let Some(username) = &patch.username {
        ensure_username_free(&mut tx, username, Some(user.id)).await?;
    }
    let fields = patch.over(user.fields);
    store::users::update(&mut tx, user.id, &fields)
        .await
        .map_err(username_clash)?;
    tx.commit().await?;
    reread(db, user.id).await
}

/// Deletes a user (the caller is staff). Nobody deletes itself.
pub async fn delete(db: &Db, caller: &Principal, uuid: &Uuid32) -> ServiceResult<()> {
    if !caller.is_staff {
        return Err(ServiceError::Forbidden);
    }
    let mut tx = db.begin().await?;
    let user = writable(&mut tx, caller, uuid).await?;
    if user.id == caller.id {
        return Err(ServiceError::Rejected("You cannot delete yourself.".into()));
    }
    store::users::delete(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a user's password and revokes its tokens, except `caller_token` (a token hash) when
/// the user changes its own password: whoever held an old token loses it, and the session that
/// made the change goes on.
pub async fn change_password(
    db: &Db,
    caller: &Principal,
    caller_token: &str,
    uuid: &Uuid32,
    password: &str,
) -> ServiceResult<()> {
    let hash = hash_password(password).await.map_err(internal)?;
    let mut tx = db.begin().await?;
    let user = writable(&mut tx, caller, uuid).await?;
    store::users::set_password(&mut tx, user.id, &hash).await?;
    let keep = (user.id == caller.id).then_some(caller_token);
    store::users::revoke_tokens(&mut tx, user.id, keep).await?;
    tx.commit().await?;
    Ok(())
}

async fn reread(db: &Db, id: i64) -> ServiceResult<User> {
    store::users::by_id(db.reader(), id)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

async fn ensure_username_free(tx: &mut Tx, username: &str, current: Option<i64>) -> ServiceResult<()> {
    match store::users::id_by_username(tx, username).await? {
        Some(id) if Some(id) != current => Err(ServiceError::Field("username", USERNAME_TAKEN.into())),
        _ => Ok(()),
    }
}

/// Two requests that took one username at once: the database refuses the second.
fn username_clash(e: sqlx::Error) -> ServiceError {
    if store::is_unique_violation(&e) {
        ServiceError::Field("username", USERNAME_TAKEN.into())
    } else {
        e.into()
    }
}

/// Issues a new token; only its hash is kept, so the key is returned once.
pub async fn issue_token(db: &Db, user_id: i64, now: i64) -> ServiceResult<String> {
    let key = new_token();
    let mut tx = db.begin().await?;
    store::users::insert_token(&mut tx, user_id, &hash_token(&key), now).await?;
    tx.commit().await?;
    Ok(key)
}

/// A token's use is recorded at most this often, so that reads stay free of writes; its
/// lifetime counts from the recorded use, so it may end up to this much early.
pub const TOUCH_EVERY_MICROS: i64 = 60 * 1_000_000;

/// Why a token does not name a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefused {
    /// No such token.
    Invalid,
    /// Unused for longer than its owner's lifetime (`default_lifetime` seconds for owners
    /// without one).
    Expired,
}

/// The owner of a token, by the token's hash, if the token has not expired; a use not recorded
/// within the last `TOUCH_EVERY_MICROS` is recorded now (a failure to record it only shortens
/// the token's life a little, and the request goes on). Whether the owner is active is the
/// caller's to check, on this answer and on the ones it keeps.
pub async fn token_owner(
    db: &Db,
    hash: &str,
    default_lifetime: i64,
    now: i64,
) -> ServiceResult<Result<TokenOwner, TokenRefused>> {
    let Some(mut owner) = store::users::by_token_hash(db.reader(), hash).await? else {
        return Ok(Err(TokenRefused::Invalid));
    };
    let lifetime = owner
        .token_lifetime
        .unwrap_or(default_lifetime)
        .saturating_mul(1_000_000);
    if now > owner.last_used.saturating_add(lifetime) {
        return Ok(Err(TokenRefused::Expired));
    }
    if now - owner.last_used >= TOUCH_EVERY_MICROS {
        match touch_token(db, hash, now).await {
            Ok(()) => owner.last_used = now,
            Err(err) => tracing::warn!(error = %err, "recording a token's use failed"),
        }
    }
    Ok(Ok(owner))
}

/// Records a use of a token unless one within the last minute is recorded.
async fn touch_token(db: &Db, hash: &str, now: i64) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    store::users::touch_token(&mut tx, hash, now, now - TOUCH_EVERY_MICROS).await?;
    tx.commit().await?;
    Ok(())
}

/// Why a password login was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginRefused {
    LockedOut,
    InvalidCredentials,
}

/// How many failed logins lock a (username, client) pair out, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    pub max_failures: i64,
    pub micros: i64,
}

/// Checks a username and password from a client address. Each attempt is counted as a failure
/// before its password is checked, in one statement, and the count is cleared when the password
/// is right: so of many parallel wrong attempts at most `max_failures` get their password
/// checked, on one instance or several, and a crash mid-check counts as a failure.
pub async fn login(
    db: &Db,
    username: &str,
    client_ip: &str,
    password: &str,
    lockout: Lockout,
    now: i64,
) -> ServiceResult<Result<String, LoginRefused>> {
    let mut tx = db.begin().await?;
    let counted = store::users::count_login_attempt(
        &mut tx,
        username,
        client_ip,
        now,
        now - lockout.micros,
        lockout.max_failures,
    )
    .await?;
    tx.commit().await?;
    if counted.is_none() {
        return Ok(Err(LoginRefused::LockedOut));
    }
    let user = store::users::credentials(db.reader(), username).await?;
    let (id, hash) = match user {
        Some((id, hash, true)) => (Some(id), hash),
        _ => (None, None),
    };
    let accepted = verify_password(password, hash).await.map_err(internal)?;
    let (true, Some(id)) = (accepted, id) else {
        return Ok(Err(LoginRefused::InvalidCredentials));
    };
    let key = new_token();
    let mut tx = db.begin().await?;
    store::users::clear_login_failures(&mut tx, username, client_ip).await?;
    store::users::insert_token(&mut tx, id, &hash_token(&key), now).await?;
    tx.commit().await?;
    Ok(Ok(key))
}

fn internal(e: anyhow::Error) -> ServiceError {
    ServiceError::Database(sqlx::Error::Protocol(e.to_string()))
}
