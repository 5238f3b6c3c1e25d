//! `/api/marketplace-component-usages/`: reports from providers, and the rows they leave.

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{check_text, Need, Text, NOT_NULL, REQUIRED};
use super::links::Links;
use super::pagination::Paginated;
use super::query::{int_param, text_param, uuid_param};
use super::AppState;
use crate::authz::Visibility;
use crate::domain::page::PageRequest;
use crate::domain::{time, Amount, Month, Uuid32};
use crate::service::usage::{self as service, Report, Reporter, UsageItem};
use crate::store::{
    self,
    usages::{UsageFilter, UsageRow},
};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde_json::{json, Value};
use std::collections::HashMap;

const NOT_FOUND: &str = "No ComponentUsage matches the given query.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/marketplace-component-usages/", get(list))
        .route("/api/marketplace-component-usages/set_usage/", post(set_usage))
        .route(
            "/api/marketplace-component-usages/{uuid}/",
            get(retrieve).delete(destroy),
        )
}

fn render(u: UsageRow) -> Value {
    json!({
        "uuid": u.uuid,
        "created": time::render(u.created),
        "description": u.description,
        "type": u.component_type,
        "name": u.component_name,
        "measured_unit": u.measured_unit,
        "usage": Amount::from_hundredths(u.usage).to_string(),
        "date": time::render(u.date),
        "recurring": u.recurring != 0,
        "resource_name": u.resource_name,
        "resource_uuid": u.resource_uuid,
        "offering_name": u.offering_name,
        "offering_uuid": u.offering_uuid,
        "project_name": u.project_name,
        "project_uuid": u.project_uuid,
        "customer_name": u.customer_name,
        "customer_uuid": u.customer_uuid,
        "billing_period": Month::from_index(u.billing_month).to_string(),
        "modified_by": u.modified_by,
    })
}

fn date_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<NaiveDate>> {
    match text_param(q, key) {
        None => Ok(None),
        Some(v) => time::parse_datetime(&v)
            .map(|t| Some(t.date_naive()))
            .ok_or_else(|| ApiError::field(key, "Enter a valid date.")),
    }
}

fn filter_from(q: &HashMap<String, String>) -> ApiResult<UsageFilter> {
    let day_start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_micros();
    let resource = match text_param(q, "resource") {
        Some(url) => match super::links::resolve(&json!(url), "marketplace-resources") {
            Ok(uuid) => Some(uuid.to_string()),
            Err(_) => Some(String::new()),
        },
        None => uuid_param(q, "resource_uuid")?,
    };
    Ok(UsageFilter {
        customer_uuid: uuid_param(q, "customer_uuid")?,
        project_uuid: uuid_param(q, "project_uuid")?,
        offering_uuid: uuid_param(q, "offering_uuid")?,
        resource_uuid: resource,
        r#type: text_param(q, "type"),
        billing_month: date_param(q, "billing_period")?.map(|d| Month::of(d).index()),
        billing_year: int_param(q, "billing_period_year")?,
        billing_month_of_year: int_param(q, "billing_period_month")?,
        date_after: date_param(q, "date_after")?.map(day_start),
        date_before: date_param(q, "date_before")?.and_then(|d| d.succ_opt()).map(day_start),
    })
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<Value>> {
    let filter = filter_from(&q)?;
    let request = PageRequest::from_query(&q)?;
    let vis = Visibility::of(&user, state.clock.now_micros());
    let page = request.resolve(store::usages::count(state.db.reader(), vis, &filter).await?)?;
    let rows = store::usages::list(state.db.reader(), vis, &filter, page.limit(), page.offset()).await?;
    Ok(Paginated {
        items: rows.into_iter().map(render).collect(),
        page,
        links,
        uri,
    })
}

async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let vis = Visibility::of(&user, state.clock.now_micros());
    let row = store::usages::visible_by_uuid(state.db.reader(), &uuid, vis)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    Ok(Json(render(row)))
}

async fn destroy(State(state): State<AppState>, Staff(_): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    if service::delete(&state.db, &state.actions, &uuid, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(NOT_FOUND))
    }
}

async fn set_usage(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(mut input): JsonBody,
) -> ApiResult<StatusCode> {
    if !input.has("resource") && !input.has("plan_period") {
        input.errors.set(
            "non_field_errors",
            json!(["Either plan_period or resource should be provided."]),
        );
    }
    if input.has("plan_period") && !input.has("resource") {
        input.errors.add(
            "plan_period",
            "Reporting by plan period is not supported; name the resource.",
        );
    }
    let resource = if input.has("resource") {
        input.uuid("resource", Need::Required)
    } else {
        None
    };
    let date = match input.raw("date").cloned() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match time::parse_datetime(&s) {
            Some(t) => Some(t),
            None => {
                input.errors.add("date", DATETIME_FORMAT);
                None
            }
        },
        Some(_) => {
            input.errors.add("date", DATETIME_FORMAT);
            None
        }
    };
    let items = match input.present("usages", Need::Required) {
        Some(v) => match parse_items(&v) {
            Ok(items) => Some(items),
            Err(errors) => {
                input.errors.set("usages", errors);
                None
            }
        },
        None => None,
    };
    input.finish()?;
    let (Some(resource), Some(items)) = (resource, items) else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "usage report passed validation unset"
        )));
    };
    // Who may report is only known once the resource is found; the provider's roles are loaded
    // before the report's transaction, which only reads the verdict.
    let may_report = user.is_staff
        || match store::resources::by_uuid(state.db.reader(), &resource).await? {
            Some(r) => {
                crate::service::access::may_act_for_provider(
                    &state.db,
                    &user,
                    r.provider_customer_id,
                    state.clock.now_micros(),
                )
                .await?
            }
            None => false,
        };
    if !may_report {
        // Refused either way; a resource the caller cannot see must look missing, not forbidden.
        let vis = Visibility::of(&user, state.clock.now_micros());
        if store::resources::visible_by_uuid(state.db.reader(), &resource, vis)
            .await?
            .is_none()
        {
            return Err(ApiError::field("resource", service::no_such_resource(&resource)));
        }
    }
    let reporter = Reporter {
        user_id: user.id,
        is_staff: user.is_staff,
        may_report,
    };
    let report = Report { resource, items, date };
    state.reports.submit(reporter, report, state.clock.now()).await?;
    Ok(StatusCode::CREATED)
}

const DATETIME_FORMAT: &str =
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

fn parse_items(value: &Value) -> Result<Vec<UsageItem>, Value> {
    let Value::Array(items) = value else {
        return Err(json!({"non_field_errors": [format!(
            "Expected a list of items but got type \"{}\".", super::input::python_type(value)
        )]}));
    };
    let mut parsed = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let Value::Object(map) = item else {
            errors.push(json!({"non_field_errors": [format!(
                "Invalid data. Expected a dictionary, but got {}.", super::input::python_type(item)
            )]}));
            continue;
        };
        let mut e = serde_json::Map::new();
        let component_type = match map.get("type") {
            None => {
                e.insert("type".into(), json!([REQUIRED]));
                None
            }
            Some(Value::Null) => {
                e.insert("type".into(), json!([NOT_NULL]));
                None
            }
            Some(v) => check_text(v, Text::REQUIRED)
                .map_err(|m| e.insert("type".into(), json!([m])))
                .ok(),
        };
        let amount = match map.get("amount") {
            None => {
                e.insert("amount".into(), json!([REQUIRED]));
                None
            }
            Some(Value::Null) => {
                e.insert("amount".into(), json!([NOT_NULL]));
                None
            }
            Some(v) => Amount::parse(v).map_err(|m| e.insert("amount".into(), json!([m]))).ok(),
        };
        let description = match map.get("description") {
            None | Some(Value::Null) => Some(String::new()),
            Some(v) => check_text(v, Text::OPTIONAL.max(10_000))
                .map_err(|m| e.insert("description".into(), json!([m])))
                .ok(),
        };
        let recurring = match map.get("recurring") {
            None | Some(Value::Null) => Some(false),
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                e.insert("recurring".into(), json!(["Must be a valid boolean."]));
                None
            }
        };
        match (component_type, amount, description, recurring) {
            (Some(component_type), Some(amount), Some(description), Some(recurring)) if e.is_empty() => {
                parsed.push(UsageItem {
                    component_type,
                    amount,
                    description,
                    recurring,
                });
                errors.push(json!({}));
            }
            _ => errors.push(Value::Object(e)),
        }
    }
    if parsed.len() == items.len() {
        Ok(parsed)
    } else {
        Err(Value::Array(errors))
    }
}
