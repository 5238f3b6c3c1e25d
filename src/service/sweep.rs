//! Re-evaluating every policy: at each month boundary (windows move) and periodically. The
//! whole catalogue is judged in memory from three reads; only policies whose state would change
//! are then re-evaluated under lock, a hundred to a transaction.

use super::evaluation;
use crate::actions::ActionsConfig;
use crate::domain::{Amount, Month, Period};
use crate::engine::{self, LimitRule, MonthlyTotal, Transition};
use crate::store::{self, evaluation as facts, Db};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// How many policies one sweep transaction re-evaluates under lock.
const TRANSITIONS_PER_TRANSACTION: usize = 100;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub evaluated: usize,
    pub changed: usize,
}

pub async fn sweep(db: &Db, cfg: &ActionsConfig, now: DateTime<Utc>) -> store::Result<SweepReport> {
    let current = Month::of(now.date_naive());
    let states = facts::all_states(db.reader()).await?;
    let mut rules: HashMap<i64, Vec<LimitRule<i64>>> = HashMap::new();
    for (policy_id, component, limit, period) in facts::all_limits(db.reader()).await? {
        let period = Period::from_code(period).unwrap_or(Period::DEFAULT);
        rules.entry(policy_id).or_default().push(LimitRule {
            component,
            limit,
            period,
        });
    }
    let mut totals: HashMap<i64, Vec<MonthlyTotal<i64>>> = HashMap::new();
    for t in facts::all_totals(db.reader(), current.index()).await? {
        totals.entry(t.customer_id).or_default().push(MonthlyTotal {
            component: t.component_id,
            month: Month::from_index(t.billing_month),
            usage: Amount::from_hundredths(t.usage),
        });
    }
    let mut candidates = Vec::new();
    for (policy_id, customer_id, has_fired) in &states {
        let own = rules.get(policy_id).map(Vec::as_slice).unwrap_or(&[]);
        let usage = totals.get(customer_id).map(Vec::as_slice).unwrap_or(&[]);
        let over = engine::evaluate(own, usage, current).over();
        if engine::decide(*has_fired != 0, over) != Transition::Stay {
            candidates.push(*policy_id);
        }
    }
    metrics::counter!("meterguard_evaluations_total").increment(states.len() as u64);
    // Ascending ids, as every other path locks policies, and a batch per transaction: one
    // commit (one fsync on SQLite) per hundred transitions rather than per transition.
    candidates.sort_unstable();
    for batch in candidates.chunks(TRANSITIONS_PER_TRANSACTION) {
        let mut tx = db.begin().await?;
        let transitions = evaluation::policies(&mut tx, db, cfg, batch, now).await?;
        tx.commit().await?;
        cfg.after_commit(transitions);
    }
    Ok(SweepReport {
        evaluated: states.len(),
        changed: candidates.len(),
    })
}
