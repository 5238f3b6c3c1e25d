//! Fire and reset decisions, and which actions they run (docs/evaluation.md §5, docs/actions.md §1).

use crate::domain::{Action, ActionSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Not fired → fired: a crossing.
    Fire,
    /// Fired → not fired: usage fell back under every limit.
    Reset,
    /// Nothing changes, whichever side of the limits the policy is on.
    Stay,
}

/// The transitions one transaction made, by direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransitionCount {
    pub fired: usize,
    pub reset: usize,
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
    }
}

pub fn decide(has_fired: bool, over: bool) -> Transition {
    match (has_fired, over) {
        (false, true) => Transition::Fire,
        (true, false) => Transition::Reset,
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

/// The effects of a transition, in the policy's action order; each action at most once.
pub fn effects(actions: &ActionSet, transition: Transition) -> Vec<Effect> {
    match transition {
        Transition::Fire => actions.iter().filter(|a| is_immediate(*a)).map(Effect::Run).collect(),
        Transition::Reset => actions.iter().filter(|a| has_reset(*a)).map(Effect::Undo).collect(),
        Transition::Stay => Vec::new(),
    }
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
        made += TransitionCount { fired: 0, reset: 2 };
        assert_eq!(made, TransitionCount { fired: 2, reset: 3 });
        assert_eq!(made.total(), 5);
    }

    #[test]
    fn fires_once_per_crossing_and_resets_when_back_under() {
        assert_eq!(decide(false, true), Transition::Fire);
        assert_eq!(decide(true, true), Transition::Stay);
        assert_eq!(decide(true, false), Transition::Reset);
        assert_eq!(decide(false, false), Transition::Stay);
    }

    #[test]
    fn fire_runs_immediate_actions_in_order_and_reset_undoes_what_can_be_undone() {
        let all = ActionSet::parse(
            "block_creation_of_new_resources,request_pausing,notify_organization_owners,\
             terminate_resources,restrict_members,block_modification_of_existing_resources,\
             notify_external_user,request_downscaling",
        )
        .unwrap();
        assert_eq!(
            effects(&all, Transition::Fire),
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
            effects(&all, Transition::Reset),
            [
                Effect::Undo(Action::RequestPausing),
                Effect::Undo(Action::RestrictMembers),
                Effect::Undo(Action::RequestDownscaling),
            ]
        );
        assert!(effects(&all, Transition::Stay).is_empty());
        let blocks_only = ActionSet::parse("block_creation_of_new_resources").unwrap();
        assert!(effects(&blocks_only, Transition::Fire).is_empty());
    }
}
