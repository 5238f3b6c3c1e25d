//! A policy's limit rows evaluated against its customer's totals: what a transition's event,
//! emails and webhooks tell, and what the status endpoint shows (docs/evaluation.md §7).

use super::{evaluate, Evaluation, LimitRule, MonthlyTotal, RowOutcome};
use crate::domain::evaluation::ComponentLimit;
use crate::domain::{Amount, Month};

/// A policy's limit rows with their evaluation, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub limits: Vec<ComponentLimit>,
    pub evaluation: Evaluation,
    /// Each row's component usage in the current month (the pace of projections).
    pub month_usage: Vec<Amount>,
}

impl Assessment {
    /// Evaluates the limit rows of one policy against its customer's `totals` at `current`.
    pub fn of(limits: Vec<ComponentLimit>, totals: &[MonthlyTotal<i64>], current: Month) -> Self {
        let rules: Vec<LimitRule<i64>> = limits.iter().map(LimitRule::from).collect();
        let evaluation = evaluate(&rules, totals, current);
        let month_usage = limits
            .iter()
            .map(|l| {
                totals
                    .iter()
                    .filter(|t| t.component == l.component_id && t.month == current)
                    .fold(Amount::ZERO, |sum, t| sum.saturating_add(t.usage))
            })
            .collect();
        Self {
            limits,
            evaluation,
            month_usage,
        }
    }

    /// The rows over their limit, in row order, as events and notifications name them.
    pub fn exceeded(&self) -> impl Iterator<Item = (&ComponentLimit, &RowOutcome)> {
        self.limits
            .iter()
            .zip(&self.evaluation.rows)
            .filter(|(_, row)| row.over)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Period, Uuid32};

    const CPU: i64 = 1;
    const GPU: i64 = 2;

    fn m(y: i32, mo: u32) -> Month {
        Month::new(y, mo).unwrap()
    }

    fn limit(component_id: i64, limit: i64, period: Period) -> ComponentLimit {
        ComponentLimit {
            policy_id: 7,
            component_id,
            component_uuid: Uuid32::new_v4(),
            component_type: format!("type{component_id}"),
            component_name: format!("Component {component_id}"),
            measured_unit: "h".into(),
            limit,
            period,
            granted: Amount::ZERO,
        }
    }

    fn total(component: i64, month: Month, hundredths: i64) -> MonthlyTotal<i64> {
        MonthlyTotal {
            component,
            month,
            usage: Amount::from_hundredths(hundredths),
        }
    }

    #[test]
    fn each_row_is_evaluated_with_its_components_usage_this_month() {
        let now = m(2026, 3);
        let totals = [
            total(CPU, m(2026, 2), 9_000),
            total(CPU, now, 2_050),
            total(GPU, now, 100),
        ];
        let limits = vec![
            limit(CPU, 100, Period::Month3),
            limit(GPU, 10, Period::Month1),
            limit(CPU, 100, Period::Month1),
        ];
        let a = Assessment::of(limits.clone(), &totals, now);
        assert_eq!(a.limits, limits);
        let usage: Vec<Amount> = a.evaluation.rows.iter().map(|r| r.usage).collect();
        assert_eq!(usage, [11_050, 100, 2_050].map(Amount::from_hundredths));
        assert_eq!(a.month_usage, [2_050, 100, 2_050].map(Amount::from_hundredths));
    }

    #[test]
    fn only_rows_over_their_limit_are_exceeded() {
        let now = m(2026, 3);
        let totals = [total(CPU, now, 10_001), total(GPU, now, 1_000)];
        let a = Assessment::of(
            vec![limit(GPU, 10, Period::Total), limit(CPU, 100, Period::Month1)],
            &totals,
            now,
        );
        let exceeded: Vec<(i64, Amount)> = a.exceeded().map(|(l, row)| (l.component_id, row.usage)).collect();
        assert_eq!(exceeded, [(CPU, Amount::from_hundredths(10_001))]);
        assert_eq!(Assessment::of(Vec::new(), &totals, now).exceeded().count(), 0);
    }
}
