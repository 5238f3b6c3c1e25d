//! Evaluating policies inside the transaction that changed their facts. Every path that changes a
//! customer's policies or totals, or decides on them, first locks the customer's row
//! (`lock_customers`; on SQLite the one writer is alone anyway), and reads what it decides on
//! after that lock: a report and a policy write for one customer never decide side by side, each
//! on facts without the other's. The transition itself is a conditional update, so a crossing
//! fires exactly once.

use crate::actions::{self, ActionsConfig, TransitionCtx};
use crate::domain::{time, Amount, Month, Period};
use crate::engine::{self, Evaluation, LimitRule, MonthlyTotal, Transition, TransitionCount};
use crate::store::evaluation::{self as facts, LimitFact, PolicyState};
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::AnyConnection;
use std::collections::{BTreeSet, HashMap};

/// What one usage write did to a customer's monthly totals; the deltas are already written.
pub struct UsageChange {
    pub customer_id: i64,
    pub now: DateTime<Utc>,
    /// Non-zero.
    pub deltas: Vec<MonthDelta>,
}

/// A change of one component's total in one billing month, in hundredths.
pub struct MonthDelta {
    pub component_id: i64,
    pub billing_month: i64,
    pub delta: i64,
}

/// After usage changed: `changes` in the order they were written. Each change is judged on the
/// totals as they stood right after it, as if it had been committed alone, so writes that
/// share a transaction never hide a fire-then-reset pair. Returns the transitions it made.
pub async fn after_usage_changes(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    changes: &[UsageChange],
) -> store::Result<TransitionCount> {
    let months = changes.iter().map(|c| Month::of(c.now.date_naive()));
    let (Some(first), Some(until)) = (months.clone().min(), months.max()) else {
        return Ok(TransitionCount::default());
    };
    let customers = distinct(changes.iter().map(|c| c.customer_id));
    let moved = distinct(changes.iter().flat_map(|c| c.deltas.iter().map(|d| d.component_id)));
    lock_customers(tx, db, &customers).await?;
    let mut policies = Judged::group(facts::rules_limiting(tx, &customers, &moved).await?);
    if policies.is_empty() {
        return Ok(TransitionCount::default());
    }
    let limited = distinct(policies.iter().flat_map(|p| p.rules.iter().map(|r| r.component)));
    let reach = engine::earliest(policies.iter().flat_map(|p| p.rules.iter().map(|r| r.period)), first);
    let written = facts::totals_of(tx, &customers, &limited, reach.map(Month::index), until.index()).await?;
    let mut totals = Totals::before(&written, changes);
    let mut made = TransitionCount::default();
    for change in changes {
        totals.add(change, 1);
        let current = Month::of(change.now.date_naive());
        let theirs = totals.of(change.customer_id);
        for policy in policies.iter_mut().filter(|p| p.customer_id == change.customer_id) {
            if !policy
                .rules
                .iter()
                .any(|r| change.deltas.iter().any(|d| d.component_id == r.component))
            {
                continue;
            }
            metrics::counter!("meterguard_evaluations_total").increment(1);
            let over = engine::evaluate(&policy.rules, &theirs, current).over();
            let transition = engine::decide(policy.has_fired, over);
            if transition == Transition::Stay {
                continue;
            }
            // Rare: read what the transition's event and actions tell about the policy.
            let Some(state) = facts::policy(tx, policy.id).await? else {
                continue;
            };
            let assessment = judge(facts::limits_of(&mut **tx, &[policy.id]).await?, &theirs, current);
            if make(tx, db, cfg, &state, transition, &assessment, change.now).await? {
                policy.has_fired = transition == Transition::Fire;
                made.count(transition);
            }
        }
    }
    Ok(made)
}

/// A policy under evaluation, with the rules of its limit rows.
struct Judged {
    id: i64,
    customer_id: i64,
    has_fired: bool,
    rules: Vec<LimitRule<i64>>,
}

impl Judged {
    /// Groups limit rows that come in policy order.
    fn group(rows: Vec<facts::RuleFact>) -> Vec<Self> {
        let mut policies: Vec<Self> = Vec::new();
        for row in rows {
            if policies.last().is_none_or(|p| p.id != row.policy_id) {
                policies.push(Self {
                    id: row.policy_id,
                    customer_id: row.customer_id,
                    has_fired: row.has_fired != 0,
                    rules: Vec::new(),
                });
            }
            if let Some(policy) = policies.last_mut() {
                policy.rules.push(rule(row.component_id, row.limit_value, row.period));
            }
        }
        policies
    }
}

/// A stored limit row as the engine takes it.
pub(super) fn rule(component: i64, limit: i64, period_code: i64) -> LimitRule<i64> {
    LimitRule {
        component,
        limit,
        period: period(period_code),
    }
}

fn period(code: i64) -> Period {
    Period::from_code(code).unwrap_or(Period::DEFAULT)
}

fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    ids.collect::<BTreeSet<_>>().into_iter().collect()
}

/// Monthly totals held in memory while a batch of changes is replayed over them.
struct Totals(HashMap<(i64, i64, i64), i64>);

impl Totals {
    /// The totals as they were before `changes`, from the totals written with them.
    fn before(written: &[facts::TotalFact], changes: &[UsageChange]) -> Self {
        let mut totals = Self(
            written
                .iter()
                .map(|t| ((t.customer_id, t.component_id, t.billing_month), t.usage))
                .collect(),
        );
        for change in changes {
            totals.add(change, -1);
        }
        totals
    }

    /// Adds a change (`sign` 1) or takes it back (-1).
    fn add(&mut self, change: &UsageChange, sign: i64) {
        for d in &change.deltas {
            *self
                .0
                .entry((change.customer_id, d.component_id, d.billing_month))
                .or_default() += sign * d.delta;
        }
    }

    fn of(&self, customer_id: i64) -> Vec<MonthlyTotal<i64>> {
        self.0
            .iter()
            .filter(|((customer, _, _), _)| *customer == customer_id)
            .map(|(&(_, component, month), &usage)| MonthlyTotal {
                component,
                month: Month::from_index(month),
                usage: Amount::from_hundredths(usage),
            })
            .collect()
    }
}

/// Locks the customers' rows in id order, as every path does before it writes or judges their
/// policies: paths that lock several customers never wait on each other in a cycle.
pub async fn lock_customers(tx: &mut Tx, db: &Db, customer_ids: &[i64]) -> store::Result<()> {
    let ids = distinct(customer_ids.iter().copied());
    facts::lock_customers(tx, &ids, db.row_lock()).await
}

/// After a policy itself was created or changed.
pub async fn policy(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    customer_id: i64,
    policy_id: i64,
    now: DateTime<Utc>,
) -> store::Result<TransitionCount> {
    policies(tx, db, cfg, &[(customer_id, policy_id)], now).await
}

/// Re-evaluates policies, given as (customer, policy), under their customers' locks and makes
/// their transitions; returns them. A policy that has moved to another customer
/// since its caller looked is left to the path that moved it. Their facts are read in three
/// queries whatever their number: the sweep passes a hundred at a time.
pub async fn policies(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policies: &[(i64, i64)],
    now: DateTime<Utc>,
) -> store::Result<TransitionCount> {
    let customers: Vec<i64> = policies.iter().map(|&(customer, _)| customer).collect();
    lock_customers(tx, db, &customers).await?;
    let ids: Vec<i64> = policies.iter().map(|&(_, id)| id).collect();
    let states: Vec<PolicyState> = facts::policies(tx, &ids)
        .await?
        .into_iter()
        .filter(|p| customers.contains(&p.customer_id))
        .collect();
    let keys: Vec<(i64, i64)> = states.iter().map(|p| (p.id, p.customer_id)).collect();
    let assessments = assessments(tx, &keys, Month::of(now.date_naive())).await?;
    let mut made = TransitionCount::default();
    for (policy, assessment) in states.iter().zip(assessments) {
        metrics::counter!("meterguard_evaluations_total").increment(1);
        let transition = engine::decide(policy.has_fired != 0, assessment.evaluation.over());
        if make(tx, db, cfg, policy, transition, &assessment, now).await? {
            made.count(transition);
        }
    }
    Ok(made)
}

/// After components went with the policy limits on them (FK cascade), in a transaction of its
/// own right after the one that removed them: that one takes no customer locks, as its cascade
/// deletes usage rows and totals, which every path that takes them locks before customers.
/// Re-evaluates `policies`, given as (customer, policy), and commits.
pub async fn after_limits_went(
    db: &Db,
    cfg: &ActionsConfig,
    policies: &[(i64, i64)],
    now: DateTime<Utc>,
) -> store::Result<()> {
    if policies.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    let transitions = self::policies(&mut tx, db, cfg, policies, now).await?;
    tx.commit().await?;
    cfg.after_commit(transitions);
    Ok(())
}

/// A fired policy resets now, its customer locked, undoing what its actions can on that
/// customer's resources (docs/evaluation.md §6): before it is deleted, or moved to another customer.
pub async fn reset_fired(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policy_id: i64,
    now: DateTime<Utc>,
) -> store::Result<TransitionCount> {
    let mut made = TransitionCount::default();
    let Some(policy) = facts::policy(tx, policy_id).await? else {
        return Ok(made);
    };
    if policy.has_fired == 0 {
        return Ok(made);
    }
    let limits = facts::limits_of(&mut **tx, &[policy.id]).await?;
    let assessment = judge(limits, &[], Month::of(now.date_naive()));
    if make(tx, db, cfg, &policy, Transition::Reset, &assessment, now).await? {
        made.count(Transition::Reset);
    }
    Ok(made)
}

/// A policy's limit rows with their evaluation against the customer's totals.
pub struct Assessment {
    pub limits: Vec<LimitFact>,
    pub evaluation: Evaluation,
    /// Each row's component usage in the current month (the pace of projections).
    pub month_usage: Vec<Amount>,
}

/// Evaluates one policy's limits against its customer's totals; read-only.
pub async fn assess(
    conn: &mut AnyConnection,
    policy_id: i64,
    customer_id: i64,
    now: DateTime<Utc>,
) -> store::Result<Assessment> {
    let current = Month::of(now.date_naive());
    let mut one = assessments(conn, &[(policy_id, customer_id)], current).await?;
    Ok(one.pop().unwrap_or_else(|| judge(Vec::new(), &[], current)))
}

/// The assessments of policies, given as (policy, customer), in their order: their limit rows
/// and their customers' totals are read in two queries whatever their number.
async fn assessments(
    conn: &mut AnyConnection,
    policies: &[(i64, i64)],
    current: Month,
) -> store::Result<Vec<Assessment>> {
    let ids: Vec<i64> = policies.iter().map(|&(id, _)| id).collect();
    let mut limits: HashMap<i64, Vec<LimitFact>> = HashMap::new();
    for l in facts::limits_of(&mut *conn, &ids).await? {
        limits.entry(l.policy_id).or_default().push(l);
    }
    let customers = distinct(policies.iter().map(|&(_, customer)| customer));
    let components = distinct(limits.values().flatten().map(|l| l.component_id));
    let mut totals: HashMap<i64, Vec<facts::TotalFact>> = HashMap::new();
    let reach = engine::earliest(limits.values().flatten().map(|l| period(l.period)), current).map(Month::index);
    for t in facts::totals_of(conn, &customers, &components, reach, current.index()).await? {
        totals.entry(t.customer_id).or_default().push(t);
    }
    Ok(policies
        .iter()
        .map(|(id, customer)| {
            let theirs = monthly_totals(totals.get(customer).map(Vec::as_slice).unwrap_or(&[]));
            judge(limits.remove(id).unwrap_or_default(), &theirs, current)
        })
        .collect())
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
        .map(|l| rule(l.component_id, l.limit_value, l.period))
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
    Assessment {
        limits,
        evaluation,
        month_usage,
    }
}

/// Makes a transition the engine decided: the conditional update, then what the transition
/// does. False when there was nothing to make (`Stay`, or the policy was already there).
async fn make(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policy: &PolicyState,
    transition: Transition,
    assessment: &Assessment,
    now: DateTime<Utc>,
) -> store::Result<bool> {
    let made = match transition {
        Transition::Fire => facts::mark_fired(tx, policy.id, now.timestamp_micros()).await?,
        Transition::Reset => facts::mark_reset(tx, policy.id).await?,
        Transition::Stay => false,
    };
    if made {
        on_transition(tx, db, cfg, policy, transition, assessment, now).await?;
    }
    Ok(made)
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
    let system_user = db.system_user_id(tx).await?;
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
