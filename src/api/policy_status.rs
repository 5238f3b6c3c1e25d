//! `GET /api/marketplace-customer-component-usage-policies/{uuid}/status/`: headroom per limit
//! row (docs/evaluation.md §7).

use super::auth::CurrentUser;
use super::errors::{ApiError, ApiResult};
use super::AppState;
use crate::authz::Visibility;
use crate::domain::{time, Uuid32};
use crate::engine::headroom::headroom;
use crate::service::evaluation;
use crate::store;
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyStatus {
    policy_uuid: String,
    has_fired: bool,
    fired_datetime: Option<String>,
    evaluated_at: String,
    limits: Vec<LimitStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LimitStatus {
    component: String,
    r#type: String,
    name: String,
    measured_unit: String,
    period: i64,
    period_name: &'static str,
    /// `null` for Total.
    window_start: Option<String>,
    window_end: String,
    /// A decimal string with two places.
    usage: String,
    limit: i64,
    /// `limit − usage`; negative when over.
    remaining: String,
    /// `usage / limit × 100`, two places; `null` when the limit is not positive.
    #[schema(value_type = Option<f64>)]
    percent: Option<serde_json::Number>,
    over: bool,
    projected_crossing_date: Option<String>,
}

#[utoipa::path(
    get, path = "/api/marketplace-customer-component-usage-policies/{uuid}/status/",
    operation_id = "marketplace_customer_component_usage_policies_status",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    responses((status = 200, body = PolicyStatus, description = "Headroom of each limit row."))
)]
pub async fn status(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<PolicyStatus>> {
    const NOT_FOUND: &str = "No CustomerComponentUsagePolicy matches the given query.";
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(NOT_FOUND))?;
    let now = state.clock.now();
    let vis = Visibility::of(&user, now.timestamp_micros());
    let policy = store::policies::visible_by_uuid(state.db.reader(), &uuid, vis)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?
        .row;
    let mut conn = state.db.reader().acquire().await?;
    let assessment = evaluation::assess(&mut conn, policy.id, policy.customer_id, now).await?;
    drop(conn);
    let today = now.date_naive();
    let limits = assessment
        .limits
        .iter()
        .zip(&assessment.evaluation.rows)
        .zip(&assessment.month_usage)
        .map(|((l, row), month_usage)| {
            let h = headroom(l.limit, row, *month_usage, today);
            let period = l.period;
            LimitStatus {
                component: l.component_uuid.to_string(),
                r#type: l.component_type.clone(),
                name: l.component_name.clone(),
                measured_unit: l.measured_unit.clone(),
                period: period.code(),
                period_name: period.name(),
                window_start: h.window_start.map(|d| d.to_string()),
                window_end: h.window_end.to_string(),
                usage: h.usage.to_string(),
                limit: h.limit,
                remaining: h.remaining.to_string(),
                percent: h.percent_hundredths.and_then(hundredths_number),
                over: h.over,
                projected_crossing_date: h.projected_crossing.map(|d| d.to_string()),
            }
        })
        .collect();
    Ok(Json(PolicyStatus {
        policy_uuid: policy.uuid,
        has_fired: policy.has_fired != 0,
        fired_datetime: policy.fired_datetime.map(time::render),
        evaluated_at: time::render(now.timestamp_micros()),
        limits,
    }))
}

/// `10017` → the JSON number `100.17`, written from its decimal text so no float rounding shows.
fn hundredths_number(h: i64) -> Option<serde_json::Number> {
    let sign = if h < 0 { "-" } else { "" };
    let text = format!("{sign}{}.{:02}", h.unsigned_abs() / 100, h.unsigned_abs() % 100);
    text.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
}
