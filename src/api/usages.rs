//! `/api/marketplace-component-usages/`: reports from providers, and the rows they leave
//! (docs/api.md §8).

use super::auth::{CurrentUser, Staff};
use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, CommonErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{check_text, python_type, Input, Need, Text, NOT_NULL, REQUIRED};
use super::links::{self, Links};
use super::pagination::Paginated;
use super::query::path_uuid;
use super::query::{int_param, text_param, uuid_param};
use super::AppState;
use crate::domain::page::PageRequest;
use crate::domain::usage::{UsageFilter, UsageRecord};
use crate::domain::{time, Amount, Month, Uuid32};
use crate::service::usage::{self as service, Report, UsageItem, NOT_FOUND};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

const DATETIME_FORMAT: &str =
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/marketplace-component-usages/", get(list))
        .route("/api/marketplace-component-usages/set_usage/", post(set_usage))
        .route(
            "/api/marketplace-component-usages/{uuid}/",
            get(retrieve).delete(destroy),
        )
}

/// A usage row as upstream serialises it, keys in upstream order.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageOut {
    uuid: String,
    #[schema(format = DateTime)]
    created: String,
    description: String,
    /// The component's type.
    r#type: String,
    /// The component's name.
    name: String,
    measured_unit: String,
    /// The month's amount, a decimal with at most two places.
    #[schema(format = "decimal")]
    usage: String,
    #[schema(format = DateTime)]
    date: String,
    recurring: bool,
    resource_name: String,
    resource_uuid: String,
    offering_name: String,
    offering_uuid: String,
    project_name: String,
    project_uuid: String,
    customer_name: String,
    customer_uuid: String,
    /// The first day of the billing month.
    #[schema(format = Date)]
    billing_period: String,
    /// The id of the user who reported it last.
    modified_by: Option<i64>,
}

impl UsageOut {
    fn render(u: UsageRecord) -> Self {
        Self {
            uuid: u.uuid.to_string(),
            created: time::render(u.created),
            description: u.description,
            r#type: u.component_type,
            name: u.component_name,
            measured_unit: u.measured_unit,
            usage: u.usage.to_string(),
            date: time::render(u.date),
            recurring: u.recurring,
            resource_name: u.resource_name,
            resource_uuid: u.resource_uuid.to_string(),
            offering_name: u.offering_name,
            offering_uuid: u.offering_uuid.to_string(),
            project_name: u.project_name,
            project_uuid: u.project_uuid.to_string(),
            customer_name: u.customer_name,
            customer_uuid: u.customer_uuid.to_string(),
            billing_period: u.billing_period.to_string(),
            modified_by: u.modified_by,
        }
    }
}

/// The list's query: uuid filters must be uuids, dates dates, numbers numbers (400 otherwise);
/// `resource` takes a resource URL, and anything else matches nothing.
fn parse_filter(q: &HashMap<String, String>) -> ApiResult<UsageFilter> {
    let day_start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_micros();
    let resource = match text_param(q, "resource")? {
        Some(url) => match links::resolve(&json!(url), "marketplace-resources") {
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
        r#type: text_param(q, "type")?,
        billing_month: date_param(q, "billing_period")?.map(Month::of),
        billing_year: int_param(q, "billing_period_year")?,
        billing_month_of_year: int_param(q, "billing_period_month")?,
        date_after: date_param(q, "date_after")?.map(day_start),
        date_before: date_param(q, "date_before")?.and_then(|d| d.succ_opt()).map(day_start),
    })
}

fn date_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<NaiveDate>> {
    match text_param(q, key)? {
        None => Ok(None),
        Some(v) => time::parse_datetime(&v)
            .map(|t| Some(t.date_naive()))
            .ok_or_else(|| ApiError::field(key, "Enter a valid date.")),
    }
}

#[utoipa::path(
    get, path = "/api/marketplace-component-usages/",
    operation_id = "marketplace_component_usages_list",
    tag = "marketplace-component-usages",
    params(
        ("billing_period" = Option<String>, Query, format = Date, description = "A day of the billing month."),
        ("billing_period_month" = Option<i64>, Query, description = "Billing period month"),
        ("billing_period_year" = Option<i64>, Query, description = "Billing period year"),
        ("customer_uuid" = Option<String>, Query, format = Uuid, description = "Customer UUID"),
        ("date_after" = Option<String>, Query, format = Date, description = "Date after or equal to"),
        ("date_before" = Option<String>, Query, format = Date, description = "Date before or equal to"),
        ("offering_uuid" = Option<String>, Query, format = Uuid, description = "Offering UUID"),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
        ("project_uuid" = Option<String>, Query, format = Uuid, description = "Project UUID"),
        ("resource" = Option<String>, Query, description = "Resource URL"),
        ("resource_uuid" = Option<String>, Query, format = Uuid, description = "Resource UUID"),
        ("type" = Option<String>, Query, description = "Component type"),
    ),
    responses(
        (status = 200, body = Vec<UsageOut>, headers(("x-result-count" = i64))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<UsageOut>> {
    let filter = parse_filter(&q)?;
    let request = PageRequest::from_query(&q)?;
    let listed = service::list(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed.items.into_iter().map(UsageOut::render).collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[utoipa::path(
    get, path = "/api/marketplace-component-usages/{uuid}/",
    operation_id = "marketplace_component_usages_retrieve",
    tag = "marketplace-component-usages",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = UsageOut), ObjectErrors, CommonErrors)
)]
async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<UsageOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    let usage = service::retrieve(&state.db, &user, &uuid, state.clock.now_micros()).await?;
    Ok(Json(UsageOut::render(usage)))
}

/// Staff only: the row's amount leaves the customer's totals, and the policies are re-evaluated.
#[utoipa::path(
    delete, path = "/api/marketplace-component-usages/{uuid}/",
    operation_id = "marketplace_component_usages_destroy",
    tag = "marketplace-component-usages",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "No response body"),
        ForbiddenErrors, ObjectErrors, CommonErrors
    )
)]
async fn destroy(State(state): State<AppState>, Staff(user): Staff, Path(raw): Path<String>) -> ApiResult<StatusCode> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    service::delete(&state.db, &state.actions, &user, &uuid, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Answered once the report is committed, with the policies it moved evaluated.
#[utoipa::path(
    post, path = "/api/marketplace-component-usages/set_usage/",
    operation_id = "marketplace_component_usages_set_usage",
    tag = "marketplace-component-usages",
    request_body = SetUsageRequest,
    responses(
        (status = 201, description = "No response body"),
        InputErrors, ForbiddenErrors, CommonErrors
    )
)]
async fn set_usage(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(input): JsonBody,
) -> ApiResult<StatusCode> {
    let request = SetUsageRequest::parse(input)?;
    service::report(&state.db, &state.reports, &user, request.into(), state.clock.now()).await?;
    Ok(StatusCode::CREATED)
}

/// A usage report. Reporting by `plan_period` is refused: name the resource.
#[derive(Debug, ToSchema)]
pub struct SetUsageRequest {
    /// The resource's uuid.
    #[schema(value_type = String, format = Uuid)]
    resource: Uuid32,
    usages: Vec<UsageItemRequest>,
    /// When the usage was measured; its UTC month is the billing month. Absent: now.
    #[schema(value_type = Option<String>, format = DateTime)]
    date: Option<DateTime<Utc>>,
}

/// The month's amount of one component.
#[derive(Debug, ToSchema)]
pub struct UsageItemRequest {
    /// The component's type.
    #[schema(min_length = 1, max_length = 255)]
    r#type: String,
    /// At least 0, at most 10^12, with at most two decimal places; a string or a number.
    #[schema(value_type = String, format = "decimal", pattern = r"^\d{1,13}(\.\d{1,2})?$")]
    amount: Amount,
    #[schema(required = false, nullable, max_length = 10000)]
    description: String,
    #[schema(required = false, nullable, default = false)]
    recurring: bool,
}

impl SetUsageRequest {
    /// Every field checked and every error reported together, with DRF's messages.
    fn parse(mut input: Input) -> ApiResult<Self> {
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
        let usages = match input.present("usages", Need::Required) {
            Some(v) => match UsageItemRequest::parse_all(&v) {
                Ok(items) => Some(items),
                Err(errors) => {
                    input.errors.set("usages", errors);
                    None
                }
            },
            None => None,
        };
        input.finish()?;
        match (resource, usages) {
            (Some(resource), Some(usages)) => Ok(Self { resource, usages, date }),
            _ => Err(ApiError::Internal(anyhow::anyhow!(
                "usage report passed validation unset"
            ))),
        }
    }
}

impl UsageItemRequest {
    /// A list of items, or DRF's nested errors: per-item objects aligned with the input.
    fn parse_all(value: &Value) -> Result<Vec<Self>, Value> {
        let Value::Array(items) = value else {
            return Err(json!({"non_field_errors": [format!(
                "Expected a list of items but got type \"{}\".", python_type(value)
            )]}));
        };
        let mut parsed = Vec::new();
        let mut errors = Vec::new();
        for item in items {
            match Self::parse(item) {
                Ok(item) => {
                    parsed.push(item);
                    errors.push(json!({}));
                }
                Err(e) => errors.push(e),
            }
        }
        if parsed.len() == items.len() {
            Ok(parsed)
        } else {
            Err(Value::Array(errors))
        }
    }

    fn parse(item: &Value) -> Result<Self, Value> {
        let Value::Object(map) = item else {
            return Err(json!({"non_field_errors": [format!(
                "Invalid data. Expected a dictionary, but got {}.", python_type(item)
            )]}));
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
            (Some(r#type), Some(amount), Some(description), Some(recurring)) if e.is_empty() => Ok(Self {
                r#type,
                amount,
                description,
                recurring,
            }),
            _ => Err(Value::Object(e)),
        }
    }
}

impl From<SetUsageRequest> for Report {
    fn from(request: SetUsageRequest) -> Self {
        Report {
            resource: request.resource,
            items: request
                .usages
                .into_iter()
                .map(|item| UsageItem {
                    component_type: item.r#type,
                    amount: item.amount,
                    description: item.description,
                    recurring: item.recurring,
                })
                .collect(),
            date: request.date,
        }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, retrieve, destroy, set_usage),
    components(schemas(UsageOut, SetUsageRequest, UsageItemRequest))
)]
pub struct Doc;
