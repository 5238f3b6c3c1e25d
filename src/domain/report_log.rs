//! The report log: every accepted usage report as it arrived, and the filters of its list
//! (docs/api.md §8.4).

use super::time::Micros;
use super::{Amount, Month, Uuid32};

/// One logged report of one component: the amount it set for the month, or a deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedReport {
    pub resource_uuid: Uuid32,
    pub resource_name: String,
    pub customer_uuid: Uuid32,
    pub component_type: String,
    pub billing_month: Month,
    pub amount: Amount,
    /// Microseconds.
    pub reported_at: i64,
    /// The reporter, while the user exists.
    pub reported_by: Option<Reporter>,
    /// A deletion of the month's usage row, logged as a report of 0.
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    pub uuid: Uuid32,
    pub username: String,
}

/// The list's filters; `None` filters nothing. Uuids are in their stored form (32 hex digits).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportLogFilter {
    pub resource_uuid: Option<String>,
    pub customer_uuid: Option<String>,
    pub r#type: Option<String>,
    /// From this instant on (microseconds).
    pub reported_after: Option<i64>,
    /// Before this instant (microseconds).
    pub reported_before: Option<i64>,
}

/// One logged report as a dry run replays it (docs/dry-run.md §3): the amount it set for its
/// resource, component and billing month at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported<R, C> {
    pub at: Micros,
    pub resource: R,
    pub component: C,
    pub month: Month,
    pub amount: Amount,
}
