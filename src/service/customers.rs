//! Customers: reading, creating, changing, and deleting with everything that is only their own.
//! Only staff write customers (docs/api.md §3.1).

use super::parsed::Parsed;
use super::{evaluation, ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::authz::{Principal, Visibility};
use crate::domain::customer::{Customer, CustomerFields, CustomerFilter, CustomerPatch, CustomerText};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::{slug, Uuid32};
use crate::store::evaluation::Components;
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};

pub const NOT_FOUND: &str = "No Customer matches the given query.";

/// The customers the caller sees (staff and support all; others those where they hold a role,
/// on the customer or one of its projects), by name.
pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &CustomerFilter,
    page: PageRequest,
    now: i64,
) -> ServiceResult<Listed<Customer>> {
    let vis = Visibility::of(caller, now);
    let page = page.resolve(store::customers::count(db.reader(), vis, filter).await?)?;
    let items = store::customers::list(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

/// The customer if the caller may see it; 404 otherwise.
pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<Customer> {
    store::customers::visible_by_uuid(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// Creates a customer, its slug made from its name unless one is given.
pub async fn create(db: &Db, caller: &Principal, mut fields: CustomerFields, now: i64) -> ServiceResult<Customer> {
    if !caller.is_staff {
        return Err(ServiceError::Forbidden);
    }
    let uuid = Uuid32::new_v4();
    let mut tx = db.begin().await?;
    give_slug(&mut tx, &mut fields).await?;
    store::customers::insert(&mut tx, &uuid, &fields, now).await?;
    tx.commit().await?;
    reread(db, &uuid).await
}

/// Lays the request's fields over the customer as it is inside the writing transaction (its row
/// locked), so concurrent edits of different fields both hold. The customer is looked up before
/// the body's errors are reported.
pub async fn update(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    patch: Parsed<CustomerPatch>,
    now: i64,
) -> ServiceResult<Customer> {
    if !caller.is_staff {
        return Err(ServiceError::Forbidden);
    }
    let customer = retrieve(db, caller, uuid, now).await?;
    let patch = patch.accept()?;
    let mut tx = db.begin().await?;
    let mut fields = store::customers::fields_for_update(&mut tx, customer.id)
        .await?
        .ok_or_else(|| ServiceError::Conflict("Customer has been deleted.".into()))?;
    patch.apply(&mut fields);
    give_slug(&mut tx, &mut fields).await?;
    store::customers::update(&mut tx, customer.id, &fields).await?;
    tx.commit().await?;
    reread(db, uuid).await
}

/// A customer without a slug gets one made from its name; one that has a slug keeps it, whatever
/// its name becomes (docs/api.md §3.1). Two customers made at once may get the same slug, as
/// upstream's may: a slug names nothing by itself.
async fn give_slug(tx: &mut Tx, fields: &mut CustomerFields) -> ServiceResult<()> {
    if fields.text(CustomerText::Slug).is_empty() {
        let stem = slug::stem(fields.text(CustomerText::Name));
        let taken = store::customers::slugs_starting(tx, &stem).await?;
        fields.set(CustomerText::Slug, slug::next(&stem, taken.iter().map(String::as_str)));
    }
    Ok(())
}

async fn reread(db: &Db, uuid: &Uuid32) -> ServiceResult<Customer> {
    store::customers::by_uuid(db.reader(), uuid)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// Deletes the customer with its projects, policies and offerings, then re-evaluates other
/// customers' policies that had limits on its offerings' components. A customer that resources
/// name (as consumer or provider) stays: their orders, usage and history name it.
pub async fn delete(
    db: &Db,
    cfg: &ActionsConfig,
    caller: &Principal,
    uuid: &Uuid32,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    if !caller.is_staff {
        return Err(ServiceError::Forbidden);
    }
    let customer_id = retrieve(db, caller, uuid, now.timestamp_micros()).await?.id;
    let has_resources = || ServiceError::Conflict("Customer has resources and cannot be deleted.".into());
    let mut tx = db.begin().await?;
    if store::customers::has_resources(&mut tx, customer_id).await? {
        return Err(has_resources());
    }
    let limited: Vec<(i64, i64)> = store::evaluation::policies_limiting(&mut tx, Components::OfProvider(customer_id))
        .await?
        .into_iter()
        .filter(|&(customer, _)| customer != customer_id)
        .collect();
    // A resource ordered since the check above still holds the customer.
    match store::customers::delete(&mut tx, customer_id).await {
        Err(err) if store::is_foreign_key_violation(&err) => return Err(has_resources()),
        deleted => deleted?,
    }
    tx.commit().await?;
    evaluation::after_limits_removed(db, cfg, &limited, now).await?;
    Ok(())
}
