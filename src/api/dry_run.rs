//! `POST /api/marketplace-customer-component-usage-policies/dry_run/` and `.../{uuid}/dry_run/`:
//! what a proposed policy would have done over its customer's reported history, and what it would
//! do now; nothing is written (docs/dry-run.md).

use super::auth::Staff;
use super::body::JsonBody;
use super::errors::{ApiResult, CommonErrors, ForbiddenErrors, InputErrors, ObjectErrors};
use super::input::{Input, NOT_NULL};
use super::policies::{PatchedPolicyRequest, PolicyRequest, COLLECTION};
use super::policy_status::LimitStatus;
use super::query::path_uuid;
use super::AppState;
use crate::domain::{time, Month};
use crate::service::dry_run::{self as service, Boundary, Change, DryRun, DryRunRequest, StepCause, TimelineStep};
use crate::service::policies::{NewPolicy, PolicyChanges, NOT_FOUND};
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("/api/{COLLECTION}/dry_run/"), post(dry_run))
        .route(&format!("/api/{COLLECTION}/{{uuid}}/dry_run/"), post(dry_run_policy))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunOut {
    /// Whether the policy would be fired right after it were saved (docs/dry-run.md §4).
    would_fire_now: bool,
    #[schema(format = DateTime)]
    evaluated_at: String,
    fires: usize,
    resets: usize,
    warnings: usize,
    /// The proposed rows now, as the status endpoint shows them.
    limits: Vec<LimitStatus>,
    /// The uuids of the resources its actions would touch if it fired now.
    affected_resources: Vec<String>,
    timeline: Vec<StepOut>,
}

/// A fire, reset or warning the replay met.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepOut {
    #[schema(format = DateTime)]
    at: String,
    /// `fire`, `reset` or `warning`.
    transition: &'static str,
    /// The threshold a warning reached; null for a fire or reset.
    threshold: Option<u8>,
    /// The rows over their limit (a warning's: over its threshold), as the fire event names them.
    exceeded: Vec<ExceededOut>,
    cause: CauseOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExceededOut {
    component: String,
    r#type: String,
    period: i64,
    #[schema(format = "decimal")]
    usage: String,
    limit: i64,
}

/// What the step was evaluated after; the grant's boundary is meterguard's addition to the
/// specified causes (docs/dry-run.md §3).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum CauseOut {
    Report { report: ReportCauseOut },
    MonthStart { month_start: String },
    MonthlyTotal { monthly_total: String },
    Grant { grant: String, boundary: &'static str },
}

/// A logged report that the step followed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCauseOut {
    resource: String,
    r#type: String,
    #[schema(format = "decimal")]
    amount: String,
    /// `YYYY-MM`, the billing month.
    month: String,
}

/// A create body with `since`.
pub struct PolicyDryRunRequest;

impl PartialSchema for PolicyDryRunRequest {
    fn schema() -> RefOr<Schema> {
        with_since("PolicyRequest")
    }
}

impl ToSchema for PolicyDryRunRequest {}

/// A PATCH body with `since`.
pub struct PatchedPolicyDryRunRequest;

impl PartialSchema for PatchedPolicyDryRunRequest {
    fn schema() -> RefOr<Schema> {
        with_since("PatchedPolicyRequest")
    }
}

impl ToSchema for PatchedPolicyDryRunRequest {}

fn with_since(body: &str) -> RefOr<Schema> {
    let since = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^\d{4}-\d{2}$"))
        .description(Some(
            "`YYYY-MM`: the month the replay starts at; 12 months before the current one when \
             left out, at most 36 before it, not after it.",
        ));
    AllOfBuilder::new()
        .item(Ref::from_schema_name(body))
        .item(ObjectBuilder::new().property("since", since))
        .into()
}

#[utoipa::path(
    post, path = "/api/marketplace-customer-component-usage-policies/dry_run/",
    operation_id = "marketplace_customer_component_usage_policies_dry_run",
    tag = "marketplace-customer-component-usage-policies",
    request_body = PolicyDryRunRequest,
    responses(
        (status = 200, body = DryRunOut, description = "What the policy would have done, and would do now."),
        InputErrors,
        ForbiddenErrors,
        CommonErrors
    )
)]
async fn dry_run(
    State(state): State<AppState>,
    Staff(user): Staff,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<DryRunOut>> {
    let found = service::of_new(&state.db, &user, new_request(input), state.clock.now()).await?;
    Ok(Json(DryRunOut::render(found)))
}

/// A saved policy's dry-run body (a partial one, as PATCH reads it) as the service takes it; the
/// dashboard's form sends the same.
pub(super) fn changes_request(input: Input) -> DryRunRequest<PolicyChanges> {
    let since = since(&input);
    DryRunRequest {
        body: PatchedPolicyRequest::parse(input).map(PolicyChanges::from),
        since,
    }
}

/// A new policy's dry-run body as the service takes it; the dashboard's form sends the same.
pub(super) fn new_request(input: Input) -> DryRunRequest<NewPolicy> {
    let since = since(&input);
    DryRunRequest {
        body: PolicyRequest::parse(input).map(NewPolicy::from),
        since,
    }
}

#[utoipa::path(
    post, path = "/api/marketplace-customer-component-usage-policies/{uuid}/dry_run/",
    operation_id = "marketplace_customer_component_usage_policies_dry_run_policy",
    tag = "marketplace-customer-component-usage-policies",
    params(("uuid" = String, Path, format = Uuid)),
    request_body = PatchedPolicyDryRunRequest,
    responses(
        (status = 200, body = DryRunOut, description = "What the changed policy would have done, and would do now."),
        InputErrors,
        ForbiddenErrors,
        ObjectErrors,
        CommonErrors
    )
)]
async fn dry_run_policy(
    State(state): State<AppState>,
    Staff(user): Staff,
    Path(raw): Path<String>,
    JsonBody(input): JsonBody,
) -> ApiResult<Json<DryRunOut>> {
    let uuid = path_uuid(&raw, NOT_FOUND)?;
    // A partial body, as PATCH reads it, whatever the method.
    let found = service::of_policy(&state.db, &user, &uuid, changes_request(input), state.clock.now()).await?;
    Ok(Json(DryRunOut::render(found)))
}

/// `since`: left out, or `YYYY-MM`; its range is the service's to check.
fn since(input: &Input) -> Result<Option<Month>, String> {
    match input.raw("since") {
        None => Ok(None),
        Some(Value::Null) => Err(NOT_NULL.into()),
        Some(Value::String(text)) => Month::parse_year_month(text.trim())
            .map(Some)
            .ok_or_else(|| SINCE_FORMAT.into()),
        Some(_) => Err(SINCE_FORMAT.into()),
    }
}

const SINCE_FORMAT: &str = "Month has wrong format. Use one of these formats instead: YYYY-MM.";

impl DryRunOut {
    fn render(found: DryRun) -> Self {
        let count = |change: fn(&Change) -> bool| found.timeline.iter().filter(|s| change(&s.change)).count();
        Self {
            would_fire_now: found.would_fire_now,
            evaluated_at: time::render(found.evaluated_at.timestamp_micros()),
            fires: count(|c| *c == Change::Fire),
            resets: count(|c| *c == Change::Reset),
            warnings: count(|c| matches!(c, Change::Warning(_))),
            limits: found.limits.into_iter().map(LimitStatus::render).collect(),
            affected_resources: found.affected_resources.iter().map(ToString::to_string).collect(),
            timeline: found.timeline.into_iter().map(StepOut::render).collect(),
        }
    }
}

impl StepOut {
    fn render(step: TimelineStep) -> Self {
        let (transition, threshold) = match step.change {
            Change::Fire => ("fire", None),
            Change::Reset => ("reset", None),
            Change::Warning(t) => ("warning", Some(t)),
        };
        Self {
            at: time::render(step.at),
            transition,
            threshold,
            exceeded: step
                .exceeded
                .into_iter()
                .map(|e| ExceededOut {
                    component: e.component.to_string(),
                    r#type: e.component_type,
                    period: e.period.code(),
                    usage: e.usage.to_string(),
                    limit: e.limit,
                })
                .collect(),
            cause: CauseOut::render(step.cause),
        }
    }
}

impl CauseOut {
    fn render(cause: StepCause) -> Self {
        match cause {
            StepCause::Report {
                resource,
                component_type,
                amount,
                month,
            } => Self::Report {
                report: ReportCauseOut {
                    resource: resource.to_string(),
                    r#type: component_type,
                    amount: amount.to_string(),
                    month: month.year_month(),
                },
            },
            StepCause::MonthStart(month) => Self::MonthStart {
                month_start: month.year_month(),
            },
            StepCause::MonthlyTotal(month) => Self::MonthlyTotal {
                monthly_total: month.year_month(),
            },
            StepCause::Grant { grant, boundary } => Self::Grant {
                grant: grant.to_string(),
                boundary: match boundary {
                    Boundary::Start => "start",
                    Boundary::Expiry => "expiry",
                },
            },
        }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(dry_run, dry_run_policy),
    components(schemas(
        DryRunOut,
        StepOut,
        ExceededOut,
        CauseOut,
        ReportCauseOut,
        PolicyDryRunRequest,
        PatchedPolicyDryRunRequest
    ))
)]
pub struct Doc;
