//! Evaluating policies inside the transaction that changed their facts. Every path that changes a
//! customer's policies or totals, or decides on them, first locks the customer's row
//! (`lock_customers`, or a report batch's read of its resources, `store::usages::targets`; on
//! SQLite the one writer is alone anyway), and reads what it decides on after that lock: a report
//! and a policy write for one customer never decide side by side, each on facts without the
//! other's. The transition itself is a conditional update, so a crossing fires exactly once.

use crate::actions::{self, ActionsConfig, TransitionCtx};
use crate::domain::evaluation::{ComponentLimit, CustomerTotal, Firing, LimitRow, PolicyState};
use crate::domain::ladder::{Ladder, PendingAction};
use crate::domain::{ActionSet, Amount, Month};
use crate::engine::{
    self, ladder, Assessment, Decision, Evaluation, LimitRule, MonthlyTotal, Transition, TransitionCount,
};
use crate::store::evaluation::TotalsWanted;
use crate::store::policies::NewPolicyRow;
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};
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

/// The policies whose decisions usage writes about to be made may change, read under their
/// customers' locks before the writes, and the monthly totals those decisions are made on.
#[derive(Default)]
pub struct Affected {
    policies: Vec<PolicyRules>,
    totals: Option<TotalsWanted>,
}

impl Affected {
    /// The totals to read as they stand before the writes (a report batch reads them in its
    /// upsert's round trip); `None`: no policy limits what the writes touch.
    pub fn totals_wanted(&self) -> Option<&TotalsWanted> {
        self.totals.as_ref()
    }
}

/// Before usage writes of `customers` on `components`, made at `instants`, by a path that holds
/// the customers' locks: the policies that limit any of those components. The grants are read as
/// they stand at the latest instant: the writes of one batch are made a few instants close
/// together (docs/grants.md §2).
pub async fn before_usage_changes(
    tx: &mut Tx,
    customers: &[i64],
    components: &[i64],
    instants: &[DateTime<Utc>],
) -> store::Result<Affected> {
    let months = instants.iter().map(|t| Month::of(t.date_naive()));
    let (Some(first), Some(until), Some(latest)) = (months.clone().min(), months.max(), instants.iter().max()) else {
        return Ok(Affected::default());
    };
    // Writes that touch no component (a deleted row of 0) change no decision: nothing to read.
    if components.is_empty() {
        return Ok(Affected::default());
    }
    let customers = distinct(customers.iter().copied());
    let rules = store::evaluation::rules_of_customers(tx, &customers, latest.timestamp_micros()).await?;
    let mut policies = PolicyRules::group(rules);
    policies.retain(|p| p.rules.iter().any(|r| components.contains(&r.component)));
    let limited = distinct(policies.iter().flat_map(|p| p.rules.iter().map(|r| r.component)));
    let earliest_month = engine::earliest(policies.iter().flat_map(|p| p.rules.iter().map(|r| r.period)), first);
    let totals = TotalsWanted::new(&customers, &limited, earliest_month, until);
    Ok(Affected { policies, totals })
}

/// After usage changed: `changes` in the order they were written, by the path that read
/// `affected` before it wrote them, still holding their customers' locks; `totals_before`, the
/// totals `affected` wanted, as they were before the changes. Each change is evaluated on the
/// totals as they stood right after it, as if it had been committed alone, so writes that share
/// a transaction never hide a fire-then-reset pair. Returns the transitions it made.
pub async fn after_usage_changes(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    affected: Affected,
    totals_before: &[CustomerTotal],
    changes: &[UsageChange],
) -> store::Result<TransitionCount> {
    let mut policies = affected.policies;
    let mut totals = Totals::of_read(totals_before);
    let mut made = TransitionCount::default();
    for change in changes {
        totals.add(change);
        let current = Month::of(change.now.date_naive());
        let customer_totals = totals.of(change.customer_id);
        // Only a policy that limits a component the change moved can change its decision.
        for policy in policies.iter_mut().filter(|p| p.customer_id == change.customer_id) {
            if !policy
                .rules
                .iter()
                .any(|r| change.deltas.iter().any(|d| d.component_id == r.component))
            {
                continue;
            }
            made += policy.judge(tx, db, cfg, &customer_totals, current, change.now).await?;
        }
    }
    Ok(made)
}

/// A policy under evaluation: whose it is, whether it has fired, and the rules of its limit rows.
struct PolicyRules {
    id: i64,
    customer_id: i64,
    has_fired: bool,
    ladder: Ladder,
    rules: Vec<LimitRule<i64>>,
}

impl PolicyRules {
    /// Groups limit rows that come in policy order; a policy without rows comes with `None`.
    fn group(rows: Vec<(Firing, Option<LimitRow>)>) -> Vec<Self> {
        let mut policies: Vec<Self> = Vec::new();
        for (firing, limit) in rows {
            if policies.last().is_none_or(|p| p.id != firing.policy_id) {
                policies.push(Self {
                    id: firing.policy_id,
                    customer_id: firing.customer_id,
                    has_fired: firing.has_fired,
                    ladder: firing.ladder.clone(),
                    rules: Vec::new(),
                });
            }
            if let (Some(policy), Some(limit)) = (policies.last_mut(), limit) {
                policy.rules.push(LimitRule::from(&limit));
            }
        }
        policies
    }

    /// Decides on the policy at `now` against its customer's totals and makes what it decided,
    /// then keeps its firing state as made. Most decisions change nothing and read no more; a
    /// change reads what its event and actions tell about the policy.
    async fn judge(
        &mut self,
        tx: &mut Tx,
        db: &Db,
        cfg: &ActionsConfig,
        customer_totals: &[MonthlyTotal<i64>],
        current: Month,
        now: DateTime<Utc>,
    ) -> store::Result<TransitionCount> {
        metrics::counter!("meterguard_evaluations_total").increment(1);
        let evaluation = engine::evaluate(&self.rules, customer_totals, current);
        let decision = judge(self.has_fired, &self.ladder, &evaluation);
        if !decision.changes(self.ladder.warning_level) {
            return Ok(TransitionCount::default());
        }
        let Some(state) = store::evaluation::policy(tx, self.id).await? else {
            return Ok(TransitionCount::default());
        };
        let limits = store::evaluation::limits_of(&mut **tx, &[self.id], now.timestamp_micros()).await?;
        let assessment = Assessment::of(limits, customer_totals, current);
        let done = make(tx, db, cfg, &state, decision, &assessment, now).await?;
        if done.fired + done.reset > 0 {
            self.has_fired = decision.transition == Transition::Fire;
        }
        self.ladder.warning_level = decision.level;
        Ok(done)
    }
}

fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    ids.collect::<BTreeSet<_>>().into_iter().collect()
}

/// Monthly totals held in memory while a batch of changes is replayed over them.
struct Totals(HashMap<(i64, i64, i64), i64>);

impl Totals {
    fn of_read(read: &[CustomerTotal]) -> Self {
        Self(
            read.iter()
                .map(|t| ((t.customer_id, t.component_id, t.month.index()), t.usage.hundredths()))
                .collect(),
        )
    }

    fn add(&mut self, change: &UsageChange) {
        for d in &change.deltas {
            *self
                .0
                .entry((change.customer_id, d.component_id, d.billing_month))
                .or_default() += d.delta;
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

/// Locks the customers' rows in id order, as every path does before it writes or evaluates
/// their policies: paths that lock several customers never wait on each other in a cycle.
pub async fn lock_customers(tx: &mut Tx, customer_ids: &[i64]) -> store::Result<()> {
    let ids = distinct(customer_ids.iter().copied());
    store::evaluation::lock_customers(tx, &ids).await
}

/// After a policy itself was created or changed, by a path that holds its customer's lock
/// (every path that writes a policy or its grants takes it first): evaluated without taking it
/// again, which on PostgreSQL would be one more round trip.
pub async fn policy(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    customer_id: i64,
    policy_id: i64,
    now: DateTime<Utc>,
) -> store::Result<TransitionCount> {
    policies_locked(tx, db, cfg, &[(customer_id, policy_id)], now).await
}

/// Re-evaluates policies, given as (customer, policy), under their customers' locks and makes
/// their transitions; returns them. A policy that has moved to another customer
/// since its caller looked is left to the path that moved it. What they are decided on is read in
/// two queries whatever their number (the sweep passes a hundred at a time); only a policy whose
/// decision changes something reads more.
pub async fn policies(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policies: &[(i64, i64)],
    now: DateTime<Utc>,
) -> store::Result<TransitionCount> {
    let customers: Vec<i64> = policies.iter().map(|&(customer, _)| customer).collect();
    lock_customers(tx, &customers).await?;
    policies_locked(tx, db, cfg, policies, now).await
}

/// `policies` once their customers are locked, by a path that holds their customers' locks.
pub async fn policies_locked(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policies: &[(i64, i64)],
    now: DateTime<Utc>,
) -> store::Result<TransitionCount> {
    let customers: Vec<i64> = policies.iter().map(|&(customer, _)| customer).collect();
    let ids: Vec<i64> = policies.iter().map(|&(_, id)| id).collect();
    let rows = store::evaluation::rules_of(tx, &ids, now.timestamp_micros()).await?;
    let mut policies = PolicyRules::group(rows);
    policies.retain(|p| customers.contains(&p.customer_id));
    judge_all(tx, db, cfg, policies, now).await
}

/// Policies just inserted, given with their ids, by a path that holds their customers' locks.
/// What they are decided on is what was inserted (not fired, no warning, no grants yet: a grant
/// names a policy that exists), so only their customers' totals are read.
pub async fn created(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    created: &[(i64, &NewPolicyRow<'_>)],
    now: DateTime<Utc>,
) -> store::Result<TransitionCount> {
    let policies = created
        .iter()
        .map(|&(id, row)| PolicyRules {
            id,
            customer_id: row.customer_id,
            has_fired: false,
            ladder: Ladder {
                thresholds: row.thresholds.clone(),
                reset_below: row.reset_below,
                warning_level: None,
            },
            rules: row
                .limits
                .iter()
                .map(|l| LimitRule {
                    component: l.component_id,
                    limit: l.limit,
                    period: l.period,
                    granted: Amount::ZERO,
                })
                .collect(),
        })
        .collect();
    judge_all(tx, db, cfg, policies, now).await
}

/// Decides on each policy against its customer's totals, read in one query, and makes what it
/// decided.
async fn judge_all(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    mut policies: Vec<PolicyRules>,
    now: DateTime<Utc>,
) -> store::Result<TransitionCount> {
    let current = Month::of(now.date_naive());
    let limited = distinct(policies.iter().flat_map(|p| p.rules.iter().map(|r| r.component)));
    let earliest_month = engine::earliest(policies.iter().flat_map(|p| p.rules.iter().map(|r| r.period)), current);
    let customers = distinct(policies.iter().map(|p| p.customer_id));
    let mut totals: HashMap<i64, Vec<MonthlyTotal<i64>>> = HashMap::new();
    for t in store::evaluation::totals_of(tx, &customers, &limited, earliest_month, current).await? {
        totals.entry(t.customer_id).or_default().push(MonthlyTotal::from(&t));
    }
    let mut made = TransitionCount::default();
    for policy in &mut policies {
        let customer_totals = totals.get(&policy.customer_id).map(Vec::as_slice).unwrap_or(&[]);
        made += policy.judge(tx, db, cfg, customer_totals, current, now).await?;
    }
    Ok(made)
}

/// After components were removed with the policy limits on them (FK cascade), in a transaction
/// of its own right after the one that removed them: that one takes no customer locks, as its
/// cascade deletes usage rows and totals, which every path that takes them locks before
/// customers. Re-evaluates `policies`, given as (customer, policy), and commits.
pub async fn after_limits_removed(
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
    let Some(policy) = store::evaluation::policy(tx, policy_id).await? else {
        return Ok(made);
    };
    if !policy.has_fired {
        return Ok(made);
    }
    let limits = store::evaluation::limits_of(&mut **tx, &[policy.id], now.timestamp_micros()).await?;
    let assessment = Assessment::of(limits, &[], Month::of(now.date_naive()));
    if apply_transition(tx, db, cfg, &policy, Transition::Reset, &assessment, now).await? {
        made.count(Transition::Reset);
    }
    Ok(made)
}

/// Evaluates one policy's limits against its customer's totals; read-only.
pub async fn assess(
    conn: &mut AnyConnection,
    policy_id: i64,
    customer_id: i64,
    now: DateTime<Utc>,
) -> store::Result<Assessment> {
    let current = Month::of(now.date_naive());
    let mut one = assessments(conn, &[(policy_id, customer_id)], now).await?;
    Ok(one.pop().unwrap_or_else(|| Assessment::of(Vec::new(), &[], current)))
}

/// The assessments of policies at `now`, given as (policy, customer), in their order: their limit
/// rows (with their grants) and their customers' totals are read in two queries whatever their
/// number.
async fn assessments(
    conn: &mut AnyConnection,
    policies: &[(i64, i64)],
    now: DateTime<Utc>,
) -> store::Result<Vec<Assessment>> {
    let current = Month::of(now.date_naive());
    let ids: Vec<i64> = policies.iter().map(|&(id, _)| id).collect();
    let mut limits: HashMap<i64, Vec<ComponentLimit>> = HashMap::new();
    for l in store::evaluation::limits_of(&mut *conn, &ids, now.timestamp_micros()).await? {
        limits.entry(l.policy_id).or_default().push(l);
    }
    let customers = distinct(policies.iter().map(|&(_, customer)| customer));
    let components = distinct(limits.values().flatten().map(|l| l.component_id));
    let earliest_month = engine::earliest(limits.values().flatten().map(|l| l.period), current);
    let mut totals: HashMap<i64, Vec<MonthlyTotal<i64>>> = HashMap::new();
    for t in store::evaluation::totals_of(conn, &customers, &components, earliest_month, current).await? {
        totals.entry(t.customer_id).or_default().push(MonthlyTotal::from(&t));
    }
    Ok(policies
        .iter()
        .map(|(id, customer)| {
            let customer_totals = totals.get(customer).map(Vec::as_slice).unwrap_or(&[]);
            Assessment::of(limits.remove(id).unwrap_or_default(), customer_totals, current)
        })
        .collect())
}

/// The engine's decision for a policy with its stored ladder.
pub fn judge(has_fired: bool, ladder: &Ladder, evaluation: &Evaluation) -> Decision {
    evaluation.judge(has_fired, ladder.thresholds.percents(), ladder.reset_below.percent())
}

/// Makes what the engine decided for a policy read under its customer's lock: a warning when
/// its level rose (the level stored whichever way it moved), then its transition.
async fn make(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policy: &PolicyState,
    Decision { transition, level }: Decision,
    assessment: &Assessment,
    now: DateTime<Utc>,
) -> store::Result<TransitionCount> {
    let mut made = TransitionCount::default();
    if level != policy.ladder.warning_level {
        store::ladder::set_warning_level(tx, policy.id, level).await?;
        if let Some(threshold) = ladder::warning(policy.ladder.warning_level, level) {
            let ctx = context(tx, db, policy, Transition::Stay, assessment, now).await?;
            actions::warnings::warn(tx, cfg, &ctx, threshold).await?;
            made.warned += 1;
        }
    }
    if apply_transition(tx, db, cfg, policy, transition, assessment, now).await? {
        made.count(transition);
    }
    Ok(made)
}

async fn context<'a>(
    tx: &mut Tx,
    db: &Db,
    policy: &'a PolicyState,
    transition: Transition,
    assessment: &'a Assessment,
    now: DateTime<Utc>,
) -> store::Result<TransitionCtx<'a>> {
    Ok(TransitionCtx {
        policy,
        transition,
        assessment,
        now,
        system_user: db.system_user_id(tx).await?,
    })
}

/// Applies an action whose grace period ended, under its customer's lock (docs/ladder.md §4):
/// only the transaction that claims its row applies it, and only while the policy is still fired
/// by the crossing that left it waiting; a row left over from an earlier crossing is dropped.
/// True when it was applied.
pub async fn apply_waiting(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    pending: &PendingAction,
    now: DateTime<Utc>,
) -> store::Result<bool> {
    lock_customers(tx, &[pending.customer_id]).await?;
    let Some(policy) = store::evaluation::policy(tx, pending.policy_id).await? else {
        return Ok(false);
    };
    // Moved meanwhile: the path that moved it reset it, and dropped what waited.
    if policy.customer_id != pending.customer_id || !store::pending_actions::claim(tx, pending).await? {
        return Ok(false);
    }
    if !policy.has_fired || policy.fired_at != Some(pending.fired_at) {
        return Ok(false);
    }
    let assessment = Assessment::of(Vec::new(), &[], Month::of(now.date_naive()));
    let ctx = context(tx, db, &policy, Transition::Fire, &assessment, now).await?;
    actions::apply_waiting(tx, cfg, &ctx, pending.action).await?;
    Ok(true)
}

/// A fired policy's `actions` are about to become `after`: what the actions it drops hold or
/// wait for ends now, as its reset would end it (docs/ladder.md §5). Its customer is locked.
pub async fn drop_actions(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policy_id: i64,
    after: &ActionSet,
    now: DateTime<Utc>,
) -> store::Result<()> {
    let Some(policy) = store::evaluation::policy(tx, policy_id).await? else {
        return Ok(());
    };
    let dropped = ladder::dropped(&policy.actions, after);
    if !policy.has_fired || dropped.is_empty() {
        return Ok(());
    }
    let assessment = Assessment::of(Vec::new(), &[], Month::of(now.date_naive()));
    let ctx = context(tx, db, &policy, Transition::Reset, &assessment, now).await?;
    actions::drop_actions(tx, cfg, &ctx, &dropped).await
}

/// Makes a transition the engine decided: the conditional update, then what the transition
/// does (`actions::apply`). False when there was nothing to make (`Stay`, or the policy was
/// already there).
async fn apply_transition(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    policy: &PolicyState,
    transition: Transition,
    assessment: &Assessment,
    now: DateTime<Utc>,
) -> store::Result<bool> {
    let made = match transition {
        Transition::Fire => store::evaluation::mark_fired(tx, policy.id, now.timestamp_micros()).await?,
        Transition::Reset => store::evaluation::mark_reset(tx, policy.id).await?,
        Transition::Stay => false,
    };
    if made {
        let ctx = context(tx, db, policy, transition, assessment, now).await?;
        actions::apply(tx, cfg, &ctx).await?;
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Period;

    fn row(policy_id: i64, has_fired: bool, component_id: i64, limit: i64) -> (Firing, Option<LimitRow>) {
        let firing = Firing {
            policy_id,
            customer_id: 10 + policy_id,
            has_fired,
            ladder: Ladder::default(),
        };
        let period = Period::Month3;
        let limit = LimitRow {
            policy_id,
            component_id,
            limit,
            period,
            granted: Amount::ZERO,
        };
        (firing, Some(limit))
    }

    #[test]
    fn limit_rows_in_policy_order_group_into_their_policies() {
        let policies = PolicyRules::group(vec![row(1, false, 5, 100), row(1, false, 6, 200), row(2, true, 5, 7)]);
        let heads: Vec<(i64, i64, bool)> = policies.iter().map(|p| (p.id, p.customer_id, p.has_fired)).collect();
        assert_eq!(heads, [(1, 11, false), (2, 12, true)]);
        let rules: Vec<Vec<(i64, i64)>> = policies
            .iter()
            .map(|p| p.rules.iter().map(|r| (r.component, r.limit)).collect())
            .collect();
        assert_eq!(rules, [vec![(5, 100), (6, 200)], vec![(5, 7)]]);
        assert!(policies
            .iter()
            .flat_map(|p| &p.rules)
            .all(|r| r.period == Period::Month3));
        assert!(PolicyRules::group(Vec::new()).is_empty());
        // A policy without limit rows is still decided on: with no rules it is under its limits.
        let (firing, _) = row(3, true, 5, 7);
        let bare = PolicyRules::group(vec![(firing, None)]);
        assert_eq!(bare.len(), 1);
        assert!(bare[0].has_fired && bare[0].rules.is_empty());
    }

    #[test]
    fn totals_replay_changes_from_before_them() {
        let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let month = Month::of(now.date_naive());
        let change = |delta| UsageChange {
            customer_id: 1,
            now,
            deltas: vec![MonthDelta {
                component_id: 5,
                billing_month: month.index(),
                delta,
            }],
        };
        let changes = [change(300), change(-100)];
        // Read before the changes: 1000, and nothing yet for another component.
        let before = [CustomerTotal {
            customer_id: 1,
            component_id: 5,
            month,
            usage: Amount::from_hundredths(1_000),
        }];
        let mut totals = Totals::of_read(&before);
        let usage = |totals: &Totals| totals.of(1).iter().map(|t| t.usage.hundredths()).sum::<i64>();
        assert_eq!(usage(&totals), 1_000);
        totals.add(&changes[0]);
        assert_eq!(usage(&totals), 1_300);
        totals.add(&changes[1]);
        assert_eq!(usage(&totals), 1_200);
        assert!(totals.of(2).is_empty());
        // A component first reported in the batch starts from nothing.
        let mut fresh = Totals::of_read(&[]);
        fresh.add(&change(250));
        assert_eq!(usage(&fresh), 250);
    }
}
