//! The enforcement ladder's decisions (docs/ladder.md): the warning level below the limit, the
//! hysteresis of a reset, which actions wait out a grace period and when they are due, and which
//! flags a policy that lets go of them clears.

use super::transition::{has_reset, is_immediate, Effect};
use super::RowOutcome;
use crate::domain::ladder::Hold;
use crate::domain::time::Micros;
use crate::domain::{Action, ActionSet, Amount};

/// Whether `usage` is strictly over `percent` % of `limit` (an effective limit, which grants may
/// make fractional): `usage × 100 > limit × percent`, both in hundredths, exact in integers.
pub fn over_percent(usage: Amount, limit: Amount, percent: u8) -> bool {
    i128::from(usage.hundredths()) * 100 > i128::from(limit.hundredths()) * i128::from(percent)
}

/// `limit × percent / 100`, the usage a row must fall to for a fired policy to reset, rounded
/// down to hundredths: the highest two-place usage that is not over it.
pub fn reset_below(limit: Amount, percent: u8) -> Amount {
    let hundredths = (i128::from(limit.hundredths()) * i128::from(percent)).div_euclid(100);
    Amount::from_hundredths(i64::try_from(hundredths).unwrap_or(i64::MAX))
}

/// The highest threshold some row is strictly over, if any.
pub fn warning_level(thresholds: &[u8], rows: &[RowOutcome]) -> Option<u8> {
    thresholds
        .iter()
        .copied()
        .filter(|t| rows.iter().any(|r| over_percent(r.usage, r.effective(), *t)))
        .max()
}

/// The threshold to warn about when the level moved from `previous` to `current`: only a rise
/// warns, once, for the level reached (a jump over several thresholds warns for the highest).
pub fn warning(previous: Option<u8>, current: Option<u8>) -> Option<u8> {
    current.filter(|c| previous.is_none_or(|p| *c > p))
}

/// Whether every row is at or under `percent` % of its limit: a fired policy resets only then.
/// At 100 this is upstream's rule, no row over its limit.
pub fn settled(rows: &[RowOutcome], percent: u8) -> bool {
    rows.iter().all(|r| !over_percent(r.usage, r.effective(), percent))
}

/// What a fire does now, and which actions wait, with their grace in minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirePlan {
    pub now: Vec<Effect>,
    pub waiting: Vec<(Action, u32)>,
}

/// Splits a fire's actions by their grace period (`grace` gives an action's minutes, 0 for
/// none): an immediate action without grace runs now; every action with grace waits, the
/// blocks included, which hold only from their due time.
pub fn plan_fire(actions: &ActionSet, grace: impl Fn(Action) -> u32) -> FirePlan {
    let mut plan = FirePlan {
        now: Vec::new(),
        waiting: Vec::new(),
    };
    for action in actions.iter() {
        match grace(action) {
            0 if is_immediate(action) => plan.now.push(Effect::Run(action)),
            0 => {}
            minutes => plan.waiting.push((action, minutes)),
        }
    }
    plan
}

/// When an action with `minutes` of grace is due after a fire at `fired_at`.
pub fn due(fired_at: Micros, minutes: u32) -> Micros {
    fired_at.saturating_add(i64::from(minutes) * 60_000_000)
}

/// The reset methods a reset runs: those of the actions that ran, not of those still waiting,
/// which are dropped instead.
pub fn reset_effects(actions: impl IntoIterator<Item = Action>, waiting: &[Action]) -> Vec<Effect> {
    actions
        .into_iter()
        .filter(|a| has_reset(*a) && !waiting.contains(a))
        .map(Effect::Undo)
        .collect()
}

/// The actions `before` had that `after` no longer has, in `before`'s order.
pub fn dropped(before: &ActionSet, after: &ActionSet) -> Vec<Action> {
    before.iter().filter(|a| !after.contains(*a)).collect()
}

/// Whether a policy other than `policy_id` still holds the resource's flag; when none does, the
/// policy that lets go of it clears the flag.
pub fn held_by_others(holds: &[Hold], resource_id: i64, policy_id: i64) -> bool {
    holds
        .iter()
        .any(|h| h.resource_id == resource_id && h.policy_id != policy_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Month, Period};
    use crate::engine::Window;

    fn row(usage_hundredths: i64, limit: i64) -> RowOutcome {
        granted_row(usage_hundredths, limit, 0)
    }

    fn granted_row(usage_hundredths: i64, limit: i64, granted_hundredths: i64) -> RowOutcome {
        let usage = Amount::from_hundredths(usage_hundredths);
        let granted = Amount::from_hundredths(granted_hundredths);
        RowOutcome {
            window: Window::of(Period::Month1, Month::new(2026, 1).unwrap()),
            usage,
            limit,
            granted,
            over: usage > Amount::from_units(limit).saturating_add(granted),
        }
    }

    #[test]
    fn the_level_is_the_highest_threshold_some_row_is_strictly_over() {
        let t = [50, 80, 90];
        assert_eq!(warning_level(&t, &[row(4_999, 100)]), None);
        // Exactly at 50 % is not over it, as exactly at the limit is not over the limit.
        assert_eq!(warning_level(&t, &[row(5_000, 100)]), None);
        assert_eq!(warning_level(&t, &[row(5_001, 100)]), Some(50));
        assert_eq!(warning_level(&t, &[row(8_001, 100)]), Some(80));
        assert_eq!(warning_level(&t, &[row(15_000, 100)]), Some(90));
        // Any row: the one furthest up decides.
        assert_eq!(warning_level(&t, &[row(1, 100), row(851, 10)]), Some(80));
        assert_eq!(warning_level(&[], &[row(15_000, 100)]), None);
        assert_eq!(warning_level(&t, &[]), None);
        // Odd limits: 33 % of 7 is 2.31.
        assert!(!over_percent(Amount::from_hundredths(231), Amount::from_units(7), 33));
        assert!(over_percent(Amount::from_hundredths(232), Amount::from_units(7), 33));
    }

    #[test]
    fn grants_raise_what_warnings_and_resets_judge_against() {
        // 100 + 50 granted: 80 % is 120.00, 90 % of it 135.00.
        assert_eq!(warning_level(&[80], &[granted_row(12_000, 100, 5_000)]), None);
        assert_eq!(warning_level(&[80], &[granted_row(12_001, 100, 5_000)]), Some(80));
        assert!(settled(&[granted_row(13_500, 100, 5_000)], 90));
        assert!(!settled(&[granted_row(13_501, 100, 5_000)], 90));
        // A fractional grant: 90 % of 10.05 is 9.045, so 9.04 is the highest usage that settles.
        assert!(settled(&[granted_row(904, 10, 5)], 90));
        assert!(!settled(&[granted_row(905, 10, 5)], 90));
        assert_eq!(
            reset_below(Amount::from_hundredths(1_005), 90),
            Amount::from_hundredths(904)
        );
    }

    #[test]
    fn only_a_rise_warns_and_a_jump_warns_once_for_the_level_reached() {
        // Rising one level at a time.
        assert_eq!(warning(None, Some(80)), Some(80));
        assert_eq!(warning(Some(80), Some(90)), Some(90));
        // Jumping from none to the highest of several.
        assert_eq!(warning(None, Some(90)), Some(90));
        // Staying, or falling, says nothing.
        assert_eq!(warning(Some(90), Some(90)), None);
        assert_eq!(warning(Some(90), Some(80)), None);
        assert_eq!(warning(Some(80), None), None);
        assert_eq!(warning(None, None), None);
        // Rising again after a fall warns again.
        assert_eq!(warning(Some(50), Some(80)), Some(80));
    }

    #[test]
    fn a_fired_policy_settles_only_at_or_under_the_reset_percentage_of_every_row() {
        // reset_below_percent = 90 on a limit of 100: the boundary is exactly 90.00.
        assert!(settled(&[row(9_000, 100)], 90));
        assert!(!settled(&[row(9_001, 100)], 90));
        assert!(!settled(&[row(9_000, 100), row(1_001, 10)], 90));
        // At 100 it is upstream's rule: settled exactly when no row is over.
        for usage in [9_999, 10_000, 10_001] {
            let rows = [row(usage, 100)];
            assert_eq!(settled(&rows, 100), !rows[0].over, "{usage}");
        }
        assert!(settled(&[], 50));
        // A limit whose boundary has hundredths: 90 % of 7 is 6.30.
        assert!(settled(&[row(630, 7)], 90));
        assert!(!settled(&[row(631, 7)], 90));
        assert_eq!(reset_below(Amount::from_units(7), 90), Amount::from_hundredths(630));
        assert_eq!(reset_below(Amount::from_units(100), 100), Amount::from_units(100));
        assert_eq!(reset_below(Amount::from_units(-3), 50), Amount::from_hundredths(-150));
    }

    #[test]
    fn actions_with_grace_wait_and_the_others_run_now() {
        let actions = ActionSet::parse(
            "notify_organization_owners,request_pausing,block_creation_of_new_resources,\
             terminate_resources,block_modification_of_existing_resources",
        )
        .unwrap();
        let grace = |a: Action| match a {
            Action::RequestPausing => 60,
            Action::BlockCreationOfNewResources => 5,
            _ => 0,
        };
        let plan = plan_fire(&actions, grace);
        assert_eq!(
            plan.now,
            [
                Effect::Run(Action::NotifyOrganizationOwners),
                Effect::Run(Action::TerminateResources)
            ]
        );
        assert_eq!(
            plan.waiting,
            [(Action::RequestPausing, 60), (Action::BlockCreationOfNewResources, 5)]
        );
        assert!(plan_fire(&actions, |_| 0).waiting.is_empty());
    }

    #[test]
    fn due_is_the_fire_plus_whole_minutes_in_microseconds() {
        assert_eq!(due(1_000, 0), 1_000);
        assert_eq!(due(1_000, 1), 60_001_000);
        assert_eq!(due(0, 43_200), 2_592_000_000_000);
        assert_eq!(due(i64::MAX - 1, 10), i64::MAX);
    }

    #[test]
    fn a_reset_undoes_what_ran_and_not_what_still_waits() {
        let actions = ActionSet::parse("request_pausing,restrict_members,notify_external_user").unwrap();
        assert_eq!(
            reset_effects(actions.iter(), &[]),
            [
                Effect::Undo(Action::RequestPausing),
                Effect::Undo(Action::RestrictMembers)
            ]
        );
        assert_eq!(
            reset_effects(actions.iter(), &[Action::RequestPausing]),
            [Effect::Undo(Action::RestrictMembers)]
        );
    }

    #[test]
    fn dropped_actions_are_those_no_longer_named() {
        let before = ActionSet::parse("request_pausing,restrict_members,notify_external_user").unwrap();
        let after = ActionSet::parse("notify_external_user,request_downscaling").unwrap();
        assert_eq!(
            dropped(&before, &after),
            [Action::RequestPausing, Action::RestrictMembers]
        );
        assert!(dropped(&after, &after).is_empty());
    }

    #[test]
    fn a_flag_clears_only_when_no_other_policy_holds_it() {
        let holds = [
            Hold {
                resource_id: 1,
                policy_id: 10,
            },
            Hold {
                resource_id: 1,
                policy_id: 11,
            },
            Hold {
                resource_id: 2,
                policy_id: 10,
            },
        ];
        assert!(held_by_others(&holds, 1, 10));
        assert!(held_by_others(&holds, 1, 11));
        assert!(!held_by_others(&holds, 2, 10));
        // A flag nobody holds (set before holds were kept) is cleared by the reset that meets it.
        assert!(!held_by_others(&holds, 3, 10));
        assert!(held_by_others(&holds, 2, 11));
    }

    #[test]
    fn without_grace_a_fire_runs_immediate_actions_in_order_and_a_reset_undoes_what_can_be() {
        let all = ActionSet::parse(
            "block_creation_of_new_resources,request_pausing,notify_organization_owners,\
             terminate_resources,restrict_members,block_modification_of_existing_resources,\
             notify_external_user,request_downscaling",
        )
        .unwrap();
        assert_eq!(
            plan_fire(&all, |_| 0).now,
            [
                Effect::Run(Action::RequestPausing),
                Effect::Run(Action::NotifyOrganizationOwners),
                Effect::Run(Action::TerminateResources),
                Effect::Run(Action::RestrictMembers),
                Effect::Run(Action::NotifyExternalUser),
                Effect::Run(Action::RequestDownscaling),
            ]
        );
        assert_eq!(
            reset_effects(all.iter(), &[]),
            [
                Effect::Undo(Action::RequestPausing),
                Effect::Undo(Action::RestrictMembers),
                Effect::Undo(Action::RequestDownscaling),
            ]
        );
        let blocks_only = ActionSet::parse("block_creation_of_new_resources").unwrap();
        assert!(plan_fire(&blocks_only, |_| 0).now.is_empty());
    }
}
