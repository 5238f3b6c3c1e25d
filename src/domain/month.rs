//! Calendar months in UTC: billing periods and evaluation windows are made of them.

use super::time::{self, Micros};
use chrono::{Datelike, NaiveDate};
use std::fmt;

/// A calendar month, ordered in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1..=12
    month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Self> {
        (1..=12).contains(&month).then_some(Self { year, month })
    }

    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// A dense index, convenient for storage and arithmetic: months since year 0.
    pub fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    pub fn from_index(index: i64) -> Self {
        let year = index.div_euclid(12);
        Self {
            year: year as i32,
            month: (index.rem_euclid(12) + 1) as u32,
        }
    }

    /// The month `n` months before this one (calendar subtraction, as relativedelta).
    pub fn minus(self, n: u32) -> Self {
        Self::from_index(self.index() - i64::from(n))
    }

    pub fn next(self) -> Self {
        Self::from_index(self.index() + 1)
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or_default()
    }

    pub fn days(self) -> u32 {
        self.last_day().day()
    }

    /// The month an instant (microseconds, UTC) falls in.
    pub fn of_micros(at: Micros) -> Self {
        Self::of(time::from_micros(at).date_naive())
    }

    /// Its first instant: 00:00 UTC of its first day, in microseconds.
    pub fn start_micros(self) -> Micros {
        self.first_day()
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp_micros()
    }

    /// `YYYY-MM`, as the report log and the dry run name billing months.
    pub fn year_month(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// Reads `YYYY-MM` (four-digit year, two-digit month); `None` for anything else.
    pub fn parse_year_month(text: &str) -> Option<Self> {
        let (year, month) = text.split_once('-')?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return None;
        }
        Self::new(year.parse().ok()?, month.parse().ok()?)
    }
}

impl fmt::Display for Month {
    /// The billing period as upstream stores it: the first day of the month.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-01", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_crosses_year_boundaries() {
        let jan = Month::new(2026, 1).unwrap();
        assert_eq!(jan.minus(2), Month::new(2025, 11).unwrap());
        assert_eq!(jan.minus(11), Month::new(2025, 2).unwrap());
        assert_eq!(Month::new(2025, 12).unwrap().next(), jan);
        assert_eq!(Month::from_index(jan.index()), jan);
        assert_eq!(jan.to_string(), "2026-01-01");
    }

    #[test]
    fn knows_its_days() {
        assert_eq!(Month::new(2024, 2).unwrap().days(), 29);
        assert_eq!(Month::new(2026, 2).unwrap().last_day().to_string(), "2026-02-28");
        assert_eq!(Month::new(2026, 12).unwrap().last_day().to_string(), "2026-12-31");
        assert!(Month::new(2026, 13).is_none());
    }

    #[test]
    fn instants_fall_in_the_month_that_starts_at_midnight_utc() {
        let feb = Month::new(2026, 2).unwrap();
        assert_eq!(time::render(feb.start_micros()), "2026-02-01T00:00:00.000000Z");
        assert_eq!(Month::of_micros(feb.start_micros()), feb);
        assert_eq!(Month::of_micros(feb.start_micros() - 1), Month::new(2026, 1).unwrap());
    }

    #[test]
    fn year_months_read_and_write_yyyy_mm_only() {
        let m = Month::new(2026, 3).unwrap();
        assert_eq!(m.year_month(), "2026-03");
        assert_eq!(Month::parse_year_month("2026-03"), Some(m));
        for bad in [
            "2026-3",
            "2026-13",
            "2026-00",
            "26-03",
            "2026-03-01",
            "2026/03",
            "",
            "+026-03",
        ] {
            assert_eq!(Month::parse_year_month(bad), None, "{bad}");
        }
    }
}
