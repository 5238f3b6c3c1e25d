//! Offerings with their components and plans: the records the catalogue reads (decoded once, at
//! the store), and the fields a provider writes.

use super::{BillingType, OfferingState, UnitPrice, Uuid32};
use serde_json::{Map, Value};

/// Which view of the catalogue a caller asks for: it decides which offerings they see and the
/// hyperlinks the offerings and their plans carry (docs/api.md §5.3, §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `/api/marketplace-provider-offerings/`: the offerings of customers where the caller holds
    /// a role (staff and support: all), plans at `/api/marketplace-plans/<p>/`.
    Provider,
    /// `/api/marketplace-public-offerings/`: active offerings the caller may order from, plans at
    /// `.../<o>/plans/<p>/`.
    Public,
}

/// An offering as stored, with the names of its customer and category.
#[derive(Debug, Clone)]
pub struct Offering {
    pub id: i64,
    pub uuid: Uuid32,
    pub customer_id: i64,
    pub customer_uuid: Uuid32,
    pub customer_name: String,
    pub category_uuid: Uuid32,
    pub category_title: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub full_description: String,
    pub r#type: String,
    pub state: OfferingState,
    pub shared: bool,
    pub billable: bool,
    /// The client's JSON documents, as stored.
    pub plugin_options: String,
    pub attributes: String,
    pub options: String,
    pub backend_id: String,
    /// Microseconds since the epoch.
    pub created: i64,
}

/// An offering with its components and plans, as the catalogue shows it.
#[derive(Debug, Clone)]
pub struct OfferingDetails {
    pub offering: Offering,
    pub components: Vec<Component>,
    pub plans: Vec<Plan>,
}

/// The fields of a new offering other than its customer and category.
#[derive(Debug, Clone)]
pub struct OfferingFields {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub full_description: String,
    pub r#type: String,
    pub shared: bool,
    pub billable: bool,
    pub plugin_options: Map<String, Value>,
    pub attributes: Map<String, Value>,
    /// Upstream's OfferingOptions shape, `{"options": {...}, "order": [...]}`.
    pub options: Value,
    pub backend_id: String,
}

/// A new offering's own fields with the components and plans created with it.
#[derive(Debug, Clone)]
pub struct OfferingDraft {
    pub fields: OfferingFields,
    pub components: Vec<ComponentFields>,
    pub plans: Vec<PlanFields>,
}

/// An offering component as stored.
#[derive(Debug, Clone)]
pub struct Component {
    pub id: i64,
    pub uuid: Uuid32,
    pub offering_id: i64,
    pub fields: ComponentFields,
}

/// A component as a provider defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentFields {
    /// Unique in its offering.
    pub r#type: String,
    pub name: String,
    pub description: String,
    pub billing_type: BillingType,
    pub measured_unit: String,
    /// One of `catalog::LIMIT_PERIODS`.
    pub limit_period: Option<String>,
    pub limit_amount: Option<i64>,
    pub article_code: String,
    pub max_value: Option<i64>,
    pub min_value: Option<i64>,
    pub max_available_limit: Option<i64>,
    pub is_boolean: bool,
    pub default_limit: Option<i64>,
}

/// Changes to a component's fields (`update_offering_component/`); `None` leaves a field as it
/// is, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentPatch {
    pub r#type: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub billing_type: Option<BillingType>,
    pub measured_unit: Option<String>,
    pub limit_period: Option<Option<String>>,
    pub limit_amount: Option<Option<i64>>,
    pub article_code: Option<String>,
    pub max_value: Option<Option<i64>>,
    pub min_value: Option<Option<i64>>,
    pub max_available_limit: Option<Option<i64>>,
    pub is_boolean: Option<bool>,
    pub default_limit: Option<Option<i64>>,
}

impl ComponentPatch {
    pub fn apply(self, base: ComponentFields) -> ComponentFields {
        ComponentFields {
            r#type: self.r#type.unwrap_or(base.r#type),
            name: self.name.unwrap_or(base.name),
            description: self.description.unwrap_or(base.description),
            billing_type: self.billing_type.unwrap_or(base.billing_type),
            measured_unit: self.measured_unit.unwrap_or(base.measured_unit),
            limit_period: self.limit_period.unwrap_or(base.limit_period),
            limit_amount: self.limit_amount.unwrap_or(base.limit_amount),
            article_code: self.article_code.unwrap_or(base.article_code),
            max_value: self.max_value.unwrap_or(base.max_value),
            min_value: self.min_value.unwrap_or(base.min_value),
            max_available_limit: self.max_available_limit.unwrap_or(base.max_available_limit),
            is_boolean: self.is_boolean.unwrap_or(base.is_boolean),
            default_limit: self.default_limit.unwrap_or(base.default_limit),
        }
    }
}

/// A plan as stored, with its offering's uuid.
#[derive(Debug, Clone)]
pub struct Plan {
    pub id: i64,
    pub uuid: Uuid32,
    pub offering_id: i64,
    pub offering_uuid: Uuid32,
    pub name: String,
    pub description: String,
    pub article_code: String,
    /// One of `catalog::PLAN_UNITS`.
    pub unit: String,
    pub unit_price: UnitPrice,
    pub max_amount: Option<i64>,
    pub archived: bool,
    /// JSON documents, as stored.
    pub prices: String,
    pub quotas: String,
}

/// A plan as a provider defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanFields {
    pub name: String,
    pub description: String,
    pub article_code: String,
    pub unit: String,
    pub unit_price: UnitPrice,
    pub max_amount: Option<i64>,
    pub archived: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_keeps_what_it_does_not_name() {
        let base = ComponentFields {
            r#type: "cpu".into(),
            name: "CPU".into(),
            description: String::new(),
            billing_type: BillingType::Usage,
            measured_unit: String::new(),
            limit_period: None,
            limit_amount: Some(5),
            article_code: String::new(),
            max_value: None,
            min_value: None,
            max_available_limit: None,
            is_boolean: false,
            default_limit: None,
        };
        let patch = ComponentPatch {
            name: Some("Cores".into()),
            limit_amount: Some(None),
            ..Default::default()
        };
        let changed = patch.apply(base.clone());
        assert_eq!((changed.r#type.as_str(), changed.name.as_str()), ("cpu", "Cores"));
        assert_eq!(changed.limit_amount, None);
        assert_eq!(ComponentPatch::default().apply(base.clone()), base);
    }
}
