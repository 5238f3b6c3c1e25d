//! Totals against limits (upstream `CustomerComponentUsagePolicy.is_triggered`).

use super::transition::{decide, Decision};
use super::Window;
use crate::domain::evaluation::{ComponentLimit, CustomerTotal, LimitRow};
use crate::domain::{Amount, Month, Period};

/// One limit row of a policy; `C` identifies a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRule<C> {
    pub component: C,
    /// Whole units, as the API takes it.
    pub limit: i64,
    pub period: Period,
    /// What the grants active at the evaluation add to `limit` (docs/grants.md).
    pub granted: Amount,
}

impl<C> LimitRule<C> {
    /// `limit` plus what is granted: what usage is judged against.
    pub fn effective(&self) -> Amount {
        effective(self.limit, self.granted)
    }
}

/// A limit in whole units topped up by `granted`.
pub fn effective(limit: i64, granted: Amount) -> Amount {
    Amount::from_units(limit).saturating_add(granted)
}

impl From<&LimitRow> for LimitRule<i64> {
    fn from(row: &LimitRow) -> Self {
        LimitRule {
            component: row.component_id,
            limit: row.limit,
            period: row.period,
            granted: row.granted,
        }
    }
}

impl From<&ComponentLimit> for LimitRule<i64> {
    fn from(row: &ComponentLimit) -> Self {
        LimitRule {
            component: row.component_id,
            limit: row.limit,
            period: row.period,
            granted: row.granted,
        }
    }
}

/// The customer's total usage of one component in one billing month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlyTotal<C> {
    pub component: C,
    pub month: Month,
    pub usage: Amount,
}

impl From<&CustomerTotal> for MonthlyTotal<i64> {
    fn from(total: &CustomerTotal) -> Self {
        MonthlyTotal {
            component: total.component_id,
            month: total.month,
            usage: total.usage,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowOutcome {
    pub window: Window,
    pub usage: Amount,
    /// The row's limit, whole units.
    pub limit: i64,
    /// What the grants active at the evaluation add to it.
    pub granted: Amount,
    /// Strictly greater than the effective limit; equal is not over.
    pub over: bool,
}

impl RowOutcome {
    /// The limit topped up by the grants: what `over`, warnings and resets judge against.
    pub fn effective(&self) -> Amount {
        effective(self.limit, self.granted)
    }
}

/// Each row's outcome, in the policy's row order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub rows: Vec<RowOutcome>,
}

impl Evaluation {
    /// A policy is over when any row is; a policy without rows never is.
    pub fn over(&self) -> bool {
        self.rows.iter().any(|r| r.over)
    }

    /// Every row at or under `percent` % of its limit (docs/ladder.md §3).
    pub fn settled(&self, percent: u8) -> bool {
        super::ladder::settled(&self.rows, percent)
    }

    /// The highest of `thresholds` some row is strictly over (docs/ladder.md §2).
    pub fn warning_level(&self, thresholds: &[u8]) -> Option<u8> {
        super::ladder::warning_level(thresholds, &self.rows)
    }

    /// What a policy that `has_fired`, warns at `thresholds` and resets at `reset_percent` % makes
    /// of this evaluation: its transition and its warning level.
    pub fn judge(&self, has_fired: bool, thresholds: &[u8], reset_percent: u8) -> Decision {
        Decision {
            transition: decide(has_fired, self.over(), self.settled(reset_percent)),
            level: self.warning_level(thresholds),
        }
    }
}

pub fn evaluate<C: PartialEq>(rules: &[LimitRule<C>], totals: &[MonthlyTotal<C>], current: Month) -> Evaluation {
    let rows = rules
        .iter()
        .map(|rule| {
            let window = Window::of(rule.period, current);
            let usage = totals
                .iter()
                .filter(|t| t.component == rule.component && window.contains(t.month))
                .fold(Amount::ZERO, |sum, t| sum.saturating_add(t.usage));
            RowOutcome {
                window,
                usage,
                limit: rule.limit,
                granted: rule.granted,
                over: usage > rule.effective(),
            }
        })
        .collect();
    Evaluation { rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CPU: u8 = 1;
    const GPU: u8 = 2;

    fn m(y: i32, mo: u32) -> Month {
        Month::new(y, mo).unwrap()
    }

    fn amount(s: &str) -> Amount {
        Amount::parse(&json!(s)).unwrap()
    }

    fn total(component: u8, month: Month, usage: &str) -> MonthlyTotal<u8> {
        MonthlyTotal {
            component,
            month,
            usage: amount(usage),
        }
    }

    fn rule(component: u8, limit: i64, period: Period) -> LimitRule<u8> {
        LimitRule {
            component,
            limit,
            period,
            granted: Amount::ZERO,
        }
    }

    #[test]
    fn every_period_at_just_under_and_just_over_the_limit() {
        let now = m(2026, 1);
        for period in [Period::Total, Period::Month1, Period::Month3, Period::Month12] {
            for (usage, over) in [("99.99", false), ("100", false), ("100.01", true)] {
                let e = evaluate(&[rule(CPU, 100, period)], &[total(CPU, now, usage)], now);
                assert_eq!(e.over(), over, "{period:?} {usage}");
                assert_eq!(e.rows[0].usage, amount(usage));
            }
        }
    }

    #[test]
    fn windows_sum_only_their_months() {
        let now = m(2026, 1);
        let totals = [
            total(CPU, m(2024, 6), "1000"),
            total(CPU, m(2025, 1), "200"),
            total(CPU, m(2025, 2), "30"),
            total(CPU, m(2025, 11), "4"),
            total(CPU, m(2025, 12), "0.5"),
            total(CPU, now, "0.25"),
            total(CPU, m(2026, 2), "77777"),
        ];
        let usage = |period| evaluate(&[rule(CPU, 0, period)], &totals, now).rows[0].usage;
        assert_eq!(usage(Period::Month1), amount("0.25"));
        assert_eq!(usage(Period::Month3), amount("4.75"));
        assert_eq!(usage(Period::Month12), amount("34.75"));
        assert_eq!(usage(Period::Total), amount("1234.75"));
    }

    #[test]
    fn a_new_year_keeps_the_previous_months_in_rolling_windows() {
        let totals = [total(CPU, m(2025, 12), "60"), total(CPU, m(2026, 1), "50")];
        let rules = [rule(CPU, 100, Period::Month1), rule(CPU, 100, Period::Month3)];
        let e = evaluate(&rules, &totals, m(2026, 1));
        assert!(!e.rows[0].over);
        assert!(e.rows[1].over);
        let later = evaluate(&rules, &totals, m(2026, 3));
        assert_eq!(later.rows[1].usage, amount("50"));
        assert!(!later.over());
    }

    #[test]
    fn rows_are_ored_and_several_rows_may_share_a_component() {
        let now = m(2026, 5);
        let totals = [total(CPU, now, "150"), total(GPU, now, "5")];
        let rules = [
            rule(GPU, 10, Period::Month1),
            rule(CPU, 200, Period::Month1),
            rule(CPU, 100, Period::Total),
        ];
        let e = evaluate(&rules, &totals, now);
        assert_eq!(e.rows.iter().map(|r| r.over).collect::<Vec<_>>(), [false, false, true]);
        assert!(e.over());
    }

    #[test]
    fn no_rows_never_fire_and_no_usage_is_zero() {
        assert!(!evaluate::<u8>(&[], &[total(CPU, m(2026, 1), "1000000")], m(2026, 1)).over());
        let e = evaluate(&[rule(CPU, 0, Period::Total)], &[], m(2026, 1));
        assert_eq!(e.rows[0].usage, Amount::ZERO);
        assert!(!e.over());
        let negative = evaluate(&[rule(CPU, -1, Period::Total)], &[], m(2026, 1));
        assert!(negative.over(), "zero usage is over a negative limit");
    }

    #[test]
    fn grants_top_up_every_row_on_their_component() {
        let now = m(2026, 1);
        let totals = [total(CPU, now, "150.01")];
        let granted = |hundredths| LimitRule {
            granted: Amount::from_hundredths(hundredths),
            ..rule(CPU, 100, Period::Month1)
        };
        let at = |rule: LimitRule<u8>| evaluate(&[rule], &totals, now).rows[0];
        assert!(at(granted(0)).over);
        assert!(at(granted(5_000)).over, "150.01 is over 150");
        let row = at(granted(5_001));
        assert!(!row.over, "150.01 is not over 150.01");
        assert_eq!((row.limit, row.effective()), (100, amount("150.01")));
    }

    #[test]
    fn decimal_sums_are_exact() {
        let now = m(2026, 1);
        let totals = [
            total(CPU, m(2025, 12), "0.1"),
            total(CPU, m(2025, 11), "0.1"),
            total(CPU, now, "0.1"),
        ];
        let e = evaluate(&[rule(CPU, 0, Period::Month3)], &totals, now);
        assert_eq!(e.rows[0].usage, amount("0.3"));
    }
}
