//! Evaluating policies inside the transaction that changed their facts: the policy rows are
//! locked (PostgreSQL) or the writer is alone (SQLite), the engine decides, and a transition is
//! made with a conditional update, so each crossing fires exactly once.

use crate::actions::{self, ActionsConfig, TransitionCtx};
use crate::domain::{time, Amount, Month, Period};
use crate::engine::{self, Evaluation, LimitRule, MonthlyTotal, Transition};
use crate::store::evaluation::{self as facts, LimitFact, PolicyState};
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeSet;

/// After usage of some of a customer's components changed.
pub async fn after_usage_change(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    customer_id: i64,
    component_ids: &[i64],
    now: DateTime<Utc>,
) -> store::Result<usize> {
    let (policies, limits) = facts::policies_limiting(tx, customer_id, component_ids, db.row_lock()).await?;
    evaluate_locked(tx, db, cfg, policies, limits, now).await
}

/// After a policy itself was created or changed, and for the sweeps.
pub async fn policy(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policy_id: i64,
    now: DateTime<Utc>,
) -> store::Result<usize> {
    let Some(policy) = facts::policy(tx, policy_id, db.row_lock()).await? else {
        return Ok(0);
    };
    let limits = facts::limits_of(&mut **tx, &[policy.id]).await?;
    evaluate_locked(tx, db, cfg, vec![policy], limits, now).await
}

/// Before a fired policy is deleted: it resets, undoing what its actions can (SPEC §2).
pub async fn reset_before_delete(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policy_id: i64,
    now: DateTime<Utc>,
) -> store::Result<usize> {
    let Some(policy) = facts::policy(tx, policy_id, db.row_lock()).await? else {
        return Ok(0);
    };
    if policy.has_fired == 0 || !facts::mark_reset(tx, policy.id).await? {
        return Ok(0);
    }
    let limits = facts::limits_of(&mut **tx, &[policy.id]).await?;
    let assessment = judge(limits, &[], Month::of(now.date_naive()));
    on_transition(tx, db, cfg, &policy, Transition::Reset, &assessment, now).await?;
    Ok(1)
}

/// A policy's limit rows with their evaluation against the customer's totals.
pub struct Assessment {
    pub limits: Vec<LimitFact>,
    pub evaluation: Evaluation,
    /// Each row's component usage in the current month (the pace of projections).
    pub month_usage: Vec<Amount>,
}

/// Evaluates one policy's limits against its customer's totals; read-only.
pub async fn assess<'c, E>(ex: E, policy_id: i64, customer_id: i64, now: DateTime<Utc>) -> store::Result<Assessment>
where
    E: sqlx::Executor<'c, Database = sqlx::Any> + Copy,
{
    let limits = facts::limits_of(ex, &[policy_id]).await?;
    let components: Vec<i64> = limits
        .iter()
        .map(|l| l.component_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let current = Month::of(now.date_naive());
    let totals = facts::totals_of(ex, customer_id, &components, current.index()).await?;
    let totals = monthly_totals(&totals);
    Ok(judge(limits, &totals, current))
}

fn monthly_totals(rows: &[facts::TotalFact]) -> Vec<MonthlyTotal<i64>> {
    rows.iter()
        .map(|t| MonthlyTotal {
            component: t.component_id,
            month: Month::from_index(t.billing_month),
            usage: Amount::from_hundredths(t.usage),
        })
        .collect()
}

fn judge(limits: Vec<LimitFact>, totals: &[MonthlyTotal<i64>], current: Month) -> Assessment {
    let rules: Vec<LimitRule<i64>> = limits
        .iter()
        .map(|l| LimitRule {
            component: l.component_id,
            limit: l.limit_value,
            period: Period::from_code(l.period).unwrap_or(Period::DEFAULT),
        })
        .collect();
    let evaluation = engine::evaluate(&rules, totals, current);
    let month_usage = limits
        .iter()
        .map(|l| {
            totals
                .iter()
                .filter(|t| t.component == l.component_id && t.month == current)
                .fold(Amount::ZERO, |sum, t| sum.saturating_add(t.usage))
        })
        .collect();
    metrics::counter!("meterguard_evaluations_total").increment(1);
    Assessment {
        limits,
        evaluation,
        month_usage,
    }
}

/// Evaluates locked policies, given all their limit rows, with one read per customer: the totals.
/// Returns how many transitions it made.
async fn evaluate_locked(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policies: Vec<PolicyState>,
    mut limits: Vec<LimitFact>,
    now: DateTime<Utc>,
) -> store::Result<usize> {
    let current = Month::of(now.date_naive());
    let mut transitions = 0;
    let customers: BTreeSet<i64> = policies.iter().map(|p| p.customer_id).collect();
    for customer in customers {
        let mine: Vec<&PolicyState> = policies.iter().filter(|p| p.customer_id == customer).collect();
        let components: Vec<i64> = limits
            .iter()
            .filter(|l| mine.iter().any(|p| p.id == l.policy_id))
            .map(|l| l.component_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let totals = monthly_totals(&facts::totals_of(&mut **tx, customer, &components, current.index()).await?);
        for policy in mine {
            let (own, rest): (Vec<LimitFact>, Vec<LimitFact>) =
                limits.into_iter().partition(|l| l.policy_id == policy.id);
            limits = rest;
            let assessment = judge(own, &totals, current);
            let transition = engine::decide(policy.has_fired != 0, assessment.evaluation.over());
            let made = match transition {
                Transition::Fire => facts::mark_fired(tx, policy.id, now.timestamp_micros()).await?,
                Transition::Reset => facts::mark_reset(tx, policy.id).await?,
                Transition::Stay => false,
            };
            if made {
                on_transition(tx, db, cfg, policy, transition, &assessment, now).await?;
                transitions += 1;
            }
        }
    }
    Ok(transitions)
}

/// What a transition does inside its transaction: its event, then its actions' effects on
/// meterguard's own data and the deliveries they queue.
async fn on_transition(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policy: &PolicyState,
    transition: Transition,
    assessment: &Assessment,
    now: DateTime<Utc>,
) -> store::Result<()> {
    let system_user = store::users::system_user_id(tx).await?;
    let ctx = TransitionCtx {
        policy,
        transition,
        assessment,
        now,
        system_user,
        row_lock: db.row_lock(),
    };
    let (event_type, message, direction) = match transition {
        Transition::Fire => (
            "policy_fired",
            format!(
                "Usage policy {} of {} fired: usage exceeded a limit.",
                policy.uuid, policy.customer_name
            ),
            "fire",
        ),
        _ => (
            "policy_reset",
            format!(
                "Usage policy {} of {} reset: usage is back under every limit.",
                policy.uuid, policy.customer_name
            ),
            "reset",
        ),
    };
    let mut extra = json!({ "actions": policy.actions });
    if transition == Transition::Fire {
        extra["exceeded"] = exceeded(assessment);
    }
    ctx.event(tx, event_type, &message, extra).await?;
    actions::apply(tx, cfg, &ctx).await?;
    metrics::counter!("meterguard_transitions_total", "direction" => direction).increment(1);
    tracing::info!(policy = %policy.uuid, customer = %policy.customer_uuid, %direction, at = %time::render(now.timestamp_micros()), "policy transition");
    Ok(())
}

/// The rows over their limit, as events and notifications name them.
pub fn exceeded(assessment: &Assessment) -> serde_json::Value {
    assessment
        .limits
        .iter()
        .zip(&assessment.evaluation.rows)
        .filter(|(_, row)| row.over)
        .map(|(l, row)| {
            json!({
                "component": l.component_uuid,
                "type": l.component_type,
                "period": l.period,
                "usage": row.usage.to_string(),
                "limit": l.limit_value,
            })
        })
        .collect()
}
