//! A customer component usage policy as it is stored, every column decoded: what a policy read
//! hands from `store` through `service` to the API.

use super::ladder::Ladder;
use super::time::Micros;
use super::{ActionSet, Period, Uuid32};
use serde_json::{Map, Value};

/// A policy with its limit rows in the order they were written.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: i64,
    pub uuid: Uuid32,
    pub customer: PolicyCustomer,
    pub actions: ActionSet,
    /// Extra data per action, as saved (checked by `PolicyOptions::parse` then).
    pub options: Map<String, Value>,
    pub has_fired: bool,
    pub fired_at: Option<Micros>,
    /// Warnings, hysteresis and the warning level (docs/ladder.md).
    pub ladder: Ladder,
    pub created: Micros,
    /// `None` once the user who created it is deleted.
    pub created_by: Option<Author>,
    pub limits: Vec<PolicyLimit>,
}

/// The customer a policy watches (its `scope`).
#[derive(Debug, Clone)]
pub struct PolicyCustomer {
    pub id: i64,
    pub uuid: Uuid32,
    pub name: String,
}

/// The user who created a policy.
#[derive(Debug, Clone)]
pub struct Author {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
}

impl Author {
    /// Django's `get_full_name()`: first and last name, trimmed.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_string()
    }
}

/// One limit row: at most `limit` units of a component over the period's window.
#[derive(Debug, Clone)]
pub struct PolicyLimit {
    pub component_uuid: Uuid32,
    pub component_type: String,
    pub limit: i64,
    pub period: Period,
}

/// A policy as the API shows it: with how many of its customer's resources that the caller
/// sees its actions affect (docs/actions.md §4.4).
#[derive(Debug, Clone)]
pub struct PolicyView {
    pub policy: Policy,
    pub affected_resources: i64,
}

/// Which policies a list shows, besides what the caller may see: those of every named customer,
/// or none at all (a customer filter that names no customer).
#[derive(Debug, Clone, Default)]
pub struct PolicyFilter {
    pub customer_uuids: Vec<Uuid32>,
    pub matches_nothing: bool,
}

impl PolicyFilter {
    pub fn is_empty(&self) -> bool {
        self.customer_uuids.is_empty() && !self.matches_nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_name_without_a_part_has_no_stray_space() {
        let author = |first: &str, last: &str| Author {
            username: "u".into(),
            first_name: first.into(),
            last_name: last.into(),
        };
        assert_eq!(author("Ada", "Lovelace").full_name(), "Ada Lovelace");
        assert_eq!(author("", "Lovelace").full_name(), "Lovelace");
        assert_eq!(author("", "").full_name(), "");
    }
}
