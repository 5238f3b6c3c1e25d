//! `/api/marketplace-component-usage-reports/`: the report log, every accepted usage report as it
//! came (docs/api.md §8.4).

use super::auth::CurrentUser;
use super::errors::{ApiError, ApiResult, CommonErrors, InputErrors, ObjectErrors};
use super::links::Links;
use super::pagination::Paginated;
use super::query::{text_param, uuid_param};
use super::AppState;
use crate::domain::page::PageRequest;
use crate::domain::report_log::{LoggedReport, ReportLogFilter};
use crate::domain::time;
use crate::service::report_log as service;
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

const COLLECTION: &str = "marketplace-component-usage-reports";

pub fn router() -> Router<AppState> {
    Router::new().route(&format!("/api/{COLLECTION}/"), get(list))
}

/// One logged report of one component.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReportOut {
    /// The resource's URL.
    resource: String,
    resource_uuid: String,
    resource_name: String,
    customer_uuid: String,
    /// The component's type.
    r#type: String,
    /// `YYYY-MM`.
    billing_month: String,
    /// The month's amount the report set, a decimal with two places; 0.00 for a deletion.
    #[schema(format = "decimal")]
    amount: String,
    #[schema(format = DateTime)]
    reported_at: String,
    /// The reporting user's uuid; null once that user is deleted.
    reported_by: Option<String>,
    reported_by_username: Option<String>,
    /// A deletion of the month's usage row.
    deleted: bool,
}

impl UsageReportOut {
    fn render(links: &Links, r: LoggedReport) -> Self {
        let (reported_by, reported_by_username) = match r.reported_by {
            Some(user) => (Some(user.uuid.to_string()), Some(user.username)),
            None => (None, None),
        };
        Self {
            resource: links.detail("marketplace-resources", &r.resource_uuid),
            resource_uuid: r.resource_uuid.to_string(),
            resource_name: r.resource_name,
            customer_uuid: r.customer_uuid.to_string(),
            r#type: r.component_type,
            billing_month: r.billing_month.year_month(),
            amount: r.amount.to_string(),
            reported_at: time::render(r.reported_at),
            reported_by,
            reported_by_username,
            deleted: r.deleted,
        }
    }
}

/// The list's query: uuid filters must be uuids and instants datetimes (400 otherwise).
fn parse_filter(q: &HashMap<String, String>) -> ApiResult<ReportLogFilter> {
    Ok(ReportLogFilter {
        resource_uuid: uuid_param(q, "resource_uuid")?,
        customer_uuid: uuid_param(q, "customer_uuid")?,
        r#type: text_param(q, "type")?,
        reported_after: instant_param(q, "reported_after")?,
        reported_before: instant_param(q, "reported_before")?,
    })
}

fn instant_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<i64>> {
    match text_param(q, key)? {
        None => Ok(None),
        Some(v) => time::parse_datetime(&v)
            .map(|t| Some(t.timestamp_micros()))
            .ok_or_else(|| ApiError::field(key, "Enter a valid date/time.")),
    }
}

/// Newest first. Visible to whoever may see the reported resource's usage: staff and support,
/// the consumer's customer and project roles, and the provider's customer roles.
#[utoipa::path(
    get, path = "/api/marketplace-component-usage-reports/",
    operation_id = "marketplace_component_usage_reports_list",
    tag = "marketplace-component-usage-reports",
    params(
        ("customer_uuid" = Option<String>, Query, format = Uuid, description = "Customer UUID"),
        ("page" = Option<i64>, Query, description = "A page number within the paginated result set."),
        ("page_size" = Option<i64>, Query, description = "Number of results to return per page."),
        ("reported_after" = Option<String>, Query, format = DateTime, description = "Reported at or after"),
        ("reported_before" = Option<String>, Query, format = DateTime, description = "Reported before"),
        ("resource_uuid" = Option<String>, Query, format = Uuid, description = "Resource UUID"),
        ("type" = Option<String>, Query, description = "Component type"),
    ),
    responses(
        (status = 200, body = Vec<UsageReportOut>, headers(("x-result-count" = i64))),
        InputErrors, ObjectErrors, CommonErrors
    )
)]
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    links: Links,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Paginated<UsageReportOut>> {
    let filter = parse_filter(&q)?;
    let request = PageRequest::from_query(&q)?;
    let listed = service::list(&state.db, &user, &filter, request, state.clock.now_micros()).await?;
    Ok(Paginated {
        items: listed
            .items
            .into_iter()
            .map(|r| UsageReportOut::render(&links, r))
            .collect(),
        page: listed.page,
        links,
        uri,
    })
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list), components(schemas(UsageReportOut)))]
pub struct Doc;
