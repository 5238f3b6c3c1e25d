//! An order as the API shows it and the use cases decide on: every stored value decoded, with
//! the names of the objects it points to.

use super::marketplace::{OrderState, OrderType};
use super::time::Micros;
use super::Uuid32;

#[derive(Debug, Clone)]
pub struct Order {
    pub id: i64,
    pub uuid: Uuid32,
    pub kind: OrderType,
    pub state: OrderState,
    /// The client's JSON object, stored as sent and never read.
    pub attributes: String,
    /// The limits the order asks for, as stored JSON.
    pub limits: String,
    pub error_message: String,
    pub created: Micros,
    pub modified: Micros,
    pub consumer_reviewed_at: Option<Micros>,
    pub provider_reviewed_at: Option<Micros>,
    pub completed_at: Option<Micros>,
    pub resource_id: Option<i64>,
    pub resource_uuid: Option<Uuid32>,
    pub resource_name: Option<String>,
    pub project_id: i64,
    pub project_uuid: Uuid32,
    pub project_name: String,
    pub customer_id: i64,
    pub customer_uuid: Uuid32,
    pub customer_name: String,
    pub offering_uuid: Uuid32,
    pub offering_name: String,
    pub offering_type: String,
    /// The offering's customer, the provider who approves and completes the order.
    pub provider_customer_id: i64,
    pub provider_uuid: Uuid32,
    pub provider_name: String,
    pub plan_uuid: Option<Uuid32>,
    pub plan_name: Option<String>,
    /// The creator's and reviewers' names; `None` once the user is gone.
    pub created_by_username: Option<String>,
    pub created_by_first_name: Option<String>,
    pub created_by_last_name: Option<String>,
    pub consumer_reviewed_by_username: Option<String>,
    pub provider_reviewed_by_username: Option<String>,
}

/// Which orders a list shows (besides what the caller may see); uuids are hex.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub customer_uuid: Option<String>,
    pub project_uuid: Option<String>,
    pub resource_uuid: Option<String>,
    pub offering_uuid: Option<String>,
    pub provider_uuid: Option<String>,
    /// Any of these (none: any state).
    pub states: Vec<OrderState>,
    /// Any of these (none: any type).
    pub kinds: Vec<OrderType>,
}
