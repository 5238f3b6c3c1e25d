//! Component usage rows as the API shows them, and the filters of their list
//! (docs/api.md §8).

use super::{Amount, Month, Uuid32};

/// A reported month's amount of one component of one resource, with the names around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    pub uuid: Uuid32,
    pub created: i64,
    pub description: String,
    pub component_type: String,
    pub component_name: String,
    pub measured_unit: String,
    pub usage: Amount,
    pub date: i64,
    pub recurring: bool,
    pub billing_period: Month,
    pub resource_uuid: Uuid32,
    pub resource_name: String,
    pub offering_uuid: Uuid32,
    pub offering_name: String,
    pub project_uuid: Uuid32,
    pub project_name: String,
    pub customer_uuid: Uuid32,
    pub customer_name: String,
    /// The user's id, as upstream shows the user's primary key.
    pub modified_by: Option<i64>,
}

/// The list's filters; `None` filters nothing. Uuids are in their stored form (32 hex digits);
/// any other text matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageFilter {
    pub customer_uuid: Option<String>,
    pub project_uuid: Option<String>,
    pub offering_uuid: Option<String>,
    pub resource_uuid: Option<String>,
    pub r#type: Option<String>,
    pub billing_month: Option<Month>,
    pub billing_year: Option<i64>,
    pub billing_month_of_year: Option<i64>,
    /// From this instant on (microseconds).
    pub date_after: Option<i64>,
    /// Before this instant (microseconds).
    pub date_before: Option<i64>,
}
