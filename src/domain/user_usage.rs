//! Per-user usage and per-user limits (docs/site-agent.md): how a component usage row's amount
//! splits among a resource's users, and the limits a provider sets per user. Policies never read
//! them; they judge the customer's component usage rows.

use super::time::Micros;
use super::{Amount, Month, Uuid32};

#[derive(Debug, Clone)]
pub struct UserUsage {
    pub uuid: Uuid32,
    pub username: String,
    pub offering_user_uuid: Option<Uuid32>,
    pub component_usage_uuid: Uuid32,
    pub usage: Amount,
    pub measured_unit: String,
    pub component_type: String,
    pub description: String,
    pub date: Micros,
    pub billing_period: Month,
    pub created: Micros,
    pub modified: Micros,
    pub resource_uuid: Uuid32,
    pub resource_name: String,
    pub offering_uuid: Uuid32,
    pub offering_name: String,
    pub project_uuid: Uuid32,
    pub project_name: String,
    pub customer_uuid: Uuid32,
    pub customer_name: String,
}

/// One user's amount of a component usage row, as reported.
#[derive(Debug, Clone)]
pub struct UserUsageItem {
    pub username: String,
    pub usage: Amount,
    /// The offering user the report links, if any.
    pub offering_user: Option<Uuid32>,
    pub date: Option<Micros>,
}

/// Which per-user usages a list holds; uuids are hex.
#[derive(Debug, Clone, Default)]
pub struct UserUsageFilter {
    pub resource_uuid: Option<String>,
    pub offering_uuid: Option<String>,
    pub customer_uuid: Option<String>,
    pub project_uuid: Option<String>,
    pub component_usage_uuid: Option<String>,
    pub username: Option<String>,
    pub component_type: Option<String>,
    pub billing_month: Option<Month>,
}

#[derive(Debug, Clone)]
pub struct UserUsageLimit {
    pub id: i64,
    pub uuid: Uuid32,
    pub resource_uuid: Uuid32,
    pub provider_customer_id: i64,
    pub component_uuid: Uuid32,
    pub component_type: String,
    /// The offering user's username on the offering, or "" while it has none.
    pub username: String,
    pub limit: Amount,
}

/// Which per-user limits a list holds; uuids are hex.
#[derive(Debug, Clone, Default)]
pub struct UserUsageLimitFilter {
    pub resource_uuid: Option<String>,
    pub component_type: Option<String>,
}
