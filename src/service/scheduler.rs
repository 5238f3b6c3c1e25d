//! Wakes the sweep exactly at each month boundary (00:00 UTC on the 1st) and every
//! `interval` in between.

use super::sweep::sweep;
use crate::actions::ActionsConfig;
use crate::clock::Clock;
use crate::domain::Month;
use crate::store::Db;
use chrono::{DateTime, Duration, Utc};
use std::future::Future;

/// The first instant of the month after the one `now` is in.
pub fn next_month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Month::of(now.date_naive())
        .next()
        .first_day()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
}

pub async fn run(db: Db, cfg: ActionsConfig, clock: Clock, interval: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut periodic = clock.now() + interval;
    loop {
        let wake = next_month_start(clock.now()).min(periodic);
        tokio::select! {
            _ = &mut shutdown => return,
            _ = clock.sleep_until(wake) => {}
        }
        let now = clock.now();
        if now >= periodic {
            periodic = now + interval;
        }
        match sweep(&db, &cfg, now).await {
            Ok(report) => tracing::info!(evaluated = report.evaluated, changed = report.changed, "sweep"),
            Err(err) => tracing::error!(error = %err, "sweep failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_next_boundary_is_midnight_utc_on_the_first() {
        assert_eq!(next_month_start(at("2026-01-31T23:59:59Z")), at("2026-02-01T00:00:00Z"));
        assert_eq!(next_month_start(at("2026-12-15T10:00:00Z")), at("2027-01-01T00:00:00Z"));
        assert_eq!(next_month_start(at("2026-03-01T00:00:00Z")), at("2026-04-01T00:00:00Z"));
    }
}
