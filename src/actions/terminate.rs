//! `terminate_resources`: one Terminate order per live resource of the customer, created by the
//! system user directly in state executing (docs/actions.md §3); the provider completes it as usual.
//! The resource's other open orders are canceled: a Create or Update completed after it would
//! take the resource out of Terminating, and a resource has one open order at a time.

use super::TransitionCtx;
use crate::domain::marketplace::{OrderState, OrderType, ResourceState};
use crate::domain::Uuid32;
use crate::store::{self, orders::NewOrder, orders::Reviewer, Tx};
use serde_json::json;

/// Whether the action terminates the resource: every live one.
pub fn targets(r: &store::resources::ActionTarget) -> bool {
    r.state.is_live()
}

pub async fn run(tx: &mut Tx, ctx: &TransitionCtx<'_>) -> store::Result<()> {
    let resources = store::resources::of_customer_for_update(tx, ctx.policy.customer_id).await?;
    for r in resources {
        if !targets(&r) {
            continue;
        }
        let attributes = if r.offering_type == "OpenStack.Instance" {
            json!({"action": "force_destroy"})
        } else {
            json!({})
        };
        let order = NewOrder {
            kind: OrderType::Terminate,
            state: OrderState::Executing,
            project_id: r.project_id,
            offering_id: r.offering_id,
            plan_id: None,
            resource_id: r.id,
            attributes: &attributes.to_string(),
            limits: "{}",
            created_by: ctx.system_user,
        };
        store::orders::cancel_open(tx, r.id, ctx.stamp()).await?;
        let uuid = Uuid32::new_v4();
        let id = store::orders::insert(tx, &uuid, &order, ctx.stamp()).await?;
        store::orders::set_reviewed(tx, id, Reviewer::Consumer, ctx.system_user, ctx.stamp()).await?;
        store::resources::set_state(tx, r.id, ResourceState::Terminating, ctx.stamp()).await?;
        let message = format!(
            "Usage policy {} has been triggered and termination order has been created. Resource: {}.",
            ctx.policy.uuid, r.name
        );
        let extra =
            json!({"resource_uuid": r.uuid.to_string(), "resource_name": r.name, "order_uuid": uuid.to_string()});
        ctx.event(tx, "terminate_resources", &message, extra).await?;
    }
    Ok(())
}
