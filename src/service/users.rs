//! Users, passwords, logins and tokens.

use super::identity::{hash_password, hash_token, new_token, verify_password};
use super::{ServiceError, ServiceResult};
use crate::authz::Principal;
use crate::domain::Uuid32;
use crate::store::{
    self,
    users::{TokenOwner, UserFields, UserRow},
    Db, Tx,
};

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

/// What a user update sets; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserPatch {
    pub username: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub native_name: Option<String>,
    pub organization: Option<String>,
    pub job_title: Option<String>,
    pub phone_number: Option<String>,
    pub description: Option<String>,
    pub is_staff: Option<bool>,
    pub is_support: Option<bool>,
    pub is_active: Option<bool>,
    pub token_lifetime: Option<Option<i64>>,
}

impl UserPatch {
    /// `base` with the fields this patch sets replaced.
    pub fn over(self, base: UserFields) -> UserFields {
        UserFields {
            username: self.username.unwrap_or(base.username),
            email: self.email.unwrap_or(base.email),
            first_name: self.first_name.unwrap_or(base.first_name),
            last_name: self.last_name.unwrap_or(base.last_name),
            native_name: self.native_name.unwrap_or(base.native_name),
            organization: self.organization.unwrap_or(base.organization),
            job_title: self.job_title.unwrap_or(base.job_title),
            phone_number: self.phone_number.unwrap_or(base.phone_number),
            description: self.description.unwrap_or(base.description),
            is_staff: self.is_staff.unwrap_or(base.is_staff),
            is_support: self.is_support.unwrap_or(base.is_support),
            is_active: self.is_active.unwrap_or(base.is_active),
            token_lifetime: self.token_lifetime.unwrap_or(base.token_lifetime),
        }
    }
}

/// Staff and support see every user; anyone else only themselves.
pub fn sees(caller: &Principal, user_id: i64) -> bool {
    caller.sees_everything() || caller.id == user_id
}

/// The user by uuid, read and locked inside `tx`, if the caller may see it; only staff and the
/// user itself may change it.
async fn writable(db: &Db, tx: &mut Tx, caller: &Principal, uuid: &Uuid32) -> ServiceResult<Option<UserRow>> {
    let Some(row) = store::users::by_uuid_locked(tx, uuid, db.row_lock()).await? else {
        return Ok(None);
    };
    if !sees(caller, row.id) {
        return Ok(None);
    }
    if !caller.is_staff && caller.id != row.id {
        return Err(ServiceError::Forbidden);
    }
    Ok(Some(row))
}

/// Updates a user; `None` when the caller may not see it. A user cannot deactivate itself: the
/// last active staff user would lock everyone out of administration.
pub async fn update(db: &Db, caller: &Principal, uuid: &Uuid32, patch: UserPatch) -> ServiceResult<Option<i64>> {
    let mut tx = db.begin().await?;
    let Some(row) = writable(db, &mut tx, caller, uuid).await? else {
        return Ok(None);
    };
    if row.id == caller.id && row.is_active != 0 && patch.is_active == Some(false) {
        return Err(ServiceError::Field(
            "is_active",
            "You cannot deactivate yourself.".into(),
        ));
    }
    if let Some(username) = &patch.username {
        ensure_username_free(&mut tx, username, Some(row.id)).await?;
    }
    let fields = patch.over(row.fields());
    store::users::update(&mut tx, row.id, &fields)
        .await
        .map_err(username_clash)?;
    tx.commit().await?;
    Ok(Some(row.id))
}

/// Deletes a user (the caller is staff); `None` when there is no such user. Nobody deletes itself.
pub async fn delete(db: &Db, caller: &Principal, uuid: &Uuid32) -> ServiceResult<Option<()>> {
    let mut tx = db.begin().await?;
    let Some(row) = writable(db, &mut tx, caller, uuid).await? else {
        return Ok(None);
    };
    if row.id == caller.id {
        return Err(ServiceError::Rejected("You cannot delete yourself.".into()));
    }
    store::users::delete(&mut tx, row.id).await?;
    tx.commit().await?;
    Ok(Some(()))
}

/// Sets a user's password and revokes its tokens, except `caller_token` (a token hash) when
/// the user changes its own password: whoever held an old token loses it, and the session that
/// made the change goes on. `None` when the caller may not see the user.
pub async fn change_password(
    db: &Db,
    caller: &Principal,
    caller_token: &str,
    uuid: &Uuid32,
    password: &str,
) -> ServiceResult<Option<()>> {
    let hash = hash_password(password).await.map_err(internal)?;
    let mut tx = db.begin().await?;
    let Some(row) = writable(db, &mut tx, caller, uuid).await? else {
        return Ok(None);
    };
    store::users::set_password(&mut tx, row.id, &hash).await?;
    let keep = (row.id == caller.id).then_some(caller_token);
    store::users::revoke_tokens(&mut tx, row.id, keep).await?;
    tx.commit().await?;
    Ok(Some(()))
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

/// The owner of a token, by the token's hash.
pub async fn token_owner(db: &Db, hash: &str) -> ServiceResult<Option<TokenOwner>> {
    Ok(store::users::by_token_hash(db.reader(), hash).await?)
}

/// A token's use is recorded at most this often, so that reads stay free of writes; its
/// lifetime counts from the recorded use, so it may end up to this much early.
pub const TOUCH_EVERY_MICROS: i64 = 60 * 1_000_000;

/// Records a use of a token unless one within the last minute is recorded.
pub async fn touch_token(db: &Db, hash: &str, now: i64) -> ServiceResult<()> {
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
        Some((id, hash, active)) if active != 0 => (Some(id), hash),
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
