//! Re-evaluating every policy: at each month boundary (windows move) and periodically. The
//! whole catalogue is evaluated in memory from three reads; only policies whose state would
//! change are then re-evaluated under lock, about a hundred to a transaction.

use super::evaluation;
use crate::actions::ActionsConfig;
use crate::domain::Month;
use crate::engine::{self, LimitRule, MonthlyTotal};
use crate::store::{self, Db};
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
    let mut conn = db.reader().acquire().await?;
    let firings = store::evaluation::all_firings(&mut conn).await?;
    let mut rules: HashMap<i64, Vec<LimitRule<i64>>> = HashMap::new();
    for limit in store::evaluation::all_limits(&mut conn, now.timestamp_micros()).await? {
        rules.entry(limit.policy_id).or_default().push(LimitRule::from(&limit));
    }
    let mut totals: HashMap<i64, Vec<MonthlyTotal<i64>>> = HashMap::new();
    let earliest_month = engine::earliest(rules.values().flatten().map(|r| r.period), current);
    for t in store::evaluation::all_totals(&mut conn, earliest_month, current).await? {
        totals.entry(t.customer_id).or_default().push(MonthlyTotal::from(&t));
    }
    drop(conn);
    let mut candidates = Vec::new();
    for firing in &firings {
        let policy_rules = rules.get(&firing.policy_id).map(Vec::as_slice).unwrap_or(&[]);
        let customer_totals = totals.get(&firing.customer_id).map(Vec::as_slice).unwrap_or(&[]);
        let evaluation = engine::evaluate(policy_rules, customer_totals, current);
        if evaluation::judge(firing.has_fired, &firing.ladder, &evaluation).changes(firing.ladder.warning_level) {
            candidates.push((firing.customer_id, firing.policy_id));
        }
    }
    metrics::counter!("meterguard_evaluations_total").increment(firings.len() as u64);
    let changed = candidates.len();
    // One transaction at a time, as report batches are written. Each takes whole customers and
    // locks them in id order, as every other path does.
    for batch in by_customer(candidates, TRANSITIONS_PER_TRANSACTION) {
        let mut tx = db.begin().await?;
        let transitions = evaluation::policies(&mut tx, db, cfg, &batch, now).await?;
        tx.commit().await?;
        cfg.after_commit(transitions);
    }
    Ok(SweepReport {
        evaluated: firings.len(),
        changed,
    })
}

/// (customer, policy) pairs in batches of about `size`, a customer's policies never split
/// between two.
fn by_customer(mut candidates: Vec<(i64, i64)>, size: usize) -> Vec<Vec<(i64, i64)>> {
    candidates.sort_unstable();
    let mut batches: Vec<Vec<(i64, i64)>> = Vec::new();
    for pair in candidates {
        match batches.last_mut() {
            Some(batch) if batch.len() < size || batch.last().is_some_and(|last| last.0 == pair.0) => batch.push(pair),
            _ => batches.push(vec![pair]),
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::by_customer;

    #[test]
    fn batches_keep_each_customer_whole() {
        // (customer, policy): customer 1 has three policies, which outgrow a batch of two.
        let candidates = vec![(2, 9), (1, 8), (3, 1), (1, 2), (2, 4), (1, 5)];
        assert_eq!(
            by_customer(candidates, 2),
            vec![vec![(1, 2), (1, 5), (1, 8)], vec![(2, 4), (2, 9)], vec![(3, 1)]]
        );
        assert_eq!(by_customer(vec![], 2), Vec::<Vec<(i64, i64)>>::new());
    }
}
