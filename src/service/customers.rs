//! Changing a customer, and deleting it with everything that is only its own.

use super::{evaluation, ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::store::customers::{CustomerFields, CustomerPatch};
use crate::store::evaluation::Components;
use crate::store::{self, Db};
use chrono::{DateTime, Utc};

/// Deletes the customer with its projects, policies and offerings, then re-evaluates other
/// customers' policies that had limits on its offerings' components. A customer that resources
/// name (as consumer or provider) stays: their orders, usage and history name it.
pub async fn delete(db: &Db, cfg: &ActionsConfig, customer_id: i64, now: DateTime<Utc>) -> ServiceResult<()> {
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

/// Lays the request's fields over the customer as it is inside the writing transaction (its row
/// locked), so concurrent edits of different fields both hold.
pub async fn update(db: &Db, customer_id: i64, patch: &CustomerPatch) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    let mut fields = CustomerFields::for_update(&mut tx, customer_id, db.row_lock())
        .await?
        .ok_or_else(|| ServiceError::Conflict("Customer has been deleted.".into()))?;
    patch.apply(&mut fields);
    store::customers::update(&mut tx, customer_id, &fields).await?;
    tx.commit().await?;
    Ok(())
}
