//! Loads what `authz` decides on, for use cases that decide permissions before they write.

use super::{ServiceError, ServiceResult};
use crate::authz::{self, Principal};
use crate::store::{self, Db};

/// Staff only: policy, grant and dry-run writes (docs/api.md §1.3). The API also refuses others
/// before it reads the path or the body.
pub fn require_staff(caller: &Principal) -> ServiceResult<()> {
    if caller.is_staff {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// May order in, and approve for, the project (`authz::may_manage_consumer`).
pub async fn may_manage_consumer(
    db: &Db,
    user: &Principal,
    customer_id: i64,
    project_id: i64,
    now: i64,
) -> ServiceResult<bool> {
    if user.is_staff {
        return Ok(true);
    }
    let roles = store::roles::load(db.reader(), user, customer_id, Some(project_id), now).await?;
    Ok(authz::may_manage_consumer(user, &roles))
}

/// Acts for the provider (`authz::may_act_for_provider`).
pub async fn may_act_for_provider(
    db: &Db,
    user: &Principal,
    provider_customer_id: i64,
    now: i64,
) -> ServiceResult<bool> {
    if user.is_staff {
        return Ok(true);
    }
    let roles = store::roles::load(db.reader(), user, provider_customer_id, None, now).await?;
    Ok(authz::may_act_for_provider(user, &roles))
}

/// The caller's roles on a customer (and its project), for decisions `authz` makes from them.
pub async fn roles(
    db: &Db,
    user: &Principal,
    customer_id: i64,
    project_id: Option<i64>,
    now: i64,
) -> ServiceResult<authz::Roles> {
    Ok(store::roles::load(db.reader(), user, customer_id, project_id, now).await?)
}

/// Owns the customer: staff, or its owners, who manage its projects and its roles.
pub async fn owns_customer(db: &Db, user: &Principal, customer_id: i64, now: i64) -> ServiceResult<bool> {
    if user.is_staff {
        return Ok(true);
    }
    let roles = store::roles::load(db.reader(), user, customer_id, None, now).await?;
    Ok(roles.is_owner())
}
