//! Per-user usage and per-user limits (docs/site-agent.md). A provider (staff, its owners and
//! managers) reports how a component usage row splits among the cluster's users, and sets limits
//! per user; both are kept and listed as upstream does, and no policy reads them: policies judge
//! the customer's component usage rows.

use super::checked::{verdict, Checked};
use super::site_agent::no_such_object;
use super::{access, ServiceError, ServiceResult};
use crate::authz::{Principal, Visibility};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::user_usage::{UserUsage, UserUsageFilter, UserUsageItem, UserUsageLimit, UserUsageLimitFilter};
use crate::domain::{Amount, Uuid32};
use crate::store::{self, Db};

pub const USAGE_NOT_FOUND: &str = "No ComponentUsage matches the given query.";
pub const NOT_FOUND: &str = "No ComponentUserUsage matches the given query.";
pub const LIMIT_NOT_FOUND: &str = "No ComponentUserUsageLimit matches the given query.";

/// Reports the users' amounts under a component usage row, replacing each user's last one. The
/// row must be visible (404) and the caller act for its offering's provider (403) before the
/// body's errors are reported; an item's `user` must be an offering user of that offering.
pub async fn report(
    db: &Db,
    caller: &Principal,
    component_usage: &Uuid32,
    items: Checked<Vec<UserUsageItem>>,
    now: i64,
) -> ServiceResult<()> {
    let vis = Visibility::of(caller, now);
    let parent = match store::user_usages::parent(db.reader(), component_usage, vis).await? {
        Some(p) if p.visible => p,
        _ => return Err(ServiceError::NotFound(USAGE_NOT_FOUND)),
    };
    if !access::may_act_for_provider(db, caller, parent.provider_customer_id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let items = verdict(items)?;
    let mut tx = db.begin().await?;
    for item in &items {
        let offering_user = match &item.offering_user {
            Some(uuid) => match store::offering_users::id_in_offering(&mut tx, parent.offering_id, uuid).await? {
                Some(id) => Some(id),
                None => return Err(ServiceError::Field("user", no_such_object(uuid))),
            },
            None => store::offering_users::id_by_username(&mut tx, parent.offering_id, &item.username).await?,
        };
        let date = item.date.unwrap_or(parent.date);
        store::user_usages::upsert(&mut tx, parent.id, &item.username, offering_user, item.usage, date, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &UserUsageFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<UserUsage>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::user_usages::count(db.reader(), vis, filter).await?)?;
    let items = store::user_usages::list(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<UserUsage> {
    store::user_usages::visible_by_uuid(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

pub async fn list_limits(
    db: &Db,
    caller: &Principal,
    filter: &UserUsageLimitFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<UserUsageLimit>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::user_usages::count_limits(db.reader(), vis, filter).await?)?;
    let items = store::user_usages::list_limits(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

pub async fn retrieve_limit(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<UserUsageLimit> {
    store::user_usages::visible_limit(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(LIMIT_NOT_FOUND))
}

/// A per-user limit as a request gives it.
#[derive(Debug, Clone)]
pub struct NewLimit {
    pub resource: Uuid32,
    pub component: Uuid32,
    /// The offering user's username on the resource's offering.
    pub username: String,
    pub limit: Amount,
}

/// Sets a user's limit on a resource's component (replacing the one it had): the resource must be
/// one the caller sees as its provider and acts for, the component one of its offering's, the
/// user one with that username on the offering.
pub async fn set_limit(db: &Db, caller: &Principal, new: NewLimit, now: i64) -> ServiceResult<UserUsageLimit> {
    let vis = Visibility::of(caller, now);
    let Some(resource) = store::resources::provider_visible_by_uuid(db.reader(), &new.resource, vis).await? else {
        return Err(ServiceError::Field("resource", no_such_object(&new.resource)));
    };
    if !access::may_act_for_provider(db, caller, resource.provider_customer_id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let mut tx = db.begin().await?;
    let Some(component) =
        store::offerings::component_in_offering(&mut tx, resource.offering_id, &new.component).await?
    else {
        return Err(ServiceError::Field("component", no_such_object(&new.component)));
    };
    let Some(offering_user) =
        store::offering_users::id_by_username(&mut tx, resource.offering_id, &new.username).await?
    else {
        return Err(ServiceError::Field(
            "user",
            format!("Object with username={} does not exist.", new.username),
        ));
    };
    let uuid = store::user_usages::upsert_limit(
        &mut tx,
        &Uuid32::new_v4(),
        resource.id,
        component.id,
        offering_user,
        new.limit,
        now,
    )
    .await?;
    tx.commit().await?;
    retrieve_limit(db, caller, &uuid, now).await
}

pub async fn delete_limit(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<()> {
    let limit = retrieve_limit(db, caller, uuid, now).await?;
    if !access::may_act_for_provider(db, caller, limit.provider_customer_id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let mut tx = db.begin().await?;
    store::user_usages::delete_limit(&mut tx, limit.id).await?;
    tx.commit().await?;
    Ok(())
}
