//! Wakes the sweep exactly at each month boundary (00:00 UTC on the 1st) and every
//! `interval` in between, applies the actions waiting out a grace period at their due time
//! (docs/ladder.md §4), and evaluates each grant's policy at the grant's start and expiry
//! (docs/grants.md §3): woken by the clock at the earliest of those, or by a fire or a new grant
//! that adds one. A
//! failed sweep or pass ends the run with its error; the supervisor starts it again after a
//! short backoff, and a new run sweeps at once, so a failure is retried soon rather than at the
//! next interval.

use super::grace;
use super::grant_boundaries;
use super::sweep::sweep;
use crate::actions::ActionsConfig;
use crate::clock::Clock;
use crate::domain::Month;
use crate::faults::{Faults, Site};
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

/// When the next sweeps are due: the next month boundary and the next periodic sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Schedule {
    boundary: DateTime<Utc>,
    periodic: DateTime<Utc>,
    interval: Duration,
}

impl Schedule {
    fn starting(now: DateTime<Utc>, interval: Duration) -> Self {
        Self {
            boundary: next_month_start(now),
            periodic: now + interval,
            interval,
        }
    }

    fn wake(&self) -> DateTime<Utc> {
        self.boundary.min(self.periodic)
    }

    /// When to wake: the next sweep, or the earliest of `due` (waiting actions, grant
    /// boundaries) if it comes before.
    fn wake_with(&self, due: impl IntoIterator<Item = Option<DateTime<Utc>>>) -> DateTime<Utc> {
        due.into_iter().flatten().fold(self.wake(), DateTime::min)
    }

    /// Marks what is due at `now` as about to be swept. A boundary passed while the previous
    /// sweep still ran is due at once, not at the next periodic sweep: that sweep evaluated the
    /// month before.
    fn sweeping_at(&mut self, now: DateTime<Utc>) {
        if now >= self.periodic {
            self.periodic = now + self.interval;
        }
        if now >= self.boundary {
            self.boundary = next_month_start(now);
        }
    }
}

/// Sweeps once at start (an instance that was down may have slept through a boundary), then at
/// every month boundary and every `interval`, until `shutdown` or a sweep fails.
pub async fn run(
    db: Db,
    cfg: ActionsConfig,
    clock: Clock,
    interval: Duration,
    faults: Faults,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    tokio::pin!(shutdown);
    let mut schedule = Schedule::starting(clock.now(), interval);
    let mut now = clock.now();
    let mut sweep_due = true;
    loop {
        // Before the sweep, which would otherwise judge a passed boundary at its own time.
        let (boundaries, next_boundary) = grant_boundaries::process_due(&db, &cfg, now).await?;
        if boundaries > 0 {
            tracing::info!(boundaries, "policies evaluated at their grants' boundaries");
        }
        if sweep_due {
            faults.pass(Site::Sweep)?;
            let report = sweep(&db, &cfg, now).await?;
            tracing::info!(evaluated = report.evaluated, changed = report.changed, "sweep");
        }
        let (applied, next_action) = grace::apply_due(&db, &cfg, now).await?;
        if applied > 0 {
            tracing::info!(applied, "actions applied after their grace period");
        }
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = clock.sleep_until(schedule.wake_with([next_action, next_boundary])) => {}
            _ = cfg.pending_added.notified() => {}
        }
        now = clock.now();
        sweep_due = now >= schedule.wake();
        schedule.sweeping_at(now);
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

    #[test]
    fn wakes_at_the_boundary_or_the_interval_whichever_comes_first() {
        let mut s = Schedule::starting(at("2026-01-31T23:45:00Z"), Duration::minutes(10));
        assert_eq!(s.wake(), at("2026-01-31T23:55:00Z"));
        s.sweeping_at(at("2026-01-31T23:55:00Z"));
        assert_eq!(s.wake(), at("2026-02-01T00:00:00Z"));
        s.sweeping_at(at("2026-02-01T00:00:00Z"));
        assert_eq!(s.wake(), at("2026-02-01T00:05:00Z"));
        assert_eq!(s.boundary, at("2026-03-01T00:00:00Z"));
    }

    #[test]
    fn a_waiting_action_due_before_the_next_sweep_wakes_the_scheduler() {
        let s = Schedule::starting(at("2026-01-10T12:00:00Z"), Duration::minutes(10));
        assert_eq!(s.wake_with([None]), at("2026-01-10T12:10:00Z"));
        assert_eq!(
            s.wake_with([Some(at("2026-01-10T12:03:00Z"))]),
            at("2026-01-10T12:03:00Z")
        );
        assert_eq!(
            s.wake_with([Some(at("2026-01-10T13:00:00Z"))]),
            at("2026-01-10T12:10:00Z")
        );
        // One already due wakes it at once.
        assert_eq!(
            s.wake_with([Some(at("2026-01-10T11:00:00Z"))]),
            at("2026-01-10T11:00:00Z")
        );
    }

    #[test]
    fn the_earliest_of_an_action_and_a_grant_boundary_wakes_the_scheduler() {
        let s = Schedule::starting(at("2026-01-10T12:00:00Z"), Duration::minutes(10));
        let action = Some(at("2026-01-10T12:07:00Z"));
        let boundary = Some(at("2026-01-10T12:04:00Z"));
        assert_eq!(s.wake_with([action, boundary]), at("2026-01-10T12:04:00Z"));
        assert_eq!(s.wake_with([action, None]), at("2026-01-10T12:07:00Z"));
        assert_eq!(s.wake_with([None, boundary]), at("2026-01-10T12:04:00Z"));
        assert_eq!(s.wake_with([None, None]), at("2026-01-10T12:10:00Z"));
    }

    #[test]
    fn a_boundary_passed_during_a_sweep_is_due_at_once() {
        let mut s = Schedule::starting(at("2026-12-31T23:49:59Z"), Duration::minutes(10));
        // The periodic sweep starts a second before midnight and ends after it.
        s.sweeping_at(at("2026-12-31T23:59:59Z"));
        assert_eq!(s.wake(), at("2027-01-01T00:00:00Z"));
        s.sweeping_at(at("2027-01-01T00:00:02Z"));
        assert_eq!(s.boundary, at("2027-02-01T00:00:00Z"));
        assert_eq!(s.wake(), at("2027-01-01T00:09:59Z"));
    }
}
