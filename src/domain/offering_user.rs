//! Offering users: a user's account on an offering, named by the provider (docs/site-agent.md).

use super::time::Micros;
use super::Uuid32;

/// Upstream's states that meterguard gives an offering user: `OK` once it has a username,
/// `Requested` until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferingUserState {
    Requested,
    Ok,
}

impl OfferingUserState {
    pub fn of_username(username: Option<&str>) -> Self {
        match username {
            Some(u) if !u.is_empty() => Self::Ok,
            _ => Self::Requested,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "Requested",
            Self::Ok => "OK",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Requested, Self::Ok].into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct OfferingUser {
    pub id: i64,
    pub uuid: Uuid32,
    pub offering_uuid: Uuid32,
    pub offering_name: String,
    pub provider_customer_id: i64,
    pub customer_uuid: Uuid32,
    pub customer_name: String,
    pub user_uuid: Uuid32,
    pub user_username: String,
    pub user_full_name: String,
    pub user_email: String,
    pub username: Option<String>,
    pub state: OfferingUserState,
    pub created: Micros,
    pub modified: Micros,
}

/// Which offering users a list holds; uuids are hex.
#[derive(Debug, Clone, Default)]
pub struct OfferingUserFilter {
    /// Any of these offerings (none: any).
    pub offering_uuids: Vec<String>,
    pub user_uuid: Option<String>,
    pub username: Option<String>,
    /// meterguard restricts no offering user, so `true` matches none.
    pub is_restricted: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_makes_the_account_ok() {
        assert_eq!(OfferingUserState::of_username(Some("alice")), OfferingUserState::Ok);
        assert_eq!(OfferingUserState::of_username(Some("")), OfferingUserState::Requested);
        assert_eq!(OfferingUserState::of_username(None), OfferingUserState::Requested);
        assert_eq!(OfferingUserState::parse("OK"), Some(OfferingUserState::Ok));
        assert_eq!(OfferingUserState::parse("Gone"), None);
    }
}
