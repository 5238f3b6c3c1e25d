//! A policy's grants on its customer's page (docs/grants.md): what each adds, when, why, who
//! granted it, and whether it counts now, in words; colour only repeats the state.

use super::gauge::{column_heads, short_time};
use crate::domain::grant::ComponentGrant;
use crate::domain::time::{self, Micros};
use crate::service::policy_status::LimitStatus;
use maud::{html, Markup};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantState {
    Upcoming,
    Active,
    Expired,
}

impl GrantState {
    /// Active from its start (inclusive) to its expiry (exclusive), as the evaluation counts it.
    pub fn at(grant: &ComponentGrant, now: Micros) -> Self {
        if now < grant.starts_at {
            GrantState::Upcoming
        } else if now < grant.expires_at {
            GrantState::Active
        } else {
            GrantState::Expired
        }
    }

    fn words(self) -> &'static str {
        match self {
            GrantState::Upcoming => "Upcoming",
            GrantState::Active => "Active now",
            GrantState::Expired => "Expired",
        }
    }

    fn class(self) -> &'static str {
        match self {
            GrantState::Upcoming => "upcoming",
            GrantState::Active => "active",
            GrantState::Expired => "expired",
        }
    }
}

/// The grants as a table, the component named as the policy's row names it; nothing when there
/// are none.
pub fn table(grants: &[ComponentGrant], limits: &[LimitStatus], now: Micros) -> Markup {
    html! {
        @if !grants.is_empty() {
            table class="grants" {
                caption { "Grants" }
                (column_heads(&["Component", "Amount", "Starts", "Expires", "Reason", "Granted by", "State"]))
                tbody {
                    @for g in grants {
                        @let row = limits.iter().find(|l| l.component_uuid == g.component_uuid.to_string());
                        @let state = GrantState::at(g, now);
                        tr class={ "grant " (state.class()) } data-grant=(g.uuid) {
                            td data-label="Component" { (row.map_or(g.component_type.as_str(), |l| l.component_name.as_str())) }
                            td data-label="Amount" {
                                (g.amount)
                                @if let Some(unit) = row.map(|l| &l.measured_unit).filter(|u| !u.is_empty()) { " " (unit) }
                            }
                            td data-label="Starts" { time datetime=(time::render(g.starts_at)) { (short_time(g.starts_at)) } }
                            td data-label="Expires" { time datetime=(time::render(g.expires_at)) { (short_time(g.expires_at)) } }
                            td data-label="Reason" { (g.reason) }
                            td data-label="Granted by" { (g.created_by_username.as_deref().unwrap_or("a deleted user")) }
                            td data-label="State" { span class="state" { (state.words()) } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, Uuid32};

    #[test]
    fn a_grant_is_upcoming_before_its_start_active_until_its_expiry_and_expired_from_it() {
        let grant = ComponentGrant {
            uuid: Uuid32::new_v4(),
            policy_uuid: Uuid32::new_v4(),
            component_uuid: Uuid32::new_v4(),
            component_type: "cpu_hours".into(),
            amount: Amount::from_units(50),
            starts_at: 100,
            expires_at: 200,
            reason: "deadline".into(),
            created_by_username: None,
            created: 0,
        };
        assert_eq!(GrantState::at(&grant, 99), GrantState::Upcoming);
        assert_eq!(GrantState::at(&grant, 100), GrantState::Active);
        assert_eq!(GrantState::at(&grant, 199), GrantState::Active);
        assert_eq!(GrantState::at(&grant, 200), GrantState::Expired);
        let html = table(&[grant], &[], 150).into_string();
        assert!(
            html.contains("Active now") && html.contains("a deleted user") && html.contains(">cpu_hours<"),
            "{html}"
        );
    }
}
