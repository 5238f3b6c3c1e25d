//! Reading offering, component and plan bodies with DRF's field semantics and messages. Nested
//! lists report DRF's per-item errors: one object per item, `{}` for the good ones.

use crate::api::errors::{ApiError, ApiResult};
use crate::api::input::python_type;
use crate::api::input::{check_text, Input, Need, Text};
use crate::api::links::{self, HyperlinkError};
use crate::api::AppState;
use crate::authz::{Principal, Visibility};
use crate::domain::catalog::{is_internal_name, slugify, INTERNAL_NAME_MESSAGE, LIMIT_PERIODS, PLAN_UNITS};
use crate::domain::{BillingType, UnitPrice};
use crate::service::offerings::{NewOffering, DUPLICATE_TYPE};
use crate::store;
use crate::store::offerings::{ComponentFields, OfferingFields, PlanFields};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

const NOT_A_PROVIDER: &str = "Customer is not registered as a service provider.";

/// Django TextField: no length limit of its own (the body size limit applies).
const LONG: usize = usize::MAX;

/// The offering create body. `is_staff`: only staff may choose the slug, as upstream.
pub async fn offering(state: &AppState, mut input: Input, user: &Principal) -> ApiResult<NewOffering> {
    let is_staff = user.is_staff;
    let vis = Visibility::of(user, state.clock.now_micros());
    let mut f = OfferingFields::default();
    let name = input.text("name", Text::REQUIRED.max(150));
    let slug = is_staff
        .then(|| input.text("slug", Text::OPTIONAL.max(50)))
        .flatten()
        .filter(|s| !s.is_empty());
    let is_slug = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
    if slug.as_deref().is_some_and(|s| !is_slug(s)) {
        let msg = "Enter a valid \u{201c}slug\u{201d} consisting of letters, numbers, \
                   underscores or hyphens.";
        input.errors.add("slug", msg);
    }
    f.slug = slug.unwrap_or_else(|| slugify(name.as_deref().unwrap_or(""), 50));
    f.name = name.unwrap_or_default();
    f.description = input.text("description", Text::OPTIONAL.max(LONG)).unwrap_or_default();
    f.full_description = input
        .text("full_description", Text::OPTIONAL.max(LONG))
        .unwrap_or_default();
    if let Some(v) = input.present("customer", Need::Required) {
        match provider_customer(state, vis, &v).await? {
            Ok(id) => f.customer_id = id,
            Err(msg) => input.errors.add("customer", msg),
        }
    }
    if let Some(v) = input.present("category", Need::Required) {
        match category(state, &v).await? {
            Ok(id) => f.category_id = id,
            Err(msg) => input.errors.add("category", msg),
        }
    }
    f.r#type = input.text("type", Text::REQUIRED.max(100)).unwrap_or_default();
    f.shared = input.boolean("shared").unwrap_or(true);
    f.billable = input.boolean("billable").unwrap_or(true);
    f.plugin_options = Value::Object(input.object("plugin_options").unwrap_or_default()).to_string();
    f.attributes = Value::Object(input.object("attributes").unwrap_or_default()).to_string();
    f.options = options(&mut input).to_string();
    f.backend_id = input.text("backend_id", Text::OPTIONAL).unwrap_or_default();
    let components = list(&mut input, "components", |mut item| {
        let fields = ComponentPatch::read(&mut item).apply(ComponentFields::default());
        item_errors(item).map(|_| fields)
    });
    let components = components.and_then(|list| unique_types(list, &mut input));
    let plans = list(&mut input, "plans", |mut item| {
        let fields = plan(&mut item);
        item_errors(item).map(|_| fields)
    });
    input.finish()?;
    Ok(NewOffering {
        fields: f,
        components: components.unwrap_or_default(),
        plans: plans.unwrap_or_default(),
    })
}

/// `customer`: a customer hyperlink whose customer is a registered service provider.
/// A customer the caller may not see looks missing.
async fn provider_customer(state: &AppState, vis: Visibility, v: &Value) -> ApiResult<Result<i64, String>> {
    let uuid = match links::resolve(v, "customers") {
        Ok(uuid) => uuid,
        Err(e) => return Ok(Err(e.message())),
    };
    let Some(id) = store::customers::visible_id(state.db.reader(), &uuid, vis).await? else {
        return Ok(Err(HyperlinkError::DoesNotExist.message()));
    };
    if !store::providers::is_registered(state.db.reader(), id).await? {
        return Ok(Err(NOT_A_PROVIDER.into()));
    }
    Ok(Ok(id))
}

async fn category(state: &AppState, v: &Value) -> ApiResult<Result<i64, String>> {
    let uuid = match links::resolve(v, "marketplace-categories") {
        Ok(uuid) => uuid,
        Err(e) => return Ok(Err(e.message())),
    };
    Ok(store::categories::by_uuid(state.db.reader(), &uuid)
        .await?
        .map(|row| row.id)
        .ok_or_else(|| HyperlinkError::DoesNotExist.message()))
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

/// A component's writable fields as sent; `None` leaves a field as it is. Read from a full body
/// (create: required fields enforced) or a partial one (`update_offering_component/`).
#[derive(Debug, Default)]
pub struct ComponentPatch {
    r#type: Option<String>,
    name: Option<String>,
    billing_type: Option<BillingType>,
    description: Option<String>,
    measured_unit: Option<String>,
    limit_period: Option<Option<String>>,
    limit_amount: Option<Option<i64>>,
    article_code: Option<String>,
    max_value: Option<Option<i64>>,
    min_value: Option<Option<i64>>,
    max_available_limit: Option<Option<i64>>,
    is_boolean: Option<bool>,
    default_limit: Option<Option<i64>>,
}

impl ComponentPatch {
    /// Fields in the order upstream's serializer declares them, so errors come in that order.
    pub fn read(input: &mut Input) -> Self {
        let billing_types = BillingType::ALL.map(BillingType::as_str);
        let billing_type =
            choice(input, "billing_type", Need::Required, &billing_types).and_then(|s| BillingType::parse(&s));
        let r#type = input.text("type", Text::REQUIRED.max(50));
        let r#type = match r#type {
            Some(t) if !is_internal_name(&t) => {
                input.errors.add("type", INTERNAL_NAME_MESSAGE);
                None
            }
            other => other,
        };
        Self {
            billing_type,
            r#type,
            name: input.text("name", Text::REQUIRED.max(150)),
            description: input.text("description", Text::OPTIONAL.max(4096)),
            measured_unit: input.text("measured_unit", Text::OPTIONAL.max(30)),
            limit_period: limit_period(input),
            limit_amount: int32(input, "limit_amount"),
            article_code: input.text("article_code", Text::OPTIONAL.max(30)),
            max_value: int32(input, "max_value"),
            min_value: int32(input, "min_value"),
            max_available_limit: int32(input, "max_available_limit"),
            is_boolean: input.boolean("is_boolean"),
            default_limit: int32(input, "default_limit"),
        }
    }

    pub fn apply(self, base: ComponentFields) -> ComponentFields {
        ComponentFields {
            r#type: self.r#type.unwrap_or(base.r#type),
            name: self.name.unwrap_or(base.name),
            billing_type: self
                .billing_type
                .map(|b| b.as_str().to_string())
                .unwrap_or(base.billing_type),
            description: self.description.unwrap_or(base.description),
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

/// A component body as `create_offering_component/` takes it.
pub fn component(mut input: Input) -> ApiResult<ComponentFields> {
    let fields = ComponentPatch::read(&mut input).apply(ComponentFields::default());
    input.finish()?;
    Ok(fields)
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

fn plan(input: &mut Input) -> PlanFields {
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
    PlanFields {
        name: input.text("name", Text::REQUIRED.max(150)).unwrap_or_default(),
        description: input.text("description", Text::OPTIONAL.max(LONG)).unwrap_or_default(),
        article_code: input.text("article_code", Text::OPTIONAL.max(30)).unwrap_or_default(),
        unit: choice(input, "unit", Need::Optional, &PLAN_UNITS).unwrap_or_else(|| "month".into()),
        unit_price: unit_price.to_string(),
        max_amount: input.nullable_integer("max_amount", 1, 32767).flatten(),
        archived: input.boolean("archived").unwrap_or(false),
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
fn unique_types(list: Vec<ComponentFields>, input: &mut Input) -> Option<Vec<ComponentFields>> {
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

/// The errors an item's reader collected, as the item's error object.
fn item_errors(item: Input) -> Result<(), Value> {
    match item.finish() {
        Ok(()) => Ok(()),
        Err(ApiError::Validation(body)) => Err(body),
        Err(_) => Err(json!({})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> Input {
        match v {
            Value::Object(map) => Input::new(map),
            _ => unreachable!(),
        }
    }

    fn errors(i: Input) -> Value {
        item_errors(i).unwrap_err()
    }

    #[test]
    fn a_component_needs_type_name_and_billing_type() {
        let mut i = input(json!({"type": "cpu hours", "billing_type": "weekly"}));
        ComponentPatch::read(&mut i);
        assert_eq!(
            errors(i),
            json!({
                "billing_type": ["\"weekly\" is not a valid choice."],
                "type": [INTERNAL_NAME_MESSAGE],
                "name": ["This field is required."],
            })
        );
    }

    #[test]
    fn component_numbers_may_be_integral_floats_and_periods_null_or_blank() {
        let mut i = input(json!({
            "type": "cpu", "name": "CPU", "billing_type": "usage",
            "limit_amount": 10.0, "max_value": null, "limit_period": ""
        }));
        let f = ComponentPatch::read(&mut i).apply(ComponentFields::default());
        assert!(item_errors(i).is_ok());
        assert_eq!(f.limit_amount, Some(10));
        assert_eq!(f.max_value, None);
        assert_eq!(f.limit_period, None);
        assert_eq!(f.billing_type, "usage");

        let mut i = input(json!({"limit_amount": 1.5, "limit_period": "weekly"}));
        ComponentPatch::read(&mut i);
        let e = errors(i);
        assert_eq!(e["limit_amount"], json!(["A valid integer is required."]));
        assert_eq!(e["limit_period"], json!(["\"weekly\" is not a valid choice."]));
    }

    #[test]
    fn a_partial_patch_keeps_what_was_not_sent() {
        let base = ComponentFields {
            r#type: "cpu".into(),
            name: "CPU".into(),
            billing_type: "usage".into(),
            limit_amount: Some(5),
            ..Default::default()
        };
        let mut i = input(json!({"name": "Cores", "limit_amount": null})).partial(true);
        let f = ComponentPatch::read(&mut i).apply(base);
        assert!(item_errors(i).is_ok());
        assert_eq!((f.r#type.as_str(), f.name.as_str()), ("cpu", "Cores"));
        assert_eq!(f.limit_amount, None);
    }

    #[test]
    fn plans_default_to_monthly_and_zero_price() {
        let mut i = input(json!({"name": "Basic"}));
        let p = plan(&mut i);
        assert!(item_errors(i).is_ok());
        assert_eq!((p.unit.as_str(), p.unit_price.as_str()), ("month", "0.0000000"));

        let mut i = input(json!({"name": "X", "unit": "week", "unit_price": "1.123456789", "max_amount": 0}));
        plan(&mut i);
        let e = errors(i);
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
            errors(i),
            json!({"options": {
                "options": ["Expected a dictionary of items but got type \"list\"."],
                "order": ["Expected a list of items but got type \"dict\"."],
            }})
        );
    }

    #[test]
    fn lists_report_per_item_errors() {
        let mut i = input(json!({"plans": [{"name": "ok"}, {}, 3]}));
        let got = list(&mut i, "plans", |mut item| {
            let p = plan(&mut item);
            item_errors(item).map(|_| p)
        });
        assert!(got.is_none());
        assert_eq!(
            errors(i),
            json!({"plans": [
                {},
                {"name": ["This field is required."]},
                {"non_field_errors": ["Invalid data. Expected a dictionary, but got int."]},
            ]})
        );
    }

    #[test]
    fn duplicate_component_types_are_flagged_on_the_later_item() {
        let c = |t: &str| ComponentFields {
            r#type: t.into(),
            ..Default::default()
        };
        let mut i = input(json!({}));
        assert!(unique_types(vec![c("a"), c("b"), c("a")], &mut i).is_none());
        assert_eq!(errors(i), json!({"components": [{}, {}, {"type": [DUPLICATE_TYPE]}]}));
    }
}
