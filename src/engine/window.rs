//! Evaluation windows: rolling calendar months ending with the current one (upstream
//! `PeriodMixin.get_start_date`), never including future months.

use crate::domain::{Month, Period};

/// An inclusive range of months; `start: None` is unbounded (Total).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Option<Month>,
    pub end: Month,
}

impl Window {
    pub fn of(period: Period, current: Month) -> Self {
        let start = period.months().map(|n| current.minus(n - 1));
        Self { start, end: current }
    }

    pub fn contains(&self, month: Month) -> bool {
        month <= self.end && self.start.is_none_or(|s| month >= s)
    }
}

/// The first month that any window of `periods` reaches at `current`, or `None` when one of
/// them is unbounded (Total): how far back the totals an evaluation needs go.
pub fn earliest(periods: impl IntoIterator<Item = Period>, current: Month) -> Option<Month> {
    let mut earliest = current;
    for period in periods {
        earliest = earliest.min(Window::of(period, current).start?);
    }
    Some(earliest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(y: i32, mo: u32) -> Month {
        Month::new(y, mo).unwrap()
    }

    #[test]
    fn windows_roll_back_from_the_current_month() {
        let now = m(2026, 1);
        assert_eq!(Window::of(Period::Total, now).start, None);
        assert_eq!(Window::of(Period::Month1, now).start, Some(m(2026, 1)));
        assert_eq!(Window::of(Period::Month3, now).start, Some(m(2025, 11)));
        assert_eq!(Window::of(Period::Month12, now).start, Some(m(2025, 2)));
        assert_eq!(Window::of(Period::Month3, m(2026, 3)).start, Some(m(2026, 1)));
        assert_eq!(Window::of(Period::Month12, m(2026, 3)).start, Some(m(2025, 4)));
    }

    #[test]
    fn future_months_are_outside_every_window() {
        let now = m(2026, 1);
        for period in [Period::Total, Period::Month1, Period::Month3, Period::Month12] {
            let w = Window::of(period, now);
            assert!(w.contains(now));
            assert!(!w.contains(m(2026, 2)), "{period:?}");
        }
        assert!(Window::of(Period::Total, now).contains(m(1999, 7)));
        assert!(!Window::of(Period::Month3, now).contains(m(2025, 10)));
        assert!(Window::of(Period::Month3, now).contains(m(2025, 11)));
    }

    #[test]
    fn the_earliest_month_is_the_widest_window_start() {
        let now = m(2026, 2);
        assert_eq!(earliest([], now), Some(now));
        assert_eq!(earliest([Period::Month1], now), Some(now));
        assert_eq!(earliest([Period::Month1, Period::Month3], now), Some(m(2025, 12)));
        assert_eq!(earliest([Period::Month12, Period::Month3], now), Some(m(2025, 3)));
        assert_eq!(earliest([Period::Month3, Period::Total, Period::Month1], now), None);
    }
}
