//! Offerings as upstream's ProviderOfferingDetails and PublicOfferingDetails serialise them (the
//! fields meterguard models, in upstream order). Both views differ only in their hyperlinks.

use crate::api::errors::ApiResult;
use crate::api::links::Links;
use crate::api::query::object;
use crate::domain::{time, UnitPrice};
use crate::store::offerings::{self, ComponentFields, OfferingRow, PlanRow};
use serde::Serialize;
use serde_json::Value;
use sqlx::AnyPool;
use std::collections::HashMap;
use utoipa::ToSchema;

pub const PROVIDER: &str = "marketplace-provider-offerings";
pub const PUBLIC: &str = "marketplace-public-offerings";
pub const PLANS: &str = "marketplace-plans";

/// Which view's hyperlinks an offering and its plans carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `/api/marketplace-provider-offerings/<o>/`, plans at `/api/marketplace-plans/<p>/`.
    Provider,
    /// `/api/marketplace-public-offerings/<o>/`, plans at `.../<o>/plans/<p>/`.
    Public,
}

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
    state: String,
    plans: Vec<PlanOut>,
    r#type: String,
    shared: bool,
    billable: bool,
    backend_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentOut {
    uuid: String,
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
    pub fn new(uuid: String, f: ComponentFields) -> Self {
        Self {
            uuid,
            billing_type: f.billing_type,
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
    #[schema(value_type = Vec<Object>)]
    components: Vec<Value>,
    #[schema(value_type = Object)]
    prices: Value,
    #[schema(value_type = Object)]
    quotas: Value,
    resources_count: i64,
}

impl PlanOut {
    pub fn uuid(&self) -> &str {
        &self.uuid
    }
}

pub fn plan(links: &Links, view: View, p: PlanRow) -> PlanOut {
    let url = match view {
        View::Provider => links.detail_hex(PLANS, &p.uuid),
        View::Public => format!("{}/api/{PUBLIC}/{}/plans/{}/", links.base(), p.offering_uuid, p.uuid),
    };
    let archived = p.archived != 0;
    PlanOut {
        url,
        uuid: p.uuid,
        name: p.name,
        description: p.description,
        article_code: p.article_code,
        max_amount: p.max_amount,
        archived,
        is_active: !archived,
        unit_price: UnitPrice::parse(&p.unit_price).unwrap_or_default().to_string(),
        unit: p.unit,
        components: vec![],
        prices: object(&p.prices),
        quotas: object(&p.quotas),
        // Resources are not modelled in this slice yet.
        resources_count: 0,
    }
}

/// Renders offerings with their components and plans, fetched in two queries.
pub async fn offerings(
    pool: &AnyPool,
    links: &Links,
    view: View,
    rows: Vec<OfferingRow>,
) -> ApiResult<Vec<OfferingOut>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut components: HashMap<i64, Vec<ComponentOut>> = HashMap::new();
    for c in offerings::components_of(pool, &ids).await? {
        let owner = c.offering_id;
        let out = ComponentOut::new(c.uuid.clone(), c.into());
        components.entry(owner).or_default().push(out);
    }
    let mut plans: HashMap<i64, Vec<PlanOut>> = HashMap::new();
    for p in offerings::plans_of(pool, &ids).await? {
        plans.entry(p.offering_id).or_default().push(plan(links, view, p));
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let components = components.remove(&row.id).unwrap_or_default();
            let plans = plans.remove(&row.id).unwrap_or_default();
            offering(links, view, row, components, plans)
        })
        .collect())
}

fn offering(
    links: &Links,
    view: View,
    o: OfferingRow,
    components: Vec<ComponentOut>,
    plans: Vec<PlanOut>,
) -> OfferingOut {
    let collection = match view {
        View::Provider => PROVIDER,
        View::Public => PUBLIC,
    };
    OfferingOut {
        url: links.detail_hex(collection, &o.uuid),
        created: time::render(o.created),
        customer: links.detail_hex("customers", &o.customer_uuid),
        category: links.detail_hex("marketplace-categories", &o.category_uuid),
        uuid: o.uuid,
        name: o.name,
        slug: o.slug,
        description: o.description,
        full_description: o.full_description,
        customer_uuid: o.customer_uuid,
        customer_name: o.customer_name,
        category_uuid: o.category_uuid,
        category_title: o.category_title,
        attributes: object(&o.attributes),
        options: object(&o.options),
        components,
        plugin_options: object(&o.plugin_options),
        state: o.state,
        plans,
        r#type: o.r#type,
        shared: o.shared != 0,
        billable: o.billable != 0,
        backend_id: o.backend_id,
    }
}
