//! Dry runs (docs/dry-run.md): what a proposed policy would have done over its customer's
//! reported history, and what it would do now. Everything is read in one read transaction,
//! rolled back at the end: a dry run writes no row, event, email or outbox entry.

use super::access::require_staff;
use super::policies::{self, LimitDraft, NewPolicy, PolicyBody, PolicyChanges, NOT_FOUND};
use super::policy_status::{limit_statuses, LimitStatus};
use super::{ServiceError, ServiceResult};
use crate::actions;
use crate::authz::{Principal, Visibility};
use crate::domain::evaluation::ComponentLimit;
use crate::domain::ladder::{ResetBelow, WarningThresholds};
use crate::domain::time::Micros;
use crate::domain::{ActionSet, Amount, Month, Period, Uuid32};
use crate::engine::replay::{self, GrantSpan, Proposal};
pub use crate::engine::replay::{Boundary, Change};
use crate::engine::{Assessment, LimitRule, MonthlyTotal};
use crate::store::{self, Db};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeSet;

/// How far back `since` may go, in months before the current one.
pub const MAX_MONTHS_BACK: u32 = 36;
/// Where the replay starts when `since` is not sent: this many months before the current one.
pub const DEFAULT_MONTHS_BACK: u32 = 12;

/// A dry run's body: the policy body as create or PATCH takes it, and `since` as the API read
/// it (`Ok(None)` when not sent, `Err` with the message when it is not `YYYY-MM`).
pub struct DryRunRequest<T> {
    pub body: PolicyBody<T>,
    pub since: Result<Option<Month>, String>,
}

/// What the dry run found.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Whether the policy would be fired right after it were saved (docs/dry-run.md §4).
    pub would_fire_now: bool,
    pub evaluated_at: DateTime<Utc>,
    /// The proposed rows now, as the status endpoint shows a policy's.
    pub limits: Vec<LimitStatus>,
    /// The resources its actions would touch if it fired now, in id order.
    pub affected_resources: Vec<Uuid32>,
    pub timeline: Vec<TimelineStep>,
}

#[derive(Debug, Clone)]
pub struct TimelineStep {
    pub at: Micros,
    pub change: Change,
    pub exceeded: Vec<Exceeded>,
    pub cause: StepCause,
}

/// A row a step names, as the fire event names it.
#[derive(Debug, Clone)]
pub struct Exceeded {
    pub component: Uuid32,
    pub component_type: String,
    pub period: Period,
    pub usage: Amount,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub enum StepCause {
    Report {
        resource: Uuid32,
        component_type: String,
        amount: Amount,
        month: Month,
    },
    MonthStart(Month),
    MonthlyTotal(Month),
    Grant {
        grant: Uuid32,
        boundary: Boundary,
    },
}

/// The policy as it would be saved, and what it is now.
struct Proposed {
    /// The saved policy a PATCH-style dry run starts from.
    policy_id: Option<i64>,
    customer_id: i64,
    actions: ActionSet,
    limits: Vec<LimitDraft>,
    thresholds: WarningThresholds,
    reset_below: ResetBelow,
    /// Whether it is fired before it is saved; false for a new policy.
    has_fired: bool,
}

/// `POST .../dry_run/`: a new policy, from a create body.
pub async fn of_new(
    db: &Db,
    caller: &Principal,
    request: DryRunRequest<NewPolicy>,
    now: DateTime<Utc>,
) -> ServiceResult<DryRun> {
    require_staff(caller)?;
    let (body, since) = checked_since(request, now);
    let (new, customer_id) = policies::scoped(db, body, |new| Some(new.customer)).await?;
    let since = since?;
    // A scope naming no customer was refused by `scoped`.
    let customer_id = customer_id.ok_or(ServiceError::NotFound(NOT_FOUND))?;
    let proposed = Proposed {
        policy_id: None,
        customer_id,
        actions: new.actions,
        limits: new.limits,
        thresholds: new.thresholds.unwrap_or_default(),
        reset_below: new.reset_below.unwrap_or_default(),
        has_fired: false,
    };
    run(db, proposed, since, now).await
}

/// `POST .../{uuid}/dry_run/`: the policy with a PATCH body applied, field by field as
/// `policies::update` saves it (a field not sent keeps its value).
pub async fn of_policy(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    request: DryRunRequest<PolicyChanges>,
    now: DateTime<Utc>,
) -> ServiceResult<DryRun> {
    require_staff(caller)?;
    let vis = Visibility::of(caller, now.timestamp_micros());
    let policy = store::policies::visible_by_uuid(db.reader(), uuid, vis)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))?;
    let (body, since) = checked_since(request, now);
    let (changes, moving_to) = policies::scoped(db, body, |changes| changes.customer).await?;
    let since = since?;
    let current_limits = || {
        policy
            .limits
            .iter()
            .map(|l| LimitDraft {
                component: l.component_uuid,
                limit: l.limit,
                period: l.period,
            })
            .collect()
    };
    let moved = moving_to.is_some_and(|to| to != policy.customer.id);
    let proposed = Proposed {
        policy_id: Some(policy.id),
        customer_id: moving_to.unwrap_or(policy.customer.id),
        actions: changes.actions.unwrap_or_else(|| policy.actions.clone()),
        limits: changes.limits.unwrap_or_else(current_limits),
        thresholds: changes.thresholds.unwrap_or_else(|| policy.ladder.thresholds.clone()),
        reset_below: changes.reset_below.unwrap_or(policy.ladder.reset_below),
        // An update that moves a fired policy resets it first.
        has_fired: policy.has_fired && !moved,
    };
    run(db, proposed, since, now).await
}

/// The body, with `since`'s error among its field errors when both are refused, and `since`
/// checked against the current month: the month it names (by default twelve before the
/// current one), or its 400.
fn checked_since<T>(request: DryRunRequest<T>, now: DateTime<Utc>) -> (PolicyBody<T>, ServiceResult<Month>) {
    let current = Month::of(now.date_naive());
    let since = request.since.and_then(|since| match since {
        None => Ok(current.minus(DEFAULT_MONTHS_BACK)),
        Some(month) if month > current => Err("Ensure this month is not after the current month.".to_string()),
        Some(month) if month < current.minus(MAX_MONTHS_BACK) => Err(format!(
            "Ensure this month is no more than {MAX_MONTHS_BACK} months before the current month."
        )),
        Some(month) => Ok(month),
    });
    let body = match (request.body, &since) {
        (Err(mut invalid), Err(message)) => {
            invalid.errors.insert("since".into(), json!([message]));
            Err(invalid)
        }
        (body, _) => body,
    };
    (body, since.map_err(|message| ServiceError::Field("since", message)))
}

/// Replays the proposed policy from `since` and judges it now, in one read transaction.
async fn run(db: &Db, proposed: Proposed, since: Month, now: DateTime<Utc>) -> ServiceResult<DryRun> {
    let now_micros = now.timestamp_micros();
    let current = Month::of(now.date_naive());
    // Read only; dropped unfinished, so rolled back.
    let mut tx = db.reader().begin().await?;
    let components = policies::resolve_components(&mut tx, &proposed.limits).await?;
    // A new policy has no grants; a saved one keeps its own, whatever the body changes.
    let grants: Vec<GrantSpan<i64>> = match proposed.policy_id {
        Some(id) => store::grants::spans_of_policy(&mut tx, id)
            .await?
            .into_iter()
            .map(|g| GrantSpan {
                grant: g.uuid,
                component: g.component_id,
                amount: g.amount,
                starts_at: g.starts_at,
                expires_at: g.expires_at,
            })
            .collect(),
        None => Vec::new(),
    };
    let limits: Vec<ComponentLimit> = components
        .into_iter()
        .map(|(draft, component)| ComponentLimit {
            policy_id: proposed.policy_id.unwrap_or_default(),
            component_id: component.id,
            component_uuid: component.uuid,
            component_type: component.fields.r#type,
            component_name: component.fields.name,
            measured_unit: component.fields.measured_unit,
            limit: draft.limit,
            period: draft.period,
            granted: replay::granted(&grants, component.id, now_micros),
        })
        .collect();
    let component_ids: Vec<i64> = limits
        .iter()
        .map(|l| l.component_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let totals: Vec<MonthlyTotal<i64>> =
        store::evaluation::totals_of(&mut tx, &[proposed.customer_id], &component_ids, None, current)
            .await?
            .iter()
            .map(MonthlyTotal::from)
            .collect();
    let log = store::replay::reports_of_customer(&mut tx, proposed.customer_id, &component_ids, now_micros).await?;

    let rules: Vec<LimitRule<i64>> = limits.iter().map(LimitRule::from).collect();
    let policy = Proposal {
        rules: &rules,
        thresholds: proposed.thresholds.percents(),
        reset_below: proposed.reset_below.percent(),
    };
    let replayed = replay::replay(policy, &log, &totals, &grants, since, now_micros);

    let named: Vec<i64> = replayed
        .steps
        .iter()
        .filter_map(|s| match s.cause {
            replay::Cause::Report(i) => Some(log[i].resource),
            _ => None,
        })
        .collect();
    let resources = store::replay::resource_uuids(&mut tx, &named).await?;
    let targets = store::resources::of_customer(db.reader(), proposed.customer_id, Visibility::All).await?;
    drop(tx);

    // A step whose resource was deleted while the dry run read is left out with it.
    let timeline = replayed
        .steps
        .iter()
        .filter_map(|step| {
            let cause = match step.cause {
                replay::Cause::Report(i) => {
                    let report = &log[i];
                    StepCause::Report {
                        resource: *resources.get(&report.resource)?,
                        component_type: limits
                            .iter()
                            .find(|l| l.component_id == report.component)?
                            .component_type
                            .clone(),
                        amount: report.amount,
                        month: report.month,
                    }
                }
                replay::Cause::MonthStart(month) => StepCause::MonthStart(month),
                replay::Cause::MonthlyTotal(month) => StepCause::MonthlyTotal(month),
                replay::Cause::Grant(i, boundary) => StepCause::Grant {
                    grant: grants[i].grant,
                    boundary,
                },
            };
            let exceeded = step
                .exceeded()
                .map(|i| Exceeded {
                    component: limits[i].component_uuid,
                    component_type: limits[i].component_type.clone(),
                    period: limits[i].period,
                    usage: step.evaluation.rows[i].usage,
                    limit: limits[i].limit,
                })
                .collect();
            Some(TimelineStep {
                at: step.at,
                change: step.change,
                exceeded,
                cause,
            })
        })
        .collect();

    let reset_percent = proposed.reset_below.percent();
    let assessment = Assessment::of(limits, &totals, current);
    let evaluation = &assessment.evaluation;
    let would_fire_now = evaluation
        .judge(proposed.has_fired, proposed.thresholds.percents(), reset_percent)
        .transition
        .fired_after(proposed.has_fired);
    Ok(DryRun {
        would_fire_now,
        evaluated_at: now,
        limits: limit_statuses(&assessment, reset_percent, now.date_naive()),
        affected_resources: targets
            .iter()
            .filter(|r| actions::touches(&proposed.actions, r))
            .map(|r| r.uuid)
            .collect(),
        timeline,
    })
}
