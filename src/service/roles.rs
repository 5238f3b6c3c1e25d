//! Granting, changing and revoking customer and project roles.

use super::{ServiceError, ServiceResult};
use crate::domain::{CustomerRole, Role};
use crate::store::{
    self,
    roles::{NewGrant, ScopeType},
    Db,
};

/// A role change on one scope (a customer or a project).
pub struct RoleChange {
    pub scope: ScopeType,
    pub scope_id: i64,
    pub user_id: i64,
    pub role: Role,
    pub expiration_time: Option<i64>,
    pub by: i64,
    pub by_staff: bool,
}

/// The role fits the scope, and the caller may manage it: an owner could otherwise make anyone
/// an owner, or strip the other owners, so only staff grant, change or revoke ownership.
fn check(change: &RoleChange) -> ServiceResult<()> {
    let fits = matches!(
        (change.scope, change.role),
        (ScopeType::Customer, Role::Customer(_)) | (ScopeType::Project, Role::Project(_))
    );
    if !fits {
        return Err(ServiceError::Rejected("Role is not valid for this scope.".into()));
    }
    if change.role == Role::Customer(CustomerRole::Owner) && !change.by_staff {
        return Err(ServiceError::Forbidden);
    }
    Ok(())
}

pub async fn add(db: &Db, change: &RoleChange, now: i64) -> ServiceResult<()> {
    check(change)?;
    let mut tx = db.begin().await?;
    let name = change.role.name();
    let grant = NewGrant {
        user_id: change.user_id,
        role: name,
        scope: change.scope,
        scope_id: change.scope_id,
        expiration_time: change.expiration_time,
        created_by: change.by,
    };
    // An active grant is unique per user, role and scope (a unique index), which refuses a
    // second grant whether it was there before or added by a request running alongside. A
    // grant that expired makes way for the new one first.
    store::roles::deactivate_expired(&mut tx, change.user_id, name, change.scope, change.scope_id, now).await?;
    store::roles::insert(&mut tx, &grant, now).await.map_err(|e| {
        if store::is_unique_violation(&e) {
            already_granted()
        } else if store::is_foreign_key_violation(&e) {
            // The user was deleted since the request found it.
            ServiceError::Field("user", "User is not found.".into())
        } else {
            e.into()
        }
    })?;
    tx.commit().await?;
    Ok(())
}

fn already_granted() -> ServiceError {
    ServiceError::Rejected("User has already the same role in this scope.".into())
}

pub async fn update(db: &Db, change: &RoleChange, now: i64) -> ServiceResult<()> {
    check(change)?;
    let mut tx = db.begin().await?;
    let grant = store::roles::find_active(
        &mut tx,
        change.user_id,
        change.role.name(),
        change.scope,
        change.scope_id,
        now,
    )
    .await?
    .ok_or_else(|| ServiceError::Rejected("User does not have this role in this scope.".into()))?;
    store::roles::set_expiration(&mut tx, grant, change.expiration_time).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn revoke(db: &Db, change: &RoleChange, now: i64) -> ServiceResult<()> {
    check(change)?;
    let mut tx = db.begin().await?;
    let grant = store::roles::find_active(
        &mut tx,
        change.user_id,
        change.role.name(),
        change.scope,
        change.scope_id,
        now,
    )
    .await?
    .ok_or_else(|| ServiceError::Rejected("User does not have this role in this scope.".into()))?;
    store::roles::deactivate(&mut tx, grant).await?;
    tx.commit().await?;
    Ok(())
}
