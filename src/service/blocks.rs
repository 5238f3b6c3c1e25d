//! The threshold actions: while a policy with `block_creation_of_new_resources` or
//! `block_modification_of_existing_resources` is fired, those requests fail (docs/actions.md §5). Nothing
//! is written but the audit event, which is committed on its own.

use super::{ServiceError, ServiceResult};
use crate::domain::Action;
use crate::store::{self, events::NewEvent, Db, Tx};
use serde_json::json;

/// Hands the transaction back when no fired policy of the customer blocks `action`; otherwise
/// rolls it back, records the refusal and fails. `subject` names what was refused in the event
/// (a project or a resource).
///
/// The decision is read inside the transaction that would write, after the customer's row is
/// share-locked (PostgreSQL; SQLite's one writer already serialises): a policy of the customer
/// that fires meanwhile holds that row, so it has either committed before this read or waits
/// until the write is done. Fires lock the customer before its resources, so callers call this
/// before they lock a resource.
pub async fn guard(
    mut tx: Tx,
    db: &Db,
    customer_id: i64,
    action: Action,
    subject: serde_json::Value,
    now: i64,
) -> ServiceResult<Tx> {
    store::evaluation::share_lock_customers(&mut tx, &[customer_id]).await?;
    let Some(block) = store::policies::blocking(&mut *tx, customer_id, action.name()).await? else {
        return Ok(tx);
    };
    // The request writes nothing; its transaction ends before the audit event's begins (on
    // SQLite both would need the one writer connection).
    tx.rollback().await?;
    let (policy_uuid, customer_name) = (&block.policy_uuid, &block.customer_name);
    let (refusal, what) = match action {
        Action::BlockCreationOfNewResources => ("Creation of new resources", "creation of new resource"),
        _ => ("Modification of resources", "updating existing resource"),
    };
    let message = format!("Usage policy {policy_uuid} has been triggered and {what} has been blocked.");
    let mut context =
        json!({"policy_uuid": policy_uuid, "customer_uuid": block.customer_uuid, "customer_name": customer_name});
    if let (Some(ctx), serde_json::Value::Object(extra)) = (context.as_object_mut(), subject) {
        ctx.extend(extra);
    }
    let mut audit = db.begin().await?;
    let event = NewEvent {
        event_type: action.name(),
        message: &message,
        context: &context,
        customer_id: Some(customer_id),
        policy_uuid: Some(policy_uuid),
    };
    store::events::insert(&mut audit, &event, now).await?;
    audit.commit().await?;
    Err(ServiceError::Rejected(format!(
        "{refusal} for organization {customer_name} is prohibited by usage policy {policy_uuid}."
    )))
}
