//! Marketplace resources: listing and reading them, editing their details, and the Update and
//! Terminate orders placed on them. Every write is for staff, customer owners and project
//! managers and admins, on a resource the caller sees.

use super::orders::place_for_resource;
use super::{access, blocks, ServiceError, ServiceResult};
use crate::authz::{Principal, Visibility};
use crate::domain::marketplace::OrderType;
use crate::domain::page::{Listed, PageRequest};
use crate::domain::resource::{Resource, ResourceFilter, ResourcePatch};
use crate::domain::{Action, ResourceLimits, Uuid32};
use crate::store::{self, Db};
use serde_json::{json, Value};

pub const NOT_FOUND: &str = "No Resource matches the given query.";

const SAME_LIMITS: &str = "Impossible to create update orders with limits set to exactly the same.";

/// The resources the caller sees that match `filter`, newest first, one page of them.
pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &ResourceFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<Resource>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::resources::count(db.reader(), vis, filter).await?)?;
    let items = store::resources::list(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    let items = with_restrictions(db, items).await?;
    Ok(Listed { items, page })
}

/// The resource, if the caller sees it (a role on its customer or project; staff, support).
pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<Resource> {
    let resource = visible(db, caller, uuid, now).await?;
    Ok(with_restrictions(db, vec![resource]).await?.remove(0))
}

async fn visible(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<Resource> {
    store::resources::visible_by_uuid(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// The resources with the policies holding their flags (docs/ladder.md §5), in one query.
async fn with_restrictions(db: &Db, mut resources: Vec<Resource>) -> ServiceResult<Vec<Resource>> {
    let ids: Vec<i64> = resources.iter().map(|r| r.id).collect();
    for (id, restriction) in store::restrictions::of_resources(db.reader(), &ids).await? {
        if let Some(r) = resources.iter_mut().find(|r| r.id == id) {
            r.restrictions.push(restriction);
        }
    }
    Ok(resources)
}

/// The resource, if the caller may change it; then the body's refusal (`Err` holds the API's 400
/// body), as DRF checks permissions before it reads the body.
async fn manageable<T>(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    body: Result<T, Value>,
    now: i64,
) -> ServiceResult<(Resource, T)> {
    let resource = visible(db, caller, uuid, now).await?;
    if !access::may_manage_consumer(db, caller, resource.customer_id, resource.project_id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let body = body.map_err(ServiceError::Invalid)?;
    Ok((resource, body))
}

/// Edits a resource's name, description and end date, and reads it back: lays the fields the
/// request sent over the resource as it is inside the writing transaction (its row locked), so
/// concurrent edits of different fields both hold.
pub async fn edit(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    patch: Result<ResourcePatch, Value>,
    now: i64,
) -> ServiceResult<Resource> {
    let (resource, patch) = manageable(db, caller, uuid, patch, now).await?;
    // As upstream, a save that changes nothing is no modification: not blocked, nothing written.
    if patch.changes(&resource) {
        let subject = json!({"resource_uuid": resource.uuid.to_string(), "resource_name": resource.name});
        let tx = db.begin().await?;
        let block = Action::BlockModificationOfExistingResources;
        // A resource never changes customer, so the one read before is the one to guard.
        let mut tx = blocks::guard(tx, db, resource.customer_id, block, subject, now).await?;
        let mut r = store::resources::by_id_tx(&mut tx, resource.id)
            .await?
            .ok_or_else(|| ServiceError::Rejected("Resource does not exist.".into()))?;
        if patch.changes(&r) {
            patch.apply(&mut r);
            store::resources::update_details(&mut tx, r.id, &r.name, &r.description, r.end_date.as_deref(), now)
                .await?;
        }
        tx.commit().await?;
    }
    let edited = store::resources::by_id(db.reader(), resource.id)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))?;
    Ok(with_restrictions(db, vec![edited]).await?.remove(0))
}

/// Places an Update order with new limits (the resource must be OK); returns the order's uuid.
pub async fn update_limits(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    limits: Result<ResourceLimits, Value>,
    now: i64,
) -> ServiceResult<Uuid32> {
    let (resource, limits) = manageable(db, caller, uuid, limits, now).await?;
    if limits == ResourceLimits::from_stored(&resource.limits) {
        return Err(ServiceError::Rejected(SAME_LIMITS.into()));
    }
    let limits = limits.to_json().to_string();
    place_for_resource(db, &resource, OrderType::Update, Some(limits), caller.id, now).await
}

/// Places a Terminate order (the resource must be OK or Erred); returns the order's uuid.
/// `body` is the API's verdict on the request, which carries nothing the order keeps.
pub async fn terminate(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    body: Result<(), Value>,
    now: i64,
) -> ServiceResult<Uuid32> {
    let (resource, ()) = manageable(db, caller, uuid, body, now).await?;
    place_for_resource(db, &resource, OrderType::Terminate, None, caller.id, now).await
}
