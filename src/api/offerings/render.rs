//! Offerings as upstream's ProviderOfferingDetails and PublicOfferingDetails serialise them (the
//! fields meterguard models, in upstream order). Both views differ only in their hyperlinks.

use crate::api::links::Links;
use crate::api::query::object;
use crate::domain::offering::{Component, OfferingDetails, Plan, View};
use crate::domain::{time, OfferingState};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub const PROVIDER: &str = "marketplace-provider-offerings";
pub const PUBLIC: &str = "marketplace-public-offerings";
pub const PLANS: &str = "marketplace-plans";

#[derive(Debug, Serialize, ToSchema)]
pub struct OfferingOut {
    url: String,
    uuid: String,
    created: String,
    name: String,
    slug: String,
    description: String,
    full_description: String,
    customer: String,
    customer_uuid: String,
    customer_name: String,
    category: String,
    category_uuid: String,
    category_title: String,
    #[schema(value_type = Object)]
    attributes: Value,
    #[schema(value_type = Object)]
    options: Value,
    components: Vec<ComponentOut>,
    #[schema(value_type = Object)]
    plugin_options: Value,
    /// Draft, Active, Paused, Unavailable or Archived.
    state: String,
    plans: Vec<PlanOut>,
    r#type: String,
    shared: bool,
    billable: bool,
    backend_id: String,
}

impl OfferingOut {
    pub fn render(links: &Links, view: View, details: OfferingDetails) -> Self {
        let OfferingDetails {
            offering: o,
            components,
            plans,
        } = details;
        let collection = match view {
            View::Provider => PROVIDER,
            View::Public => PUBLIC,
        };
        Self {
            url: links.detail(collection, &o.uuid),
            uuid: o.uuid.to_string(),
            created: time::render(o.created),
            name: o.name,
            slug: o.slug,
            description: o.description,
            full_description: o.full_description,
            customer: links.detail("customers", &o.customer_uuid),
            customer_uuid: o.customer_uuid.to_string(),
            customer_name: o.customer_name,
            category: links.detail("marketplace-categories", &o.category_uuid),
            category_uuid: o.category_uuid.to_string(),
            category_title: o.category_title,
            attributes: object(&o.attributes),
            options: object(&o.options),
            components: components.into_iter().map(ComponentOut::render).collect(),
            plugin_options: object(&o.plugin_options),
            state: o.state.as_str().into(),
            plans: plans.into_iter().map(|p| PlanOut::render(links, view, p)).collect(),
            r#type: o.r#type,
            shared: o.shared,
            billable: o.billable,
            backend_id: o.backend_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentOut {
    uuid: String,
    /// fixed, usage, limit, one or few.
    billing_type: String,
    r#type: String,
    name: String,
    description: String,
    measured_unit: String,
    limit_period: Option<String>,
    limit_amount: Option<i64>,
    article_code: String,
    max_value: Option<i64>,
    min_value: Option<i64>,
    max_available_limit: Option<i64>,
    is_boolean: bool,
    default_limit: Option<i64>,
    factor: Option<i64>,
    is_builtin: bool,
}

impl ComponentOut {
    pub fn render(c: Component) -> Self {
        let f = c.fields;
        Self {
            uuid: c.uuid.to_string(),
            billing_type: f.billing_type.as_str().to_string(),
            r#type: f.r#type,
            name: f.name,
            description: f.description,
            measured_unit: f.measured_unit,
            limit_period: f.limit_period,
            limit_amount: f.limit_amount,
            article_code: f.article_code,
            max_value: f.max_value,
            min_value: f.min_value,
            max_available_limit: f.max_available_limit,
            is_boolean: f.is_boolean,
            default_limit: f.default_limit,
            // Read-only upstream fields meterguard does not model.
            factor: None,
            is_builtin: false,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanOut {
    url: String,
    uuid: String,
    name: String,
    description: String,
    article_code: String,
    max_amount: Option<i64>,
    archived: bool,
    is_active: bool,
    /// A decimal string with 7 places, e.g. `"0.0000000"`.
    unit_price: String,
    unit: String,
    /// One-off and plan-switch prices, which meterguard does not charge: always 0.
    init_price: f64,
    switch_price: f64,
    backend_id: String,
    /// Organization groups a plan is limited to, which meterguard does not model: always empty.
    #[schema(value_type = Vec<Object>)]
    organization_groups: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    components: Vec<Value>,
    #[schema(value_type = Object)]
    prices: Value,
    /// Scheduled price changes, which meterguard does not model: always empty.
    #[schema(value_type = Object)]
    future_prices: Value,
    #[schema(value_type = Object)]
    quotas: Value,
    resources_count: i64,
    /// Upstream derives it from the plan's priced components, which meterguard does not keep:
    /// always null (docs/differences.md §5).
    plan_type: Option<String>,
    minimal_price: f64,
}

impl PlanOut {
    pub fn render(links: &Links, view: View, p: Plan) -> Self {
        let url = match view {
            View::Provider => links.detail(PLANS, &p.uuid),
            View::Public => format!("{}/api/{PUBLIC}/{}/plans/{}/", links.base(), p.offering_uuid, p.uuid),
        };
        Self {
            url,
            uuid: p.uuid.to_string(),
            name: p.name,
            description: p.description,
            article_code: p.article_code,
            max_amount: p.max_amount,
            archived: p.archived,
            is_active: !p.archived,
            unit_price: p.unit_price.to_string(),
            unit: p.unit,
            init_price: 0.0,
            switch_price: 0.0,
            backend_id: String::new(),
            organization_groups: vec![],
            components: vec![],
            prices: object(&p.prices),
            future_prices: Value::Object(Default::default()),
            quotas: object(&p.quotas),
            resources_count: 0,
            plan_type: None,
            minimal_price: 0.0,
        }
    }
}

/// A plan with the provider offering it belongs to (`/api/marketplace-plans/{uuid}/`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanDetailOut {
    #[serde(flatten)]
    plan: PlanOut,
    offering: String,
    offering_uuid: String,
}

impl PlanDetailOut {
    pub fn render(links: &Links, p: Plan) -> Self {
        let offering_uuid = p.offering_uuid;
        Self {
            plan: PlanOut::render(links, View::Provider, p),
            offering: links.detail(PROVIDER, &offering_uuid),
            offering_uuid: offering_uuid.to_string(),
        }
    }
}

/// `activate/`'s answer (upstream's DetailState).
#[derive(Debug, Serialize, ToSchema)]
pub struct DetailStateOut {
    detail: String,
    state: String,
}

impl DetailStateOut {
    pub fn activated(state: OfferingState) -> Self {
        Self {
            detail: "Offering state updated.".into(),
            state: state.as_str().into(),
        }
    }
}
