//! What evaluating policies reads, decoded where it is read (`store::evaluation`): a policy's
//! state, its limit rows, and its customer's monthly totals (docs/evaluation.md §2-§5).

use super::ladder::Ladder;
use super::options::PolicyOptions;
use super::time::Micros;
use super::{ActionSet, Amount, Month, Period, Uuid32};

/// Whether a policy has fired, and whose it is: what deciding its transition needs of it
/// besides its limit rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub policy_id: i64,
    pub customer_id: i64,
    pub has_fired: bool,
    pub ladder: Ladder,
}

/// A limit row: the customer's usage of a component over `period` may not exceed `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRow {
    pub policy_id: i64,
    pub component_id: i64,
    /// Whole units, as the API takes it.
    pub limit: i64,
    pub period: Period,
    /// What the grants active at the evaluation add to `limit` (docs/grants.md).
    pub granted: Amount,
}

/// A limit row with the component it limits, as events, emails and the status endpoint name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentLimit {
    pub policy_id: i64,
    pub component_id: i64,
    pub component_uuid: Uuid32,
    pub component_type: String,
    pub component_name: String,
    pub measured_unit: String,
    /// Whole units, as the API takes it.
    pub limit: i64,
    pub period: Period,
    /// What the grants active at the evaluation add to `limit` (docs/grants.md).
    pub granted: Amount,
}

/// A customer's total usage of a component in one billing month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerTotal {
    pub customer_id: i64,
    pub component_id: i64,
    pub month: Month,
    pub usage: Amount,
}

/// A policy as a transition reads it: whose it is, what it runs, and whether it has fired.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyState {
    pub id: i64,
    pub uuid: Uuid32,
    pub customer_id: i64,
    pub customer_uuid: Uuid32,
    pub customer_name: String,
    pub actions: ActionSet,
    pub options: PolicyOptions,
    pub has_fired: bool,
    /// The last crossing.
    pub fired_at: Option<Micros>,
    pub ladder: Ladder,
}
