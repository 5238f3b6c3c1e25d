//! The enforcement ladder's settings on a policy (docs/ladder.md): warning thresholds below the
//! limit, the percentage usage must fall to before a fired policy resets, and the actions that
//! wait out a grace period.

use super::time::Micros;
use super::Action;

/// Percentages of a limit at which a policy warns: distinct, in 1..=99, at most five, ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarningThresholds(Vec<u8>);

/// At most this many thresholds.
pub const MAX_THRESHOLDS: usize = 5;

impl WarningThresholds {
    /// Checks percentages a client sent (each already an integer); stores them ascending.
    pub fn new(values: &[i64]) -> Result<Self, String> {
        if values.len() > MAX_THRESHOLDS {
            return Err(format!("Ensure this field has no more than {MAX_THRESHOLDS} elements."));
        }
        let mut kept = Vec::with_capacity(values.len());
        for &v in values {
            let percent = u8::try_from(v)
                .ok()
                .filter(|p| (1..=99).contains(p))
                .ok_or_else(|| format!("Thresholds must be integers between 1 and 99; {v} is not."))?;
            if kept.contains(&percent) {
                return Err(format!("Thresholds must be distinct; {v} is repeated."));
            }
            kept.push(percent);
        }
        kept.sort_unstable();
        Ok(Self(kept))
    }

    /// As stored: ascending percentages separated by commas; empty for none. `None` for text
    /// that is not that.
    pub fn from_stored(text: &str) -> Option<Self> {
        if text.is_empty() {
            return Some(Self::default());
        }
        let values: Option<Vec<i64>> = text.split(',').map(|p| p.parse().ok()).collect();
        let parsed = Self::new(&values?).ok()?;
        (parsed.to_stored() == text).then_some(parsed)
    }

    pub fn to_stored(&self) -> String {
        self.0.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
    }

    pub fn percents(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The percentage of each limit that usage must fall to (or under) before a fired policy
/// resets; 100 is upstream's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetBelow(u8);

impl ResetBelow {
    pub const UPSTREAM: ResetBelow = ResetBelow(100);

    pub fn new(percent: i64) -> Option<Self> {
        u8::try_from(percent).ok().filter(|p| (1..=100).contains(p)).map(Self)
    }

    pub fn percent(self) -> u8 {
        self.0
    }
}

impl Default for ResetBelow {
    fn default() -> Self {
        Self::UPSTREAM
    }
}

/// A policy's ladder: its settings, and the warning level its last evaluation reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ladder {
    pub thresholds: WarningThresholds,
    pub reset_below: ResetBelow,
    pub warning_level: Option<u8>,
}

/// The longest grace period: thirty days.
pub const MAX_GRACE_MINUTES: u32 = 43_200;

/// The actions that may wait out a grace period; the notify actions never wait.
pub fn may_wait(action: Action) -> bool {
    !matches!(action, Action::NotifyOrganizationOwners | Action::NotifyExternalUser)
}

/// An action of a fired policy waiting for its grace period to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingAction {
    pub policy_id: i64,
    pub customer_id: i64,
    pub action: Action,
    pub due: Micros,
    /// The crossing it belongs to: the policy's `fired_datetime` when it fired.
    pub fired_at: Micros,
}

/// Which policy holds a resource's flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub resource_id: i64,
    pub policy_id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_distinct_in_range_at_most_five_and_kept_ascending() {
        assert_eq!(WarningThresholds::new(&[90, 50, 80]).unwrap().percents(), [50, 80, 90]);
        assert!(WarningThresholds::new(&[]).unwrap().is_empty());
        assert_eq!(WarningThresholds::new(&[1, 99]).unwrap().percents(), [1, 99]);
        for bad in [&[0][..], &[100], &[-5], &[80, 80], &[1, 2, 3, 4, 5, 6], &[300]] {
            assert!(WarningThresholds::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stored_thresholds_round_trip_and_anything_else_is_refused() {
        let t = WarningThresholds::new(&[90, 80]).unwrap();
        assert_eq!(t.to_stored(), "80,90");
        assert_eq!(WarningThresholds::from_stored("80,90"), Some(t));
        assert_eq!(WarningThresholds::from_stored(""), Some(WarningThresholds::default()));
        for bad in ["90,80", "80,", "x", "0", "80, 90", "100"] {
            assert_eq!(WarningThresholds::from_stored(bad), None, "{bad}");
        }
    }

    #[test]
    fn reset_below_is_a_percentage_from_1_to_100() {
        assert_eq!(ResetBelow::default().percent(), 100);
        assert_eq!(ResetBelow::new(1).map(ResetBelow::percent), Some(1));
        assert_eq!(ResetBelow::new(100), Some(ResetBelow::UPSTREAM));
        for bad in [0, 101, -1, 256] {
            assert_eq!(ResetBelow::new(bad), None);
        }
    }

    #[test]
    fn only_the_notify_actions_never_wait() {
        let waiting: Vec<Action> = Action::ALL.into_iter().filter(|a| may_wait(*a)).collect();
        assert_eq!(waiting.len(), 6);
        assert!(!may_wait(Action::NotifyExternalUser));
        assert!(!may_wait(Action::NotifyOrganizationOwners));
    }
}
