//! A dry run's replay (docs/dry-run.md §3): a proposed policy walked through its customer's
//! logged reports, month starts and grant boundaries in time order, each step judged as the live
//! engine judges an evaluation (`evaluate`, `decide`, the ladder's warning and hysteresis).

use super::{evaluate, ladder, Evaluation, LimitRule, MonthlyTotal, Transition};
use crate::domain::report_log::Reported;
use crate::domain::time::Micros;
use crate::domain::{Amount, Month, Uuid32};
use std::collections::HashMap;
use std::hash::Hash;

/// The policy to replay: its limit rows (their `granted` is ignored: the spans say what is
/// granted when), its warning thresholds and its reset percentage.
#[derive(Debug, Clone, Copy)]
pub struct Proposal<'a, C> {
    pub rules: &'a [LimitRule<C>],
    pub thresholds: &'a [u8],
    pub reset_below: u8,
}

/// A grant's top-up of a component's limit, active from `starts_at` until before `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantSpan<C> {
    pub grant: Uuid32,
    pub component: C,
    pub amount: Amount,
    pub starts_at: Micros,
    pub expires_at: Micros,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    Start,
    Expiry,
}

/// What a step was evaluated after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The report at this index of the log.
    Report(usize),
    /// A month started: the windows rolled.
    MonthStart(Month),
    /// A month started, and its usage that no log entry holds was counted then.
    MonthlyTotal(Month),
    /// The grant at this index of the spans began or ended.
    Grant(usize, Boundary),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Fire,
    Reset,
    /// The warning level rose to this threshold.
    Warning(u8),
}

/// A transition or a warning, with the evaluation that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub at: Micros,
    pub change: Change,
    pub cause: Cause,
    pub evaluation: Evaluation,
}

impl Step {
    /// The rows the step names, by index: those over the threshold a warning reached, as the
    /// warning event lists them; otherwise those over their limit, as the fire event does.
    pub fn exceeded(&self) -> impl Iterator<Item = usize> + '_ {
        let rows = self.evaluation.rows.iter().enumerate();
        rows.filter(move |(_, row)| match self.change {
            Change::Warning(t) => ladder::over_percent(row.usage, row.effective(), t),
            Change::Fire | Change::Reset => row.over,
        })
        .map(|(i, _)| i)
    }
}

/// The timeline, and where it left the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub steps: Vec<Step>,
    pub has_fired: bool,
    pub warning_level: Option<u8>,
}

/// Replays `policy` from the start of `since` until `now`. `log` holds the customer's reports
/// (any order; equal instants keep theirs), `stored` its monthly totals, `grants` the spans of
/// the grants on its rows. The policy starts as if created at the start of `since`: not fired,
/// no warning level; reports before then build the starting totals without a step.
pub fn replay<R, C>(
    policy: Proposal<'_, C>,
    log: &[Reported<R, C>],
    stored: &[MonthlyTotal<C>],
    grants: &[GrantSpan<C>],
    since: Month,
    now: Micros,
) -> Replay
where
    R: Copy + Eq + Hash,
    C: Copy + Eq + Hash,
{
    let limited = |c: &C| policy.rules.iter().any(|r| r.component == *c);
    let mut order: Vec<usize> = (0..log.len()).filter(|&i| limited(&log[i].component)).collect();
    order.sort_by_key(|&i| log[i].at);
    let unlogged = unlogged(log, &order, stored, &limited);

    let start = since.start_micros();
    let mut state = State::new(policy);
    for (&(component, month), &amount) in &unlogged {
        if month < since {
            state.totals.add(component, month, amount);
        }
    }
    let (before, during): (Vec<usize>, Vec<usize>) = order
        .into_iter()
        .filter(|&i| log[i].at <= now)
        .partition(|&i| log[i].at < start);
    for i in before {
        state.report(&log[i]);
    }

    let mut boundaries = Vec::new();
    let mut month = since;
    while month.start_micros() <= now {
        let counted = unlogged.iter().any(|(&(_, m), _)| m == month);
        let cause = if counted {
            Cause::MonthlyTotal(month)
        } else {
            Cause::MonthStart(month)
        };
        boundaries.push((month.start_micros(), cause));
        month = month.next();
    }
    for (i, g) in grants.iter().enumerate() {
        for (at, boundary) in [(g.starts_at, Boundary::Start), (g.expires_at, Boundary::Expiry)] {
            if (start..=now).contains(&at) && limited(&g.component) {
                boundaries.push((at, Cause::Grant(i, boundary)));
            }
        }
    }
    boundaries.sort_by_key(|(at, _)| *at);

    // Boundaries and reports merged in time order; a boundary goes first at an equal instant,
    // as the month has rolled (or the grant changed) by the time a report arrives then.
    let mut reports = during.into_iter().peekable();
    let mut boundaries = boundaries.into_iter().peekable();
    loop {
        let boundary_first = match (boundaries.peek(), reports.peek()) {
            (None, None) => break,
            (Some(&(b, _)), Some(&i)) => b <= log[i].at,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        let (at, cause) = if boundary_first {
            let Some(boundary) = boundaries.next() else { break };
            boundary
        } else {
            let Some(i) = reports.next() else { break };
            state.report(&log[i]);
            (log[i].at, Cause::Report(i))
        };
        if let Cause::MonthlyTotal(month) = cause {
            for (&(component, m), &amount) in &unlogged {
                if m == month {
                    state.totals.add(component, m, amount);
                }
            }
        }
        state.evaluate(at, cause, grants);
    }
    Replay {
        steps: state.steps,
        has_fired: state.has_fired,
        warning_level: state.level,
    }
}

/// What the grants on `component` add to its limit at `at` (docs/grants.md: active from their
/// start until before their expiry).
pub fn granted<C: PartialEq>(grants: &[GrantSpan<C>], component: C, at: Micros) -> Amount {
    grants
        .iter()
        .filter(|g| g.component == component && g.starts_at <= at && at < g.expires_at)
        .fold(Amount::ZERO, |sum, g| sum.saturating_add(g.amount))
}

/// Per (component, month), the usage of the stored totals that the log does not hold: the total
/// less the last logged amount of each resource logged for it, never below zero.
fn unlogged<R, C>(
    log: &[Reported<R, C>],
    order: &[usize],
    stored: &[MonthlyTotal<C>],
    limited: &impl Fn(&C) -> bool,
) -> HashMap<(C, Month), Amount>
where
    R: Copy + Eq + Hash,
    C: Copy + Eq + Hash,
{
    let mut last: HashMap<(R, C, Month), Amount> = HashMap::new();
    for &i in order {
        let r = &log[i];
        last.insert((r.resource, r.component, r.month), r.amount);
    }
    let mut logged: HashMap<(C, Month), Amount> = HashMap::new();
    for (&(_, component, month), &amount) in &last {
        let sum = logged.entry((component, month)).or_default();
        *sum = sum.saturating_add(amount);
    }
    stored
        .iter()
        .filter(|t| limited(&t.component))
        .map(|t| {
            let logged = logged.get(&(t.component, t.month)).copied().unwrap_or_default();
            ((t.component, t.month), t.usage.saturating_sub(logged).max(Amount::ZERO))
        })
        .filter(|(_, amount)| *amount > Amount::ZERO)
        .collect()
}

/// Monthly totals kept up to date report by report, in the form `evaluate` reads.
struct Totals<C> {
    list: Vec<MonthlyTotal<C>>,
    index: HashMap<(C, Month), usize>,
}

impl<C: Copy + Eq + Hash> Totals<C> {
    fn add(&mut self, component: C, month: Month, delta: Amount) {
        let list = &mut self.list;
        let i = *self.index.entry((component, month)).or_insert_with(|| {
            list.push(MonthlyTotal {
                component,
                month,
                usage: Amount::ZERO,
            });
            list.len() - 1
        });
        self.list[i].usage = self.list[i].usage.saturating_add(delta);
    }
}

/// The replay's state: totals, the amount each resource last reported, and the policy's.
struct State<'a, R, C> {
    policy: Proposal<'a, C>,
    /// The rules with what is granted at the step being evaluated.
    rules: Vec<LimitRule<C>>,
    totals: Totals<C>,
    last: HashMap<(R, C, Month), Amount>,
    has_fired: bool,
    level: Option<u8>,
    steps: Vec<Step>,
}

impl<'a, R: Copy + Eq + Hash, C: Copy + Eq + Hash> State<'a, R, C> {
    fn new(policy: Proposal<'a, C>) -> Self {
        Self {
            policy,
            rules: policy.rules.to_vec(),
            totals: Totals {
                list: Vec::new(),
                index: HashMap::new(),
            },
            last: HashMap::new(),
            has_fired: false,
            level: None,
            steps: Vec::new(),
        }
    }

    /// A report replaces the amount its resource had for the component and month.
    fn report(&mut self, r: &Reported<R, C>) {
        let before = self
            .last
            .insert((r.resource, r.component, r.month), r.amount)
            .unwrap_or_default();
        self.totals.add(r.component, r.month, r.amount.saturating_sub(before));
    }

    /// Evaluates at `at` and records what the live engine would make of it: a warning when the
    /// level rose, then the transition.
    fn evaluate(&mut self, at: Micros, cause: Cause, grants: &[GrantSpan<C>]) {
        for rule in &mut self.rules {
            rule.granted = granted(grants, rule.component, at);
        }
        let evaluation = evaluate(&self.rules, &self.totals.list, Month::of_micros(at));
        let decision = evaluation.judge(self.has_fired, self.policy.thresholds, self.policy.reset_below);
        let warned = ladder::warning(self.level, decision.level);
        self.level = decision.level;
        self.has_fired = decision.transition.fired_after(self.has_fired);
        let change = match decision.transition {
            Transition::Fire => Some(Change::Fire),
            Transition::Reset => Some(Change::Reset),
            Transition::Stay => None,
        };
        for change in warned.map(Change::Warning).into_iter().chain(change) {
            self.steps.push(Step {
                at,
                change,
                cause,
                evaluation: evaluation.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{time, Period};

    const CPU: u8 = 1;
    const GPU: u8 = 2;

    fn m(y: i32, mo: u32) -> Month {
        Month::new(y, mo).unwrap()
    }

    /// An instant as RFC 3339.
    fn t(text: &str) -> Micros {
        time::parse_datetime(text).unwrap().timestamp_micros()
    }

    fn units(n: i64) -> Amount {
        Amount::from_units(n)
    }

    fn rule(component: u8, limit: i64, period: Period) -> LimitRule<u8> {
        LimitRule {
            component,
            limit,
            period,
            granted: Amount::ZERO,
        }
    }

    fn report(at: &str, resource: u8, component: u8, month: Month, amount: i64) -> Reported<u8, u8> {
        Reported {
            at: t(at),
            resource,
            component,
            month,
            amount: units(amount),
        }
    }

    fn run(
        rules: &[LimitRule<u8>],
        log: &[Reported<u8, u8>],
        stored: &[MonthlyTotal<u8>],
        grants: &[GrantSpan<u8>],
        since: Month,
        now: &str,
    ) -> Replay {
        let policy = Proposal {
            rules,
            thresholds: &[],
            reset_below: 100,
        };
        replay(policy, log, stored, grants, since, t(now))
    }

    /// Without stored totals or grants.
    fn run_plain(rules: &[LimitRule<u8>], log: &[Reported<u8, u8>], since: Month, now: &str) -> Replay {
        run(rules, log, &[], &[], since, now)
    }

    /// Each step as (instant, change, cause).
    fn steps(r: &Replay) -> Vec<(String, Change, Cause)> {
        r.steps
            .iter()
            .map(|s| (time::render(s.at), s.change, s.cause))
            .collect()
    }

    fn at(text: &str) -> String {
        time::render(t(text))
    }

    #[test]
    fn a_report_replaces_its_resources_amount_for_the_month() {
        let may = m(2026, 5);
        let log = [
            report("2026-05-02T10:00:00Z", 1, CPU, may, 60),
            report("2026-05-03T10:00:00Z", 2, CPU, may, 30),
            // 60 → 80 for resource 1: 110 in all, over 100.
            report("2026-05-04T10:00:00Z", 1, CPU, may, 80),
            // 80 → 50: 80 in all, back under.
            report("2026-05-05T10:00:00Z", 1, CPU, may, 50),
        ];
        let r = run_plain(&[rule(CPU, 100, Period::Month1)], &log, may, "2026-05-20T00:00:00Z");
        assert_eq!(
            steps(&r),
            [
                (at("2026-05-04T10:00:00Z"), Change::Fire, Cause::Report(2)),
                (at("2026-05-05T10:00:00Z"), Change::Reset, Cause::Report(3)),
            ]
        );
        assert_eq!(r.steps[0].evaluation.rows[0].usage, units(110));
        assert_eq!(r.steps[0].exceeded().collect::<Vec<_>>(), [0]);
        assert!(!r.has_fired);
    }

    #[test]
    fn a_one_month_policy_resets_at_the_month_start() {
        let log = [report("2026-01-20T00:00:00Z", 1, CPU, m(2026, 1), 150)];
        let r = run_plain(
            &[rule(CPU, 100, Period::Month1)],
            &log,
            m(2026, 1),
            "2026-03-15T00:00:00Z",
        );
        assert_eq!(
            steps(&r),
            [
                (at("2026-01-20T00:00:00Z"), Change::Fire, Cause::Report(0)),
                (at("2026-02-01T00:00:00Z"), Change::Reset, Cause::MonthStart(m(2026, 2))),
            ]
        );
    }

    #[test]
    fn each_period_holds_a_month_for_as_long_as_its_window_does() {
        // 150 reported in January 2026; when does each period let go of it?
        let log = [report("2026-01-10T00:00:00Z", 1, CPU, m(2026, 1), 150)];
        let reset_at = |period| {
            let r = run_plain(&[rule(CPU, 100, period)], &log, m(2026, 1), "2027-06-01T00:00:00Z");
            assert_eq!(r.steps[0].change, Change::Fire, "{period:?}");
            r.steps.get(1).map(|s| (time::render(s.at), s.change))
        };
        assert_eq!(
            reset_at(Period::Month1),
            Some((at("2026-02-01T00:00:00Z"), Change::Reset))
        );
        assert_eq!(
            reset_at(Period::Month3),
            Some((at("2026-04-01T00:00:00Z"), Change::Reset))
        );
        assert_eq!(
            reset_at(Period::Month12),
            Some((at("2027-01-01T00:00:00Z"), Change::Reset))
        );
        assert_eq!(reset_at(Period::Total), None);
    }

    #[test]
    fn warnings_rise_once_per_level_and_a_reset_waits_for_the_reset_percentage() {
        let jun = m(2026, 6);
        let log = [
            report("2026-06-01T01:00:00Z", 1, CPU, jun, 85),
            report("2026-06-02T01:00:00Z", 1, CPU, jun, 95),
            report("2026-06-03T01:00:00Z", 1, CPU, jun, 120),
            // Under the limit but over 80 %: still fired.
            report("2026-06-04T01:00:00Z", 1, CPU, jun, 90),
            report("2026-06-05T01:00:00Z", 1, CPU, jun, 80),
            // The level fell to 50; rising to 90 again warns again.
            report("2026-06-06T01:00:00Z", 1, CPU, jun, 91),
        ];
        let rules = [rule(CPU, 100, Period::Month1)];
        let policy = Proposal {
            rules: &rules,
            thresholds: &[50, 80, 90],
            reset_below: 80,
        };
        let r = replay(policy, &log, &[], &[], jun, t("2026-06-30T00:00:00Z"));
        let changes: Vec<(Change, Cause)> = r.steps.iter().map(|s| (s.change, s.cause)).collect();
        assert_eq!(
            changes,
            [
                (Change::Warning(80), Cause::Report(0)),
                (Change::Warning(90), Cause::Report(1)),
                (Change::Fire, Cause::Report(2)),
                (Change::Reset, Cause::Report(4)),
                (Change::Warning(90), Cause::Report(5)),
            ]
        );
        assert_eq!((r.has_fired, r.warning_level), (false, Some(90)));
        assert_eq!(r.steps[0].exceeded().collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn a_grant_that_expires_fires_and_one_that_starts_resets() {
        let jul = m(2026, 7);
        let grant = |starts: &str, expires: &str, amount| GrantSpan {
            grant: Uuid32::new_v4(),
            component: CPU,
            amount: units(amount),
            starts_at: t(starts),
            expires_at: t(expires),
        };
        let grants = [
            grant("2026-06-20T00:00:00Z", "2026-07-10T00:00:00Z", 50),
            grant("2026-07-20T00:00:00Z", "2026-08-20T00:00:00Z", 100),
            // On another component: no step.
            GrantSpan {
                component: GPU,
                ..grant("2026-07-15T00:00:00Z", "2026-07-16T00:00:00Z", 1)
            },
        ];
        let log = [report("2026-07-02T00:00:00Z", 1, CPU, jul, 140)];
        let r = run(
            &[rule(CPU, 100, Period::Month1)],
            &log,
            &[],
            &grants,
            jul,
            "2026-07-31T00:00:00Z",
        );
        assert_eq!(
            steps(&r),
            [
                (
                    at("2026-07-10T00:00:00Z"),
                    Change::Fire,
                    Cause::Grant(0, Boundary::Expiry)
                ),
                (
                    at("2026-07-20T00:00:00Z"),
                    Change::Reset,
                    Cause::Grant(1, Boundary::Start)
                ),
            ]
        );
        assert_eq!(r.steps[1].evaluation.rows[0].granted, units(100));
    }

    #[test]
    fn months_older_than_the_log_count_their_stored_totals_at_their_start() {
        let stored = [
            MonthlyTotal {
                component: CPU,
                month: m(2026, 2),
                usage: units(120),
            },
            // March: 40 unlogged, 30 logged by resource 1 (its last amount).
            MonthlyTotal {
                component: CPU,
                month: m(2026, 3),
                usage: units(70),
            },
        ];
        let log = [
            report("2026-03-05T00:00:00Z", 1, CPU, m(2026, 3), 10),
            report("2026-03-06T00:00:00Z", 1, CPU, m(2026, 3), 30),
        ];
        let rules = [rule(CPU, 100, Period::Month1), rule(CPU, 150, Period::Month3)];
        let r = run(&rules, &log, &stored, &[], m(2026, 2), "2026-05-10T00:00:00Z");
        assert_eq!(
            steps(&r),
            [
                (
                    at("2026-02-01T00:00:00Z"),
                    Change::Fire,
                    Cause::MonthlyTotal(m(2026, 2))
                ),
                // March's 40 unlogged are counted at its start: 160 over three months keeps it
                // fired, until February leaves the window.
                (at("2026-05-01T00:00:00Z"), Change::Reset, Cause::MonthStart(m(2026, 5))),
            ]
        );
        let march_start = r.steps.iter().find(|s| s.cause == Cause::MonthlyTotal(m(2026, 3)));
        assert!(march_start.is_none(), "no transition in March");
        assert_eq!(r.steps[0].exceeded().collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn reports_before_since_build_the_starting_totals_without_a_step() {
        let log = [
            report("2026-01-31T23:00:00Z", 1, CPU, m(2026, 2), 90),
            report("2026-02-03T00:00:00Z", 2, CPU, m(2026, 2), 20),
        ];
        let r = run_plain(
            &[rule(CPU, 100, Period::Month1)],
            &log,
            m(2026, 2),
            "2026-02-10T00:00:00Z",
        );
        assert_eq!(
            steps(&r),
            [(at("2026-02-03T00:00:00Z"), Change::Fire, Cause::Report(1))]
        );
        // Already over at the start of since: the first step is that month's start.
        let r = run_plain(
            &[rule(CPU, 50, Period::Month1)],
            &log,
            m(2026, 2),
            "2026-02-10T00:00:00Z",
        );
        assert_eq!(
            steps(&r),
            [(at("2026-02-01T00:00:00Z"), Change::Fire, Cause::MonthStart(m(2026, 2)))]
        );
    }

    #[test]
    fn reports_of_other_components_and_after_now_are_not_steps() {
        let may = m(2026, 5);
        let log = [
            report("2026-05-02T00:00:00Z", 1, GPU, may, 1000),
            report("2026-05-25T00:00:00Z", 1, CPU, may, 1000),
        ];
        let r = run_plain(&[rule(CPU, 100, Period::Month1)], &log, may, "2026-05-20T00:00:00Z");
        assert!(r.steps.is_empty());
        assert!(!r.has_fired);
    }
}
