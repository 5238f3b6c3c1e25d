//! Grants: temporary top-ups of a policy's limit on one component (docs/grants.md). The parsed
//! parts of a create body, a stored grant as the API shows it, and the spans the evaluation and
//! the dry run read.

use super::time::Micros;
use super::{Amount, Uuid32};
use serde_json::Value;

/// A grant's amount: more than zero, two places at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantAmount(Amount);

impl GrantAmount {
    /// DRF's `DecimalField(decimal_places=2, min_value=0.01)`, with its messages.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let amount = Amount::parse(value)?;
        if amount.hundredths() <= 0 {
            return Err("Ensure this value is greater than or equal to 0.01.".into());
        }
        Ok(Self(amount))
    }

    pub fn amount(self) -> Amount {
        self.0
    }
}

/// When a grant counts: from `starts_at` (inclusive) to `expires_at` (exclusive), expiring after
/// it starts and after it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantWindow {
    starts_at: Micros,
    expires_at: Micros,
}

pub const EXPIRES_BEFORE_START: &str = "Ensure this value is after starts_at.";
pub const ALREADY_EXPIRED: &str = "Ensure this value is in the future.";

impl GrantWindow {
    /// A window for a grant made at `now`: one that has already ended would add nothing, and its
    /// expiry would be evaluated in the past (docs/grants.md §5).
    pub fn new(starts_at: Micros, expires_at: Micros, now: Micros) -> Result<Self, &'static str> {
        if expires_at <= starts_at {
            Err(EXPIRES_BEFORE_START)
        } else if expires_at <= now {
            Err(ALREADY_EXPIRED)
        } else {
            Ok(Self { starts_at, expires_at })
        }
    }

    /// A stored window, checked when it was made.
    pub fn stored(starts_at: Micros, expires_at: Micros) -> Option<Self> {
        (expires_at > starts_at).then_some(Self { starts_at, expires_at })
    }

    pub fn starts_at(self) -> Micros {
        self.starts_at
    }

    pub fn expires_at(self) -> Micros {
        self.expires_at
    }

    /// The first boundary still ahead at `now` that the scheduler must evaluate the policy at:
    /// the start when it is in the future, else the expiry (docs/grants.md §3).
    pub fn first_boundary(self, now: Micros) -> Micros {
        if self.starts_at > now {
            self.starts_at
        } else {
            self.expires_at
        }
    }

    /// The boundary after `at`, if any: the expiry after the start.
    pub fn boundary_after(self, at: Micros) -> Option<Micros> {
        (at < self.expires_at).then_some(self.expires_at)
    }
}

/// A reason: not blank, at most 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantReason(String);

impl GrantReason {
    pub const MAX_LEN: usize = 500;

    pub fn new(text: String) -> Option<Self> {
        let trimmed = text.trim();
        (!trimmed.is_empty() && trimmed.chars().count() <= Self::MAX_LEN).then(|| Self(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A grant as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentGrant {
    pub uuid: Uuid32,
    pub policy_uuid: Uuid32,
    pub component_uuid: Uuid32,
    /// The component's type, as events name it.
    pub component_type: String,
    pub amount: Amount,
    pub starts_at: Micros,
    pub expires_at: Micros,
    pub reason: String,
    /// While the user exists.
    pub created_by_username: Option<String>,
    pub created: Micros,
}

/// The list's filters; `None` filters nothing. Uuids are in their stored form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    pub policy_uuid: Option<String>,
    pub customer_uuid: Option<String>,
    pub component_uuid: Option<String>,
    /// Active (or not) at the list's `now`.
    pub active: Option<bool>,
}

/// When one grant of a policy counts, and how much, on which component: every grant of the
/// policy, any time (the dry run replays them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantSpan {
    pub uuid: Uuid32,
    pub component_id: i64,
    pub amount: Amount,
    pub starts_at: Micros,
    pub expires_at: Micros,
}

/// A boundary of a grant due for the scheduler: the policy is evaluated at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantBoundary {
    pub grant_id: i64,
    pub policy_id: i64,
    pub customer_id: i64,
    pub at: Micros,
    pub window: GrantWindow,
}

impl GrantBoundary {
    /// Whether this is the grant's expiry (else its start).
    pub fn is_expiry(&self) -> bool {
        self.at == self.window.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_amount_is_positive_with_two_places_at_most() {
        assert_eq!(
            GrantAmount::parse(&json!("0.01")).map(|a| a.amount().hundredths()),
            Ok(1)
        );
        assert_eq!(
            GrantAmount::parse(&json!(50)).map(|a| a.amount().hundredths()),
            Ok(5_000)
        );
        assert_eq!(
            GrantAmount::parse(&json!("0")),
            Err("Ensure this value is greater than or equal to 0.01.".into())
        );
        assert_eq!(
            GrantAmount::parse(&json!("-1")),
            Err("Ensure this value is greater than or equal to 0.".into())
        );
        assert_eq!(
            GrantAmount::parse(&json!("1.005")),
            Err("Ensure that there are no more than 2 decimal places.".into())
        );
        assert!(GrantAmount::parse(&json!("ten")).is_err());
    }

    #[test]
    fn a_window_expires_after_it_starts_and_has_its_boundaries_in_order() {
        assert_eq!(GrantWindow::new(10, 10, 0), Err(EXPIRES_BEFORE_START));
        assert_eq!(GrantWindow::new(10, 9, 0), Err(EXPIRES_BEFORE_START));
        assert_eq!(GrantWindow::new(10, 20, 20), Err(ALREADY_EXPIRED));
        assert_eq!(GrantWindow::new(10, 20, 19).ok(), GrantWindow::stored(10, 20));
        assert_eq!(GrantWindow::stored(20, 20), None);
        let w = GrantWindow::new(10, 20, 15).unwrap();
        // A start still ahead comes first; one already reached is not processed.
        assert_eq!(w.first_boundary(9), 10);
        assert_eq!(w.first_boundary(10), 20);
        assert_eq!(w.first_boundary(15), 20);
        assert_eq!(w.boundary_after(10), Some(20));
        assert_eq!(w.boundary_after(20), None);
    }

    #[test]
    fn a_reason_is_not_blank_and_is_kept_trimmed() {
        assert_eq!(GrantReason::new("  ".into()), None);
        assert_eq!(
            GrantReason::new(" launch week ".into()).unwrap().as_str(),
            "launch week"
        );
        assert!(GrantReason::new("x".repeat(GrantReason::MAX_LEN + 1)).is_none());
    }

    #[test]
    fn a_boundary_knows_whether_it_is_the_expiry() {
        let window = GrantWindow::new(10, 20, 0).unwrap();
        let at = |at| GrantBoundary {
            grant_id: 1,
            policy_id: 2,
            customer_id: 3,
            at,
            window,
        };
        assert!(!at(10).is_expiry());
        assert!(at(20).is_expiry());
    }
}
