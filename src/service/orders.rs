//! Orders and the resources they create, change and terminate.

use super::{blocks, ServiceError, ServiceResult};
use crate::domain::marketplace::{resource_state_after, OrderState, OrderStep, OrderType, ResourceState};
use crate::domain::{Action, Uuid32};
use crate::store::orders::{NewOrder, Reviewer};
use crate::store::resources::{NewResource, ResourcePatch, ResourceRow};
use crate::store::{self, Db, Tx};

/// A Create order as the consumer placed it, references resolved.
pub struct CreateOrder {
    pub customer_id: i64,
    pub project_uuid: String,
    pub project_id: i64,
    pub offering_id: i64,
    pub plan_id: Option<i64>,
    pub name: String,
    pub description: String,
    pub attributes: String,
    pub limits: String,
    pub created_by: i64,
}

/// Places a Create order with its resource (state Creating); returns the order id.
pub async fn create(db: &Db, order: &CreateOrder, now: i64) -> ServiceResult<i64> {
    let subject = serde_json::json!({"project_uuid": order.project_uuid});
    let tx = db.begin().await?;
    let mut tx = blocks::guard(
        tx,
        db,
        order.customer_id,
        Action::BlockCreationOfNewResources,
        subject,
        now,
    )
    .await?;
    let resource = NewResource {
        project_id: order.project_id,
        offering_id: order.offering_id,
        plan_id: order.plan_id,
        name: &order.name,
        description: &order.description,
        limits: &order.limits,
        attributes: &order.attributes,
    };
    let resource_id = store::resources::insert(
        &mut tx,
        &Uuid32::new_v4(),
        &resource,
        ResourceState::Creating.as_str(),
        now,
    )
    .await?;
    let new = NewOrder {
        r#type: OrderType::Create.as_str(),
        state: OrderState::PendingConsumer.as_str(),
        project_id: order.project_id,
        offering_id: order.offering_id,
        plan_id: order.plan_id,
        resource_id,
        attributes: &order.attributes,
        limits: &order.limits,
        created_by: order.created_by,
    };
    let id = store::orders::insert(&mut tx, &Uuid32::new_v4(), &new, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Places an Update (new limits) or Terminate order for an existing resource.
pub async fn for_resource(
    db: &Db,
    resource: &ResourceRow,
    kind: OrderType,
    limits: Option<String>,
    created_by: i64,
    now: i64,
) -> ServiceResult<Uuid32> {
    // The state first, so a resource that is not there to change says so rather than meet
    // the block (checked again under the lock below).
    check_state(kind, &resource.state)?;
    let mut tx = db.begin().await?;
    if kind == OrderType::Update {
        // A resource never changes customer, so the one read before is the one to guard.
        let subject = serde_json::json!({"resource_uuid": resource.uuid, "resource_name": resource.name});
        let block = Action::BlockModificationOfExistingResources;
        tx = blocks::guard(tx, db, resource.customer_id, block, subject, now).await?;
    }
    let r = store::resources::by_id_tx(&mut tx, resource.id, db.row_lock())
        .await?
        .ok_or_else(|| ServiceError::Rejected("Resource does not exist.".into()))?;
    check_state(kind, &r.state)?;
    if store::resources::has_open_order(&mut tx, r.id).await? {
        return Err(ServiceError::Rejected(
            "Pending order for resource already exists.".into(),
        ));
    }
    let uuid = Uuid32::new_v4();
    let new = NewOrder {
        r#type: kind.as_str(),
        state: OrderState::PendingConsumer.as_str(),
        project_id: r.project_id,
        offering_id: r.offering_id,
        plan_id: r.plan_id,
        resource_id: r.id,
        attributes: "{}",
        limits: limits.as_deref().unwrap_or(&r.limits),
        created_by,
    };
    store::orders::insert(&mut tx, &uuid, &new, now).await?;
    tx.commit().await?;
    Ok(uuid)
}

/// Upstream's StateValidator on the resource actions, and its message.
fn check_state(kind: OrderType, state: &str) -> ServiceResult<()> {
    let valid: &[ResourceState] = match kind {
        OrderType::Update => &[ResourceState::Ok],
        _ => &[ResourceState::Ok, ResourceState::Erred],
    };
    if ResourceState::parse(state).is_some_and(|state| valid.contains(&state)) {
        return Ok(());
    }
    let names: Vec<&str> = valid.iter().map(|s| s.as_str()).collect();
    Err(ServiceError::Conflict(format!(
        "Valid states for operation: {}.",
        names.join(", ")
    )))
}

/// Takes a step of the order's state machine; 409 when the order is not where the step starts.
pub async fn step(
    db: &Db,
    order_id: i64,
    step: OrderStep,
    by: i64,
    error_message: Option<&str>,
    now: i64,
) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    let order = store::orders::by_id_tx(&mut tx, order_id)
        .await?
        .ok_or_else(|| ServiceError::Rejected("Order does not exist.".into()))?;
    // An Update order placed before its customer's modifications were blocked waits while they
    // are: the provider's steps that would change the resource are refused as update_limits/
    // would be now. An order not where the step starts answers its 409 below, not the block.
    let startable = OrderState::parse(&order.state).is_some_and(|s| step.transition().0.contains(&s));
    if matches!(step, OrderStep::ApproveByProvider | OrderStep::SetDone)
        && startable
        && OrderType::parse(&order.r#type) == Some(OrderType::Update)
    {
        let subject = serde_json::json!({"resource_uuid": order.resource_uuid, "resource_name": order.resource_name});
        let block = Action::BlockModificationOfExistingResources;
        tx = blocks::guard(tx, db, order.customer_id, block, subject, now).await?;
    }
    // The resource before its order, as `terminate_resources` locks resources before it cancels
    // their other orders: the two never wait on each other in a cycle.
    if let Some(resource_id) = order.resource_id {
        store::resources::lock(&mut tx, resource_id, db.row_lock()).await?;
    }
    let (from, to) = step.transition();
    let from_names: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let finished = matches!(
        to,
        OrderState::Done | OrderState::Erred | OrderState::Canceled | OrderState::Rejected
    );
    if !store::orders::transition(&mut tx, order.id, &from_names, to.as_str(), finished, now).await? {
        return Err(ServiceError::Conflict(format!(
            "Valid states for operation: {}.",
            from_names.join(", ")
        )));
    }
    match step {
        OrderStep::ApproveByConsumer | OrderStep::RejectByConsumer => {
            store::orders::set_reviewed(&mut tx, order.id, Reviewer::Consumer, by, now).await?
        }
        OrderStep::ApproveByProvider | OrderStep::RejectByProvider => {
            store::orders::set_reviewed(&mut tx, order.id, Reviewer::Provider, by, now).await?
        }
        _ => {}
    }
    if let Some(message) = error_message {
        store::orders::set_error(&mut tx, order.id, message).await?;
    }
    if let (Some(resource_id), Some(kind)) = (order.resource_id, OrderType::parse(&order.r#type)) {
        apply_to_resource(&mut tx, resource_id, kind, to, &order.limits, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn apply_to_resource(
    tx: &mut Tx,
    resource_id: i64,
    kind: OrderType,
    reached: OrderState,
    limits: &str,
    now: i64,
) -> ServiceResult<()> {
    if let Some(state) = resource_state_after(kind, reached) {
        store::resources::set_state(tx, resource_id, state.as_str(), now).await?;
    }
    if kind == OrderType::Update && reached == OrderState::Done {
        store::resources::set_limits(tx, resource_id, limits, now).await?;
    }
    Ok(())
}

/// Edits a resource's name, description and end date: lays the fields the request sent over
/// the resource as it is inside the writing transaction (its row locked), so concurrent edits
/// of different fields both hold.
pub async fn edit_resource(db: &Db, resource: &ResourceRow, patch: &ResourcePatch, now: i64) -> ServiceResult<()> {
    // As upstream, a save that changes nothing is no modification: not blocked, nothing written.
    if !patch.changes(resource) {
        return Ok(());
    }
    let subject = serde_json::json!({"resource_uuid": resource.uuid, "resource_name": resource.name});
    let tx = db.begin().await?;
    let block = Action::BlockModificationOfExistingResources;
    // A resource never changes customer, so the one read before is the one to guard.
    let mut tx = blocks::guard(tx, db, resource.customer_id, block, subject, now).await?;
    let mut r = store::resources::by_id_tx(&mut tx, resource.id, db.row_lock())
        .await?
        .ok_or_else(|| ServiceError::Rejected("Resource does not exist.".into()))?;
    if patch.changes(&r) {
        patch.apply(&mut r);
        store::resources::update_details(&mut tx, r.id, &r.name, &r.description, r.end_date.as_deref(), now).await?;
    }
    tx.commit().await?;
    Ok(())
}
