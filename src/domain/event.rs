//! An event of the audit trail (transitions, actions, blocked requests, deliveries) as it is
//! stored, decoded.

use super::time::Micros;
use super::Uuid32;
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub struct Event {
    pub uuid: Uuid32,
    pub created: Micros,
    pub event_type: String,
    pub message: String,
    pub context: Map<String, Value>,
}

/// Which events a list shows, besides what the caller may see; each filter narrows.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Any of these types; all types when empty.
    pub event_types: Vec<String>,
    /// The customer each must be of: every uuid named must match (`customer_uuid` and `scope`
    /// each add one).
    pub customer_uuids: Vec<Uuid32>,
    pub policy_uuid: Option<Uuid32>,
}
