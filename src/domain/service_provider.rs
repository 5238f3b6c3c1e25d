//! Service providers: customers registered to offer services in the marketplace.

use super::Uuid32;

/// A service provider as stored, with its customer's names and the number of its offerings.
#[derive(Debug, Clone)]
pub struct ServiceProvider {
    pub id: i64,
    pub uuid: Uuid32,
    pub description: String,
    pub enable_notifications: bool,
    /// Microseconds since the epoch.
    pub created: i64,
    pub customer_id: i64,
    pub customer_uuid: Uuid32,
    pub customer_name: String,
    pub customer_abbreviation: String,
    pub customer_slug: String,
    pub customer_native_name: String,
    pub customer_country: String,
    pub offering_count: i64,
}

/// A new service provider's own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderFields {
    pub description: String,
    pub enable_notifications: bool,
}
