//! `GET /api/marketplace-customer-component-usage-policies/{uuid}/status/`: headroom per limit
//! row (docs/evaluation.md §7).

use super::auth::CurrentUser;
use super::errors::{ApiError, ApiResult, CommonErrors, ObjectErrors};
use super::AppState;
use crate::domain::{time, Uuid32};
use crate::service::{policies, policy_status};
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
    /// Actions waiting out their grace period, the earliest due first (docs/ladder.md §4).
    pending_actions: Vec<PendingActionStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingActionStatus {
    action: &'static str,
    due: String,
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
    /// The policy's own limit.
    limit: i64,
    /// What the grants active now add to `limit`, two places (docs/grants.md).
    granted: String,
    /// `limit + granted`, two places: what `remaining`, `percent`, `over` and the projection
    /// are against.
    effective_limit: String,
    /// `effective_limit − usage`; negative when over.
    remaining: String,
    /// `usage / effective_limit × 100`, two places; `null` when it is not positive.
    #[schema(value_type = Option<f64>)]
    percent: Option<serde_json::Number>,
    over: bool,
    projected_crossing_date: Option<String>,
    /// `limit × reset_below_percent / 100`, two places: a fired policy resets once every row's
    /// usage is at or under it (docs/ladder.md §3).
    reset_below: String,
}

#[utoipa::path(
    get, path = "/api/marketplace-customer-component-usage-policies/{uuid}/status/",
    operation_id = "marketplace_customer_component_usage_policies_status",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = PolicyStatus, description = "Headroom of each limit row."),
        ObjectErrors,
        CommonErrors
    )
)]
pub async fn status(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<PolicyStatus>> {
    let uuid: Uuid32 = raw.parse().map_err(|_| ApiError::NotFound(policies::NOT_FOUND))?;
    let status = policy_status::status(&state.db, &user, &uuid, state.clock.now()).await?;
    Ok(Json(PolicyStatus::render(status)))
}

impl PolicyStatus {
    fn render(status: policy_status::PolicyStatus) -> Self {
        Self {
            policy_uuid: status.policy.uuid.to_string(),
            has_fired: status.policy.has_fired,
            fired_datetime: status.policy.fired_at.map(time::render),
            evaluated_at: time::render(status.evaluated_at.timestamp_micros()),
            limits: status.limits.into_iter().map(LimitStatus::render).collect(),
            pending_actions: status
                .pending_actions
                .into_iter()
                .map(|p| PendingActionStatus {
                    action: p.action.name(),
                    due: time::render(p.due),
                })
                .collect(),
        }
    }
}

impl LimitStatus {
    pub(crate) fn render(limit: policy_status::LimitStatus) -> Self {
        let h = limit.headroom;
        Self {
            component: limit.component_uuid,
            r#type: limit.component_type,
            name: limit.component_name,
            measured_unit: limit.measured_unit,
            period: limit.period.code(),
            period_name: limit.period.name(),
            window_start: h.window_start.map(|d| d.to_string()),
            window_end: h.window_end.to_string(),
            usage: h.usage.to_string(),
            limit: h.limit,
            granted: h.granted.to_string(),
            effective_limit: h.effective_limit.to_string(),
            remaining: h.remaining.to_string(),
            percent: h.percent_hundredths.and_then(hundredths_number),
            over: h.over,
            projected_crossing_date: h.projected_crossing.map(|d| d.to_string()),
            reset_below: limit.reset_below.to_string(),
        }
    }
}

/// `10017` → the JSON number `100.17`, written from its decimal text so no float rounding shows.
fn hundredths_number(h: i64) -> Option<serde_json::Number> {
    let sign = if h < 0 { "-" } else { "" };
    let text = format!("{sign}{}.{:02}", h.unsigned_abs() / 100, h.unsigned_abs() % 100);
    text.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
}
