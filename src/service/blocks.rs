//! The threshold actions: while a policy with `block_creation_of_new_resources` or
//! `block_modification_of_existing_resources` is fired, those requests fail (SPEC §4). Nothing
//! is written but the audit event, which is committed on its own.

use super::{ServiceError, ServiceResult};
use crate::domain::Action;
use crate::store::{self, events::NewEvent, Db};
use serde_json::json;

/// Fails when a fired policy of the customer blocks `action`; `subject` names what was refused
/// in the event (a project or a resource).
pub async fn check(
    db: &Db,
    customer_id: i64,
    action: Action,
    subject: serde_json::Value,
    now: i64,
) -> ServiceResult<()> {
    let Some(block) = store::policies::blocking(db.reader(), customer_id, action.name()).await? else {
        return Ok(());
    };
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
    let mut tx = db.begin().await?;
    let event = NewEvent {
        event_type: action.name(),
        message: &message,
        context: &context,
        customer_id: Some(customer_id),
        policy_uuid: Some(policy_uuid),
    };
    store::events::insert(&mut tx, &event, now).await?;
    tx.commit().await?;
    Err(ServiceError::Rejected(format!(
        "{refusal} for organization {customer_name} is prohibited by usage policy {policy_uuid}."
    )))
}
