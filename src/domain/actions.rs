//! The eight actions a customer component usage policy can run, and the normalised set a policy
//! stores.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    NotifyOrganizationOwners,
    NotifyExternalUser,
    BlockCreationOfNewResources,
    BlockModificationOfExistingResources,
    TerminateResources,
    RequestDownscaling,
    RestrictMembers,
    RequestPausing,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::NotifyOrganizationOwners,
        Action::NotifyExternalUser,
        Action::BlockCreationOfNewResources,
        Action::BlockModificationOfExistingResources,
        Action::TerminateResources,
        Action::RequestDownscaling,
        Action::RestrictMembers,
        Action::RequestPausing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::NotifyOrganizationOwners => "notify_organization_owners",
            Action::NotifyExternalUser => "notify_external_user",
            Action::BlockCreationOfNewResources => "block_creation_of_new_resources",
            Action::BlockModificationOfExistingResources => "block_modification_of_existing_resources",
            Action::TerminateResources => "terminate_resources",
            Action::RequestDownscaling => "request_downscaling",
            Action::RestrictMembers => "restrict_members",
            Action::RequestPausing => "request_pausing",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The names served by `GET .../actions/`, sorted so the answer is deterministic.
    pub fn sorted_names() -> Vec<&'static str> {
        let mut names: Vec<_> = Self::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names
    }
}

/// A non-empty, duplicate-free list of actions in the order the client first named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSet(Vec<Action>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionSetError {
    #[error("This field may not be blank.")]
    Blank,
    #[error("Ensure this field has no more than 255 characters.")]
    TooLong,
    #[error("{0} includes unavailable actions.")]
    Unavailable(String),
}

impl ActionSet {
    pub const MAX_LEN: usize = 255;

    /// Parses the comma-separated form a client submits. Tokens are trimmed and repeats dropped
    /// (upstream would run a repeated action twice); an empty token is an unknown action.
    pub fn parse(submitted: &str) -> Result<Self, ActionSetError> {
        if submitted.trim().is_empty() {
            return Err(ActionSetError::Blank);
        }
        if submitted.chars().count() > Self::MAX_LEN {
            return Err(ActionSetError::TooLong);
        }
        let mut actions = Vec::new();
        for token in submitted.split(',') {
            let action =
                Action::parse(token.trim()).ok_or_else(|| ActionSetError::Unavailable(submitted.to_string()))?;
            if !actions.contains(&action) {
                actions.push(action);
            }
        }
        Ok(Self(actions))
    }

    pub fn contains(&self, action: Action) -> bool {
        self.0.contains(&action)
    }

    pub fn iter(&self) -> impl Iterator<Item = Action> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for ActionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, action) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(action.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_spaces_and_repeats_keeping_first_order() {
        let set = ActionSet::parse(" request_pausing , notify_organization_owners,request_pausing").unwrap();
        assert_eq!(set.to_string(), "request_pausing,notify_organization_owners");
    }

    #[test]
    fn rejects_unknown_and_empty_tokens_quoting_the_whole_value() {
        assert_eq!(
            ActionSet::parse("notify_project_team"),
            Err(ActionSetError::Unavailable("notify_project_team".into()))
        );
        assert_eq!(
            ActionSet::parse("request_pausing,"),
            Err(ActionSetError::Unavailable("request_pausing,".into()))
        );
        assert_eq!(ActionSet::parse("  "), Err(ActionSetError::Blank));
    }

    #[test]
    fn length_limit_applies_to_the_submitted_string() {
        let long = format!("request_pausing{}", ",request_pausing".repeat(20));
        assert!(long.len() > 255);
        assert_eq!(ActionSet::parse(&long), Err(ActionSetError::TooLong));
    }

    #[test]
    fn sorted_names_lists_all_eight() {
        let names = Action::sorted_names();
        assert_eq!(names.len(), 8);
        assert!(names.windows(2).all(|w| w[0] < w[1]));
    }
}
