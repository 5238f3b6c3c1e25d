//! The offering, component and plan request bodies as parsed, with DRF's field semantics and
//! messages. Nested lists report DRF's per-item errors: one object per item, `{}` for the good
//! ones. What only the database can check (the customer and category an offering names, the
//! component an action names) is left to the use case with the body's verdict
//! (`service::checked`), which reports it in upstream's order.

use crate::api::errors::{ApiError, ApiResult};
use crate::api::input::{check_text, check_uuid, python_type, Input, Need, Text, NOT_NULL, REQUIRED};
use crate::api::request::{deferred, reference};
use crate::authz::Principal;
use crate::domain::catalog::{is_internal_name, slugify, INTERNAL_NAME_MESSAGE, LIMIT_PERIODS, PLAN_UNITS};
use crate::domain::offering::{ComponentFields, ComponentPatch, OfferingDraft, OfferingFields, PlanFields};
use crate::domain::{BillingType, UnitPrice, Uuid32};
use crate::service::checked::{Checked, Reference};
use crate::service::offerings::{ComponentUpdate, NewOffering, DUPLICATE_TYPE};
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// Django TextField: no length limit of its own (the body size limit applies).
const LONG: usize = usize::MAX;

/// The offering create body (upstream's OfferingCreateRequest, the fields meterguard models).
/// Its customer and category are checked by the use case, which reports their errors with the
/// body's, in the order DRF reads the fields.
#[derive(Debug, ToSchema)]
pub struct OfferingCreateRequest {
    #[schema(max_length = 150)]
    name: String,
    /// Staff only (ignored for others); made from the name when not given.
    #[serde(default)]
    #[schema(max_length = 50, pattern = r"^[-a-zA-Z0-9_]+$")]
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    full_description: String,
    /// The URL of a customer registered as a service provider.
    #[schema(value_type = String, required = true)]
    customer: Option<Reference>,
    /// A category URL.
    #[schema(value_type = String, required = true)]
    category: Option<Reference>,
    #[schema(max_length = 100)]
    r#type: String,
    /// Default true.
    #[serde(default)]
    shared: bool,
    /// Default true.
    #[serde(default)]
    billable: bool,
    #[serde(default)]
    #[schema(value_type = Object)]
    plugin_options: Map<String, Value>,
    #[serde(default)]
    #[schema(value_type = Object)]
    attributes: Map<String, Value>,
    /// `{"options": {...}, "order": [...]}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    options: Value,
    #[serde(default)]
    backend_id: String,
    /// Each of a type of its own.
    #[serde(default)]
    components: Vec<ComponentRequest>,
    #[serde(default)]
    plans: Vec<PlanRequest>,
    /// The errors of the fields read here (the references' are the use case's).
    #[schema(ignore)]
    errors: Option<Value>,
}

impl OfferingCreateRequest {
    /// Only staff may choose the slug, as upstream.
    pub fn parse(mut input: Input, caller: &Principal) -> ApiResult<Self> {
        let name = input.text("name", Text::REQUIRED.max(150));
        let slug = caller
            .is_staff
            .then(|| input.text("slug", Text::OPTIONAL.max(50)))
            .flatten()
            .filter(|s| !s.is_empty());
        let is_slug = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
        if slug.as_deref().is_some_and(|s| !is_slug(s)) {
            let msg = "Enter a valid \u{201c}slug\u{201d} consisting of letters, numbers, \
                       underscores or hyphens.";
            input.errors.add("slug", msg);
        }
        let slug = slug.unwrap_or_else(|| slugify(name.as_deref().unwrap_or(""), 50));
        let description = input.text("description", Text::OPTIONAL.max(LONG)).unwrap_or_default();
        let full_description = input
            .text("full_description", Text::OPTIONAL.max(LONG))
            .unwrap_or_default();
        let customer = reference(&mut input, "customer", "customers");
        let category = reference(&mut input, "category", "marketplace-categories");
        let r#type = input.text("type", Text::REQUIRED.max(100)).unwrap_or_default();
        let shared = input.boolean("shared").unwrap_or(true);
        let billable = input.boolean("billable").unwrap_or(true);
        let plugin_options = input.object("plugin_options").unwrap_or_default();
        let attributes = input.object("attributes").unwrap_or_default();
        let options = options(&mut input);
        let backend_id = input.text("backend_id", Text::OPTIONAL).unwrap_or_default();
        let components = list(&mut input, "components", |item| {
            item_verdict(ComponentRequest::parse(item))
        })
        .and_then(|list| unique_types(list, &mut input));
        let plans = list(&mut input, "plans", |item| item_verdict(PlanRequest::parse(item)));
        let errors = deferred(input.finish())?.err();
        Ok(Self {
            name: name.unwrap_or_default(),
            slug,
            description,
            full_description,
            customer,
            category,
            r#type,
            shared,
            billable,
            plugin_options,
            attributes,
            options,
            backend_id,
            components: components.unwrap_or_default(),
            plans: plans.unwrap_or_default(),
            errors,
        })
    }
}

impl From<OfferingCreateRequest> for NewOffering {
    fn from(r: OfferingCreateRequest) -> Self {
        let fields = OfferingFields {
            name: r.name,
            slug: r.slug,
            description: r.description,
            full_description: r.full_description,
            r#type: r.r#type,
            shared: r.shared,
            billable: r.billable,
            plugin_options: r.plugin_options,
            attributes: r.attributes,
            options: r.options,
            backend_id: r.backend_id,
        };
        let components = r.components.into_iter().map(ComponentFields::from).collect();
        let plans = r.plans.into_iter().map(PlanFields::from).collect();
        let draft = OfferingDraft {
            fields,
            components,
            plans,
        };
        Self {
            customer: r.customer,
            category: r.category,
            draft: r.errors.map_or(Ok(draft), Err),
        }
    }
}

/// `options` in upstream's OfferingOptions shape, `{"options": {}, "order": []}` by default.
fn options(input: &mut Input) -> Value {
    let mut out = json!({"options": {}, "order": []});
    let Some(given) = input.object("options") else {
        return out;
    };
    let mut errors = Map::new();
    let mut check = |key: &str, kind: &str, fits: fn(&Value) -> bool| match given.get(key) {
        None => {}
        Some(v) if fits(v) => out[key] = v.clone(),
        Some(other) => {
            let msg = format!("Expected {kind} but got type \"{}\".", python_type(other));
            errors.insert(key.into(), json!([msg]));
        }
    };
    check("options", "a dictionary of items", Value::is_object);
    check("order", "a list of items", Value::is_array);
    if !errors.is_empty() {
        input.errors.set("options", Value::Object(errors));
    }
    out
}

/// A component as a provider defines it: `create_offering_component/`'s body, and each item of
/// an offering's `components` (upstream's OfferingComponentRequest).
#[derive(Debug, ToSchema)]
#[schema(as = OfferingComponentRequest)]
pub struct ComponentRequest {
    #[schema(value_type = BillingTypeChoice)]
    billing_type: BillingType,
    /// Unique in the offering.
    #[schema(max_length = 50, pattern = r"^[a-zA-Z0-9_\-\/:]+$")]
    r#type: String,
    #[schema(max_length = 150)]
    name: String,
    #[serde(default)]
    #[schema(max_length = 4096)]
    description: String,
    #[serde(default)]
    #[schema(max_length = 30)]
    measured_unit: String,
    #[serde(default)]
    #[schema(value_type = Option<LimitPeriodChoice>)]
    limit_period: Option<String>,
    #[serde(default)]
    #[schema(minimum = -2147483648, maximum = 2147483647)]
    limit_amount: Option<i64>,
    #[serde(default)]
    #[schema(max_length = 30)]
    article_code: String,
    #[serde(default)]
    #[schema(minimum = -2147483648, maximum = 2147483647)]
    max_value: Option<i64>,
    #[serde(default)]
    #[schema(minimum = -2147483648, maximum = 2147483647)]
    min_value: Option<i64>,
    #[serde(default)]
    #[schema(minimum = -2147483648, maximum = 2147483647)]
    max_available_limit: Option<i64>,
    #[serde(default)]
    is_boolean: bool,
    #[serde(default)]
    #[schema(minimum = -2147483648, maximum = 2147483647)]
    default_limit: Option<i64>,
}

impl ComponentRequest {
    pub fn parse(mut input: Input) -> ApiResult<Self> {
        let changes = ComponentChanges::read(&mut input);
        input.finish()?;
        changes
            .complete()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("component fields passed validation unset")))
    }
}

impl From<ComponentRequest> for ComponentFields {
    fn from(r: ComponentRequest) -> Self {
        Self {
            r#type: r.r#type,
            name: r.name,
            description: r.description,
            billing_type: r.billing_type,
            measured_unit: r.measured_unit,
            limit_period: r.limit_period,
            limit_amount: r.limit_amount,
            article_code: r.article_code,
            max_value: r.max_value,
            min_value: r.min_value,
            max_available_limit: r.max_available_limit,
            is_boolean: r.is_boolean,
            default_limit: r.default_limit,
        }
    }
}

/// A component's fields as sent; `None` leaves a field as it is. Read from a full body (create:
/// the required fields enforced) or a partial one (`update_offering_component/`).
#[derive(Debug, Default, ToSchema)]
#[schema(as = PatchedOfferingComponentRequest)]
pub struct ComponentChanges {
    #[schema(value_type = Option<BillingTypeChoice>, nullable = false)]
    billing_type: Option<BillingType>,
    #[schema(max_length = 50, pattern = r"^[a-zA-Z0-9_\-\/:]+$", nullable = false)]
    r#type: Option<String>,
    #[schema(max_length = 150, nullable = false)]
    name: Option<String>,
    #[schema(max_length = 4096, nullable = false)]
    description: Option<String>,
    #[schema(max_length = 30, nullable = false)]
    measured_unit: Option<String>,
    #[schema(value_type = Option<LimitPeriodChoice>)]
    limit_period: Option<Option<String>>,
    #[schema(value_type = Option<i64>, minimum = -2147483648, maximum = 2147483647)]
    limit_amount: Option<Option<i64>>,
    #[schema(max_length = 30, nullable = false)]
    article_code: Option<String>,
    #[schema(value_type = Option<i64>, minimum = -2147483648, maximum = 2147483647)]
    max_value: Option<Option<i64>>,
    #[schema(value_type = Option<i64>, minimum = -2147483648, maximum = 2147483647)]
    min_value: Option<Option<i64>>,
    #[schema(value_type = Option<i64>, minimum = -2147483648, maximum = 2147483647)]
    max_available_limit: Option<Option<i64>>,
    #[schema(nullable = false)]
    is_boolean: Option<bool>,
    #[schema(value_type = Option<i64>, minimum = -2147483648, maximum = 2147483647)]
    default_limit: Option<Option<i64>>,
}

impl ComponentChanges {
    /// Fields in the order upstream's serializer declares them, so errors come in that order.
    fn read(input: &mut Input) -> Self {
        let billing_types = BillingType::ALL.map(BillingType::as_str);
        let billing_type =
            choice(input, "billing_type", Need::Required, &billing_types).and_then(|s| BillingType::parse(&s));
        let r#type = match input.text("type", Text::REQUIRED.max(50)) {
            Some(t) if !is_internal_name(&t) => {
                input.errors.add("type", INTERNAL_NAME_MESSAGE);
                None
            }
            other => other,
        };
        let name = input.text("name", Text::REQUIRED.max(150));
        let description = input.text("description", Text::OPTIONAL.max(4096));
        let measured_unit = input.text("measured_unit", Text::OPTIONAL.max(30));
        let limit_period = limit_period(input);
        let limit_amount = int32(input, "limit_amount");
        let article_code = input.text("article_code", Text::OPTIONAL.max(30));
        let max_value = int32(input, "max_value");
        let min_value = int32(input, "min_value");
        let max_available_limit = int32(input, "max_available_limit");
        let is_boolean = input.boolean("is_boolean");
        let default_limit = int32(input, "default_limit");
        Self {
            billing_type,
            r#type,
            name,
            description,
            measured_unit,
            limit_period,
            limit_amount,
            article_code,
            max_value,
            min_value,
            max_available_limit,
            is_boolean,
            default_limit,
        }
    }

    /// A new component's fields: the required ones given, the others' defaults otherwise.
    fn complete(self) -> Option<ComponentRequest> {
        Some(ComponentRequest {
            billing_type: self.billing_type?,
            r#type: self.r#type?,
            name: self.name?,
            description: self.description.unwrap_or_default(),
            measured_unit: self.measured_unit.unwrap_or_default(),
            limit_period: self.limit_period.flatten(),
            limit_amount: self.limit_amount.flatten(),
            article_code: self.article_code.unwrap_or_default(),
            max_value: self.max_value.flatten(),
            min_value: self.min_value.flatten(),
            max_available_limit: self.max_available_limit.flatten(),
            is_boolean: self.is_boolean.unwrap_or_default(),
            default_limit: self.default_limit.flatten(),
        })
    }
}

impl From<ComponentChanges> for ComponentPatch {
    fn from(c: ComponentChanges) -> Self {
        Self {
            r#type: c.r#type,
            name: c.name,
            description: c.description,
            billing_type: c.billing_type,
            measured_unit: c.measured_unit,
            limit_period: c.limit_period,
            limit_amount: c.limit_amount,
            article_code: c.article_code,
            max_value: c.max_value,
            min_value: c.min_value,
            max_available_limit: c.max_available_limit,
            is_boolean: c.is_boolean,
            default_limit: c.default_limit,
        }
    }
}

/// `update_offering_component/`'s body: the component's `uuid` and the fields to change (a
/// partial update). Upstream checks the uuid, finds the component, and only then validates the
/// fields, so each part keeps its own verdict.
#[derive(Debug, ToSchema)]
#[schema(as = UpdateOfferingComponentRequest)]
pub struct ComponentUpdateRequest {
    /// The component to change.
    #[schema(value_type = String, format = Uuid)]
    uuid: Checked<Uuid32>,
    #[serde(flatten)]
    #[schema(value_type = ComponentChanges)]
    changes: Checked<ComponentChanges>,
}

impl ComponentUpdateRequest {
    pub fn parse(input: Input) -> ApiResult<Self> {
        let mut input = input.partial(true);
        let uuid = deferred(component_uuid(&input))?;
        let changes = ComponentChanges::read(&mut input);
        let changes = deferred(input.finish().map(|()| changes))?;
        Ok(Self { uuid, changes })
    }
}

impl From<ComponentUpdateRequest> for ComponentUpdate {
    fn from(r: ComponentUpdateRequest) -> Self {
        Self {
            component: r.uuid,
            patch: r.changes.map(ComponentPatch::from),
        }
    }
}

/// `remove_offering_component/`'s body (upstream's RemoveOfferingComponentRequest).
#[derive(Debug, ToSchema)]
#[schema(as = RemoveOfferingComponentRequest)]
pub struct ComponentRemoveRequest {
    /// The component to remove.
    #[schema(value_type = String, format = Uuid)]
    uuid: Checked<Uuid32>,
}

impl ComponentRemoveRequest {
    /// The uuid's verdict waits for the offering's lookup and permission check.
    pub fn parse(input: Input) -> ApiResult<Self> {
        Ok(Self {
            uuid: deferred(component_uuid(&input))?,
        })
    }

    pub fn component(self) -> Checked<Uuid32> {
        self.uuid
    }
}

/// `uuid` of the component an action names (the client sends it hyphenated).
fn component_uuid(body: &Input) -> ApiResult<Uuid32> {
    match body.raw("uuid") {
        None => Err(ApiError::field("uuid", REQUIRED)),
        Some(Value::Null) => Err(ApiError::field("uuid", NOT_NULL)),
        Some(v) => check_uuid(v).map_err(|msg| ApiError::field("uuid", msg)),
    }
}

/// A nullable 32-bit integer; integral floats (`10.0`) are accepted, as DRF does.
fn int32(input: &mut Input, field: &str) -> Option<Option<i64>> {
    input.nullable_integer(field, i32::MIN.into(), i32::MAX.into())
}

/// Nullable and blank-able: null and `""` both mean "no period".
fn limit_period(input: &mut Input) -> Option<Option<String>> {
    match input.raw("limit_period") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.is_empty() => Some(None),
        Some(_) => choice(input, "limit_period", Need::Optional, &LIMIT_PERIODS).map(Some),
    }
}

/// A plan as a provider defines it, an item of an offering's `plans`.
#[derive(Debug, ToSchema)]
pub struct PlanRequest {
    #[schema(max_length = 150)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    #[schema(max_length = 30)]
    article_code: String,
    #[serde(default)]
    #[schema(value_type = PlanUnitChoice)]
    unit: String,
    /// A decimal string, at most 7 decimal places.
    #[serde(default)]
    #[schema(value_type = String)]
    unit_price: UnitPrice,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 32767)]
    max_amount: Option<i64>,
    #[serde(default)]
    archived: bool,
}

impl PlanRequest {
    pub fn parse(mut input: Input) -> ApiResult<Self> {
        let unit_price = match input.present("unit_price", Need::Optional) {
            None => UnitPrice::default(),
            Some(v @ (Value::String(_) | Value::Number(_))) => {
                let text = check_text(&v, Text::OPTIONAL.max(LONG)).unwrap_or_default();
                UnitPrice::parse(&text).unwrap_or_else(|msg| {
                    input.errors.add("unit_price", msg);
                    UnitPrice::default()
                })
            }
            Some(_) => {
                input.errors.add("unit_price", "A valid number is required.");
                UnitPrice::default()
            }
        };
        let name = input.text("name", Text::REQUIRED.max(150)).unwrap_or_default();
        let description = input.text("description", Text::OPTIONAL.max(LONG)).unwrap_or_default();
        let article_code = input.text("article_code", Text::OPTIONAL.max(30)).unwrap_or_default();
        let unit = choice(&mut input, "unit", Need::Optional, &PLAN_UNITS).unwrap_or_else(|| "month".into());
        let max_amount = input.nullable_integer("max_amount", 1, 32767).flatten();
        let archived = input.boolean("archived").unwrap_or(false);
        input.finish()?;
        Ok(Self {
            name,
            description,
            article_code,
            unit,
            unit_price,
            max_amount,
            archived,
        })
    }
}

impl From<PlanRequest> for PlanFields {
    fn from(r: PlanRequest) -> Self {
        Self {
            name: r.name,
            description: r.description,
            article_code: r.article_code,
            unit: r.unit,
            unit_price: r.unit_price,
            max_amount: r.max_amount,
            archived: r.archived,
        }
    }
}

/// DRF's ChoiceField: the text of the value must be one of the choices.
fn choice(input: &mut Input, field: &str, need: Need, choices: &[&str]) -> Option<String> {
    let value = input.present(field, need)?;
    let text = match &value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    };
    if choices.contains(&text.as_str()) {
        Some(text)
    } else {
        input.errors.add(field, format!("\"{text}\" is not a valid choice."));
        None
    }
}

/// Reads an optional list field item by item; on any failure the field gets DRF's per-item
/// errors and `None` is returned.
fn list<T>(input: &mut Input, field: &str, mut read: impl FnMut(Input) -> Result<T, Value>) -> Option<Vec<T>> {
    let value = input.present(field, Need::Optional)?;
    let Value::Array(items) = value else {
        let msg = format!("Expected a list of items but got type \"{}\".", python_type(&value));
        input.errors.set(field, json!({"non_field_errors": [msg]}));
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    for item in items {
        let result = match item {
            Value::Object(map) => read(Input::new(map)),
            other => Err(json!({"non_field_errors": [format!(
                "Invalid data. Expected a dictionary, but got {}.", python_type(&other)
            )]})),
        };
        match result {
            Ok(v) => {
                out.push(v);
                errors.push(json!({}));
            }
            Err(e) => errors.push(e),
        }
    }
    if out.len() == errors.len() {
        Some(out)
    } else {
        input.errors.set(field, Value::Array(errors));
        None
    }
}

/// A second component of a type already listed gets a per-item error on `type`.
fn unique_types(list: Vec<ComponentRequest>, input: &mut Input) -> Option<Vec<ComponentRequest>> {
    let mut seen = HashSet::new();
    let errors: Vec<Value> = list
        .iter()
        .map(|c| match seen.insert(c.r#type.clone()) {
            true => json!({}),
            false => json!({"type": [DUPLICATE_TYPE]}),
        })
        .collect();
    if seen.len() == list.len() {
        Some(list)
    } else {
        input.errors.set("components", Value::Array(errors));
        None
    }
}

/// A list item's parse as the item's entry in the list's errors.
fn item_verdict<T>(parsed: ApiResult<T>) -> Result<T, Value> {
    match parsed {
        Ok(value) => Ok(value),
        Err(ApiError::Validation(body)) => Err(body),
        Err(_) => Err(json!({})),
    }
}

/// A string schema with a closed set of values, taken from the vocabulary the parser checks.
fn choices(values: &[&str], description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .into()
}

/// `billing_type`'s choices (upstream's BillingTypeEnum).
pub struct BillingTypeChoice;

impl PartialSchema for BillingTypeChoice {
    fn schema() -> RefOr<Schema> {
        choices(
            &BillingType::ALL.map(BillingType::as_str),
            "How the component is billed.",
        )
    }
}

impl ToSchema for BillingTypeChoice {}

/// `limit_period`'s choices (upstream's LimitPeriodEnum); blank, like null, means none.
pub struct LimitPeriodChoice;

impl PartialSchema for LimitPeriodChoice {
    fn schema() -> RefOr<Schema> {
        let mut values = LIMIT_PERIODS.to_vec();
        values.push("");
        choices(&values, "The period of the component's limit; blank or null for none.")
    }
}

impl ToSchema for LimitPeriodChoice {}

/// A plan's `unit` choices (upstream's BillingUnit); month by default.
pub struct PlanUnitChoice;

impl PartialSchema for PlanUnitChoice {
    fn schema() -> RefOr<Schema> {
        choices(&PLAN_UNITS, "The plan's billing unit.")
    }
}

impl ToSchema for PlanUnitChoice {}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> Input {
        match v {
            Value::Object(map) => Input::new(map),
            _ => unreachable!(),
        }
    }

    fn errors<T: std::fmt::Debug>(parsed: ApiResult<T>) -> Value {
        match parsed {
            Err(ApiError::Validation(body)) => body,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_component_needs_type_name_and_billing_type() {
        let got = ComponentRequest::parse(input(json!({"type": "cpu hours", "billing_type": "weekly"})));
        assert_eq!(
            errors(got),
            json!({
                "billing_type": ["\"weekly\" is not a valid choice."],
                "type": [INTERNAL_NAME_MESSAGE],
                "name": ["This field is required."],
            })
        );
    }

    #[test]
    fn component_numbers_may_be_integral_floats_and_periods_null_or_blank() {
        let f: ComponentFields = ComponentRequest::parse(input(json!({
            "type": "cpu", "name": "CPU", "billing_type": "usage",
            "limit_amount": 10.0, "max_value": null, "limit_period": ""
        })))
        .unwrap()
        .into();
        assert_eq!(f.limit_amount, Some(10));
        assert_eq!(f.max_value, None);
        assert_eq!(f.limit_period, None);
        assert_eq!(f.billing_type, BillingType::Usage);

        let e = errors(ComponentRequest::parse(input(
            json!({"limit_amount": 1.5, "limit_period": "weekly"}),
        )));
        assert_eq!(e["limit_amount"], json!(["A valid integer is required."]));
        assert_eq!(e["limit_period"], json!(["\"weekly\" is not a valid choice."]));
    }

    #[test]
    fn an_update_keeps_the_uuids_verdict_apart_from_the_fields() {
        let update: ComponentUpdate =
            ComponentUpdateRequest::parse(input(json!({"name": "Cores", "limit_amount": null})))
                .unwrap()
                .into();
        assert_eq!(update.component, Err(json!({"uuid": ["This field is required."]})));
        let patch = update.patch.unwrap();
        assert_eq!(patch.name.as_deref(), Some("Cores"));
        assert_eq!(patch.limit_amount, Some(None));
        assert_eq!(patch.r#type, None);

        let update: ComponentUpdate =
            ComponentUpdateRequest::parse(input(json!({"uuid": Uuid32::new_v4().hyphenated(), "type": "a b"})))
                .unwrap()
                .into();
        assert!(update.component.is_ok());
        assert_eq!(update.patch, Err(json!({"type": [INTERNAL_NAME_MESSAGE]})));
    }

    #[test]
    fn plans_default_to_monthly_and_zero_price() {
        let p = PlanRequest::parse(input(json!({"name": "Basic"}))).unwrap();
        assert_eq!(
            (p.unit.as_str(), p.unit_price.to_string().as_str()),
            ("month", "0.0000000")
        );

        let e = errors(PlanRequest::parse(input(
            json!({"name": "X", "unit": "week", "unit_price": "1.123456789", "max_amount": 0}),
        )));
        assert_eq!(e["unit"], json!(["\"week\" is not a valid choice."]));
        assert_eq!(
            e["unit_price"],
            json!(["Ensure that there are no more than 7 decimal places."])
        );
        assert_eq!(
            e["max_amount"],
            json!(["Ensure this value is greater than or equal to 1."])
        );
    }

    #[test]
    fn options_get_upstream_shape_and_are_checked() {
        let mut i = input(json!({}));
        assert_eq!(options(&mut i), json!({"options": {}, "order": []}));
        let mut i = input(json!({"options": {"order": ["a"]}}));
        assert_eq!(options(&mut i), json!({"options": {}, "order": ["a"]}));
        let mut i = input(json!({"options": {"options": [], "order": {}}}));
        options(&mut i);
        assert_eq!(
            errors(i.finish()),
            json!({"options": {
                "options": ["Expected a dictionary of items but got type \"list\"."],
                "order": ["Expected a list of items but got type \"dict\"."],
            }})
        );
    }

    #[test]
    fn lists_report_per_item_errors() {
        let mut i = input(json!({"plans": [{"name": "ok"}, {}, 3]}));
        let got = list(&mut i, "plans", |item| item_verdict(PlanRequest::parse(item)));
        assert!(got.is_none());
        assert_eq!(
            errors(i.finish()),
            json!({"plans": [
                {},
                {"name": ["This field is required."]},
                {"non_field_errors": ["Invalid data. Expected a dictionary, but got int."]},
            ]})
        );
    }

    #[test]
    fn duplicate_component_types_are_flagged_on_the_later_item() {
        let c =
            |t: &str| ComponentRequest::parse(input(json!({"type": t, "name": "N", "billing_type": "usage"}))).unwrap();
        let mut i = input(json!({}));
        assert!(unique_types(vec![c("a"), c("b"), c("a")], &mut i).is_none());
        assert_eq!(
            errors(i.finish()),
            json!({"components": [{}, {}, {"type": [DUPLICATE_TYPE]}]})
        );
    }

    #[test]
    fn references_keep_their_place_among_the_errors() {
        let staff = Principal {
            id: 1,
            uuid: String::new(),
            username: "s".into(),
            is_staff: true,
            is_support: false,
        };
        let body = json!({
            "name": "", "slug": "a b",
            "customer": "http://h/api/customers/0123456789abcdef0123456789abcdef/",
            "category": "http://h/api/projects/0123456789abcdef0123456789abcdef/",
        });
        let new: NewOffering = OfferingCreateRequest::parse(input(body), &staff).unwrap().into();
        assert_eq!(new.customer.map(|r| r.errors_before), Some(2));
        assert_eq!(new.category, None);
        let keys: Vec<String> = new.draft.unwrap_err().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["name", "slug", "category", "type"]);
    }
}
