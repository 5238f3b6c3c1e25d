//! Granting, changing, revoking and listing customer and project roles (docs/api.md §3.3).

use super::parsed::Parsed;
use super::{access, customers, projects, ServiceError, ServiceResult};
use crate::authz::Principal;
use crate::domain::page::{InvalidPage, Listed, PageRequest};
use crate::domain::roles::{Grant, ScopeType};
use crate::domain::{CustomerRole, Role, Uuid32};
use crate::store::{self, roles::NewGrant, Db};
use serde_json::json;

/// What a role action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleAction {
    Grant,
    /// Sets the expiration time of an active grant.
    Update,
    Revoke,
}

/// The body of a role action, as far as it was read: the user and role it names (when
/// well-formed) and the expiration time.
#[derive(Debug, Default)]
pub struct RoleRequest {
    pub user: Option<Uuid32>,
    pub role: Option<Role>,
    pub expiration_time: Option<i64>,
}

/// The grants active on the scope, oldest first, for whoever sees the scope. The scope is looked
/// up before the page is checked, as DRF looks up the object before it paginates.
pub async fn list(
    db: &Db,
    caller: &Principal,
    scope: ScopeType,
    uuid: &Uuid32,
    page: Result<PageRequest, InvalidPage>,
    now: i64,
) -> ServiceResult<Listed<Grant>> {
    let scope_id = match scope {
        ScopeType::Customer => customers::retrieve(db, caller, uuid, now).await?.id,
        ScopeType::Project => projects::retrieve(db, caller, uuid, now).await?.id,
    };
    let page = page?.resolve(store::roles::count_active(db.reader(), scope, scope_id, now).await?)?;
    let items = store::roles::list_active(db.reader(), scope, scope_id, now, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

/// Grants, updates or revokes a role on a customer or project; answers the expiration time
/// it set. In upstream's order: the scope (404), the caller's right to manage its roles (403),
/// the customer's availability, the body (400, with a user that does not exist), the caller's
/// own role, then the role itself.
pub async fn change(
    db: &Db,
    caller: &Principal,
    scope: ScopeType,
    uuid: &Uuid32,
    action: RoleAction,
    mut request: Parsed<RoleRequest>,
    now: i64,
) -> ServiceResult<Option<i64>> {
    let scope_id = manageable(db, caller, scope, uuid, now).await?;
    let user_id = match request.value().user {
        Some(user) => {
            let id = store::users::id_by_uuid(db.reader(), &user).await?;
            if id.is_none() {
                request.refuse("user", "User is not found.");
            }
            id
        }
        None => None,
    };
    let request = request.accept()?;
    let (Some(user_id), Some(role)) = (user_id, request.role) else {
        return Err(ServiceError::Rejected("A role change needs a user and a role.".into()));
    };
    if !caller.is_staff && user_id == caller.id {
        return Err(ServiceError::Invalid(
            json!({"non_field_errors": ["User can not manage own role."]}),
        ));
    }
    if !scope.fits(role) {
        return Err(ServiceError::Rejected("Role is not valid for this scope.".into()));
    }
    // An owner could otherwise make anyone an owner, or strip the other owners: only staff grant,
    // change or revoke ownership.
    if role == Role::Customer(CustomerRole::Owner) && !caller.is_staff {
        return Err(ServiceError::Forbidden);
    }
    let change = RoleChange {
        scope,
        scope_id,
        user_id,
        role,
        expiration_time: request.expiration_time,
        by: caller.id,
    };
    match action {
        RoleAction::Grant => grant(db, &change, now).await?,
        RoleAction::Update => update(db, &change, now).await?,
        RoleAction::Revoke => revoke(db, &change, now).await?,
    }
    Ok(change.expiration_time)
}

/// The id of the scope if the caller may manage its roles: staff, the customer's owners (on the
/// customer and its projects), the project's admins and managers. A blocked or archived
/// customer's roles stay as they are.
async fn manageable(db: &Db, caller: &Principal, scope: ScopeType, uuid: &Uuid32, now: i64) -> ServiceResult<i64> {
    match scope {
        ScopeType::Customer => {
            let customer = customers::retrieve(db, caller, uuid, now).await?;
            if !access::owns_customer(db, caller, customer.id, now).await? {
                return Err(ServiceError::Forbidden);
            }
            if !customer.is_available() {
                return Err(ServiceError::Rejected("Customer is not available.".into()));
            }
            Ok(customer.id)
        }
        ScopeType::Project => {
            let project = projects::retrieve(db, caller, uuid, now).await?;
            if !access::may_manage_consumer(db, caller, project.customer.id, project.id, now).await? {
                return Err(ServiceError::Forbidden);
            }
            Ok(project.id)
        }
    }
}

/// A role change on one scope (a customer or a project), checked.
struct RoleChange {
    scope: ScopeType,
    scope_id: i64,
    user_id: i64,
    role: Role,
    expiration_time: Option<i64>,
    by: i64,
}

async fn grant(db: &Db, change: &RoleChange, now: i64) -> ServiceResult<()> {
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
            ServiceError::Rejected("User has already the same role in this scope.".into())
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

async fn update(db: &Db, change: &RoleChange, now: i64) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    let grant = active_grant(&mut tx, change, now).await?;
    store::roles::set_expiration(&mut tx, grant, change.expiration_time).await?;
    tx.commit().await?;
    Ok(())
}

async fn revoke(db: &Db, change: &RoleChange, now: i64) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    let grant = active_grant(&mut tx, change, now).await?;
    store::roles::deactivate(&mut tx, grant).await?;
    tx.commit().await?;
    Ok(())
}

async fn active_grant(tx: &mut store::Tx, change: &RoleChange, now: i64) -> ServiceResult<i64> {
    store::roles::find_active(
        tx,
        change.user_id,
        change.role.name(),
        change.scope,
        change.scope_id,
        now,
    )
    .await?
    .ok_or_else(|| ServiceError::Rejected("User does not have this role in this scope.".into()))
}
