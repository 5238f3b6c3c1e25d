//! How far each limit row is from its limit, and when it would cross at the current pace
//! (docs/evaluation.md §7, meterguard's own addition).

use super::{RowOutcome, Window};
use crate::domain::{Amount, Month};
use chrono::{Datelike, Duration, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headroom {
    /// `None` for Total.
    pub window_start: Option<NaiveDate>,
    /// The last day of the current month.
    pub window_end: NaiveDate,
    pub usage: Amount,
    pub limit: i64,
    /// What the grants active now add to `limit` (docs/grants.md).
    pub granted: Amount,
    /// `limit + granted`: what the figures below are against.
    pub effective_limit: Amount,
    /// `effective_limit − usage`; negative when over.
    pub remaining: Amount,
    /// `usage / effective_limit × 100` in hundredths of a percent, rounded half away from zero;
    /// `None` when the effective limit is not positive.
    pub percent_hundredths: Option<i64>,
    pub over: bool,
    pub projected_crossing: Option<NaiveDate>,
}

/// How far projections look ahead at most.
const HORIZON_DAYS: i64 = 365;

/// `month_usage` is the component's usage in the current month, which sets the daily pace.
pub fn headroom(row: &RowOutcome, month_usage: Amount, today: NaiveDate) -> Headroom {
    let Window { start, end } = row.window;
    let effective_limit = row.effective();
    Headroom {
        window_start: start.map(Month::first_day),
        window_end: end.last_day(),
        usage: row.usage,
        limit: row.limit,
        granted: row.granted,
        effective_limit,
        remaining: effective_limit.saturating_sub(row.usage),
        percent_hundredths: percent(row.usage, effective_limit),
        over: row.over,
        projected_crossing: projection(row, effective_limit, month_usage, today),
    }
}

/// `usage / limit × 100` in hundredths of a percent, rounded half away from zero; `None` when the
/// limit is not positive.
pub fn percent(usage: Amount, limit: Amount) -> Option<i64> {
    if limit.hundredths() <= 0 {
        return None;
    }
    // Both in hundredths: usage/limit × 100 is the percent, × 100 more its hundredths.
    Some(div_round_half_away(
        i128::from(usage.hundredths()) * 10_000,
        i128::from(limit.hundredths()),
    ))
}

fn div_round_half_away(num: i128, den: i128) -> i64 {
    let q = num / den;
    let r = num % den;
    let adjust = if 2 * r.abs() >= den.abs() {
        num.signum() * den.signum()
    } else {
        0
    };
    i64::try_from(q + adjust).unwrap_or(i64::MAX)
}

/// The first day whose end-of-day window total would exceed the limit if every day from now on
/// used what the current month has averaged per day so far (today counted).
fn projection(row: &RowOutcome, limit: Amount, month_usage: Amount, today: NaiveDate) -> Option<NaiveDate> {
    if row.over {
        return Some(today);
    }
    let month_usage = i128::from(month_usage.hundredths());
    if month_usage <= 0 {
        return None;
    }
    let elapsed = i128::from(today.day());
    // Smallest k ≥ 1 with usage + k·month_usage/elapsed > limit.
    let gap = (i128::from(limit.hundredths()) - i128::from(row.usage.hundredths())) * elapsed;
    let days = gap.div_euclid(month_usage) + 1;
    if days > i128::from(HORIZON_DAYS) {
        return None;
    }
    let day = today + Duration::days(days as i64);
    let windowed = row.window.start.is_some();
    (!windowed || day <= row.window.end.last_day()).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Period;
    use serde_json::json;

    fn amount(s: &str) -> Amount {
        Amount::parse(&json!(s)).unwrap()
    }

    fn row(period: Period, usage: &str, limit: i64, today: NaiveDate) -> RowOutcome {
        let usage = amount(usage);
        RowOutcome {
            window: Window::of(period, Month::of(today)),
            usage,
            limit,
            granted: Amount::ZERO,
            over: usage > Amount::from_units(limit),
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn figures_of_a_row_over_its_limit() {
        let today = day("2026-11-26");
        let h = headroom(&row(Period::Month3, "150.25", 150, today), amount("10"), today);
        assert_eq!(h.window_start, Some(day("2026-09-01")));
        assert_eq!(h.window_end, day("2026-11-30"));
        assert_eq!(h.remaining.to_string(), "-0.25");
        assert_eq!(h.percent_hundredths, Some(10017));
        assert!(h.over);
        assert_eq!(h.projected_crossing, Some(today));
    }

    #[test]
    fn percent_rounds_half_away_from_zero_and_is_absent_for_non_positive_limits() {
        let units = Amount::from_units;
        assert_eq!(percent(Amount::from_hundredths(1), units(8)), Some(13)); // 0.125% → 0.13
        assert_eq!(percent(Amount::from_hundredths(1), units(800)), Some(0)); // 0.00125% → 0.00
        assert_eq!(percent(amount("2"), units(3)), Some(6667));
        assert_eq!(percent(amount("1"), amount("0.01")), Some(1_000_000));
        assert_eq!(percent(amount("1"), Amount::ZERO), None);
        assert_eq!(percent(amount("1"), units(-5)), None);
    }

    #[test]
    fn projects_the_crossing_at_this_months_pace() {
        // 40 used in 10 days: 4 a day. 100 − 40 = 60 left: day 15 reaches exactly 100, day 16 is over.
        let today = day("2026-11-10");
        let h = headroom(&row(Period::Month1, "40", 100, today), amount("40"), today);
        assert_eq!(h.projected_crossing, Some(day("2026-11-26")));
        assert_eq!(h.window_start, Some(day("2026-11-01")));
        // A crossing after the window's end is not projected for windowed periods…
        let slow = headroom(&row(Period::Month1, "40", 1000, today), amount("40"), today);
        assert_eq!(slow.projected_crossing, None);
        // …but is for Total, within a year.
        let total = headroom(&row(Period::Total, "40", 1000, today), amount("40"), today);
        assert_eq!(total.projected_crossing, Some(day("2027-07-09"))); // 960 left at 4 a day
        assert_eq!(total.window_start, None);
        let far = headroom(&row(Period::Total, "40", 100_000, today), amount("40"), today);
        assert_eq!(far.projected_crossing, None);
    }

    #[test]
    fn a_grant_moves_every_figure_to_the_effective_limit() {
        // 100 + 50.50 granted, 120 used in 10 days: 12 a day, 30.50 left, over on day 3.
        let today = day("2026-11-10");
        let mut granted = row(Period::Total, "120", 100, today);
        granted.granted = amount("50.50");
        granted.over = granted.usage > granted.effective();
        let h = headroom(&granted, amount("120"), today);
        assert_eq!(
            (h.limit, h.granted, h.effective_limit),
            (100, amount("50.50"), amount("150.50"))
        );
        assert_eq!(h.remaining, amount("30.50"));
        assert_eq!(h.percent_hundredths, Some(7973)); // 79.734…
        assert!(!h.over);
        assert_eq!(h.projected_crossing, Some(day("2026-11-13")));
    }

    #[test]
    fn no_pace_no_projection() {
        let today = day("2026-01-01");
        let h = headroom(&row(Period::Total, "5", 10, today), Amount::ZERO, today);
        assert_eq!(h.projected_crossing, None);
        assert_eq!(h.percent_hundredths, Some(5000));
    }
}
