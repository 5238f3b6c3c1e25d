//! Fire and reset decisions, and which actions they run (docs/evaluation.md §5, docs/actions.md §1).

use crate::domain::Action;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Not fired → fired: a crossing.
    Fire,
    /// Fired → not fired: usage fell back to the reset percentage of every limit.
    Reset,
    /// Nothing changes, whichever side of the limits the policy is on.
    Stay,
}

impl Transition {
    /// Whether a policy that `has_fired` before this transition is fired after it.
    pub fn fired_after(self, has_fired: bool) -> bool {
        match self {
            Transition::Fire => true,
            Transition::Reset => false,
            Transition::Stay => has_fired,
        }
    }
}

/// What the engine decides for a policy on its evaluation: the live evaluation, the sweep and
/// the dry run's replay all take this one decision (`Evaluation::judge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// With the hysteresis of its reset percentage (docs/ladder.md §3).
    pub transition: Transition,
    /// Its warning level (docs/ladder.md §2).
    pub level: Option<u8>,
}

impl Decision {
    /// Whether it changes anything for a policy whose stored level is `stored_level`.
    pub fn changes(self, stored_level: Option<u8>) -> bool {
        self.transition != Transition::Stay || self.level != stored_level
    }
}

/// The transitions one transaction made, by direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransitionCount {
    pub fired: usize,
    pub reset: usize,
    /// Warnings made (docs/ladder.md §2): not transitions, but they queue deliveries too.
    pub warned: usize,
}

impl TransitionCount {
    pub fn count(&mut self, made: Transition) {
        match made {
            Transition::Fire => self.fired += 1,
            Transition::Reset => self.reset += 1,
            Transition::Stay => {}
        }
    }

    pub fn total(self) -> usize {
        self.fired + self.reset
    }
}

impl std::ops::AddAssign for TransitionCount {
    fn add_assign(&mut self, other: Self) {
        self.fired += other.fired;
        self.reset += other.reset;
        self.warned += other.warned;
    }
}

/// A policy not fired fires when it is `over` a limit; a fired one resets once it has
/// `settled` (every row at or under its reset percentage, docs/ladder.md §3), which at 100 %
/// is exactly when it is no longer over.
pub fn decide(has_fired: bool, over: bool, settled: bool) -> Transition {
    match (has_fired, over, settled) {
        (false, true, _) => Transition::Fire,
        (true, _, true) => Transition::Reset,
        _ => Transition::Stay,
    }
}

/// What a transition makes happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// An immediate action, run once on the fire transition.
    Run(Action),
    /// The reset method of an action, run on the reset transition.
    Undo(Action),
}

/// Immediate actions run when a policy fires; threshold actions (the two blocks) only act while
/// it is fired, on the requests they block.
pub fn is_immediate(action: Action) -> bool {
    !matches!(
        action,
        Action::BlockCreationOfNewResources | Action::BlockModificationOfExistingResources
    )
}

/// The actions whose effect can be undone.
pub fn has_reset(action: Action) -> bool {
    matches!(
        action,
        Action::RequestPausing | Action::RequestDownscaling | Action::RestrictMembers
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_counted_by_direction() {
        let mut made = TransitionCount::default();
        for t in [Transition::Fire, Transition::Stay, Transition::Reset, Transition::Fire] {
            made.count(t);
        }
        made += TransitionCount {
            fired: 0,
            reset: 2,
            warned: 1,
        };
        assert_eq!(
            made,
            TransitionCount {
                fired: 2,
                reset: 3,
                warned: 1
            }
        );
        assert_eq!(made.total(), 5);
    }

    #[test]
    fn a_decision_changes_a_policy_when_it_moves_it_or_its_level() {
        let stay = |level| Decision {
            transition: Transition::Stay,
            level,
        };
        assert!(!stay(None).changes(None));
        assert!(!stay(Some(80)).changes(Some(80)));
        assert!(stay(Some(90)).changes(Some(80)));
        assert!(stay(None).changes(Some(80)));
        let fire = Decision {
            transition: Transition::Fire,
            level: None,
        };
        assert!(fire.changes(None));
    }

    #[test]
    fn a_transition_says_whether_the_policy_is_fired_after_it() {
        for has_fired in [false, true] {
            assert!(Transition::Fire.fired_after(has_fired));
            assert!(!Transition::Reset.fired_after(has_fired));
            assert_eq!(Transition::Stay.fired_after(has_fired), has_fired);
        }
    }

    #[test]
    fn fires_once_per_crossing_and_resets_when_back_under() {
        assert_eq!(decide(false, true, false), Transition::Fire);
        assert_eq!(decide(true, true, false), Transition::Stay);
        assert_eq!(decide(true, false, true), Transition::Reset);
        assert_eq!(decide(false, false, true), Transition::Stay);
        // Between the reset percentage and the limit a fired policy stays fired, and one that
        // has not fired does not fire.
        assert_eq!(decide(true, false, false), Transition::Stay);
        assert_eq!(decide(false, false, false), Transition::Stay);
    }
}
