//! What the overview and a customer's page both draw: a limit row's gauge and state, a policy's
//! fired badge, and the restrictions held on a customer's resources. Every state is said in
//! words; colour only repeats it.

use crate::domain::ladder::PendingAction;
use crate::domain::policy::Policy;
use crate::domain::{time, Amount};
use crate::service::dashboard::HeldRestriction;
use crate::service::policy_status::LimitStatus;
use maud::{html, Markup};

/// From this share of its limit on (80.00 %), a row that is not over is near it, unless its
/// policy warns earlier.
const NEAR_HUNDREDTHS: i64 = 8_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Within,
    Near,
    Over,
}

impl State {
    /// Near from the policy's lowest warning threshold (docs/ladder.md §2), or 80 % without one.
    pub fn of(limit: &LimitStatus, thresholds: &[u8]) -> Self {
        let near = thresholds.first().map_or(NEAR_HUNDREDTHS, |&t| i64::from(t) * 100);
        match limit.headroom.percent_hundredths {
            _ if limit.headroom.over => State::Over,
            Some(p) if p > near => State::Near,
            _ => State::Within,
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            State::Within => "Within limit",
            State::Near => "Near limit",
            State::Over => "Over limit",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            State::Within => "within",
            State::Near => "near",
            State::Over => "over",
        }
    }
}

/// `8350` → `83.50 %`; a limit that is not positive has no percent.
pub fn percent(hundredths: Option<i64>) -> String {
    match hundredths {
        Some(h) => {
            let sign = if h < 0 { "-" } else { "" };
            format!("{sign}{}.{:02} %", h.unsigned_abs() / 100, h.unsigned_abs() % 100)
        }
        None => "no percent (limit 0)".into(),
    }
}

/// The bar (the limit is its full width, the policy's warning thresholds are marks on it) with
/// the percent, the state in words and the thresholds in words beside it.
pub fn gauge(limit: &LimitStatus, thresholds: &[u8]) -> Markup {
    let state = State::of(limit, thresholds);
    let h = &limit.headroom;
    let width = h.percent_hundredths.map_or(100, |p| p.clamp(0, 10_000));
    html! {
        div class={ "gauge " (state.class()) } {
            span class="gauge-bar" aria-hidden="true" {
                span class="gauge-fill" style={ "width: " (width / 100) "." (format!("{:02}", width % 100)) "%" } {}
                @for t in thresholds {
                    span class="gauge-mark" style={ "left: " (t) "%" } {}
                }
            }
            span class="gauge-percent" { (percent(h.percent_hundredths)) }
            " "
            span class="state" { (state.words()) }
            @if !thresholds.is_empty() {
                " "
                span class="thresholds" { "warns at " (join(thresholds)) " %" }
            }
        }
    }
}

fn join(percents: &[u8]) -> String {
    percents.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
}

/// "120.00 of 100 hours", or against the effective limit while grants top it up (docs/grants.md):
/// "120.00 of 150.00 hours (100 + 50.00 granted)".
pub fn usage_of_limit(limit: &LimitStatus) -> String {
    let unit = if limit.measured_unit.is_empty() {
        String::new()
    } else {
        format!(" {}", limit.measured_unit)
    };
    let h = &limit.headroom;
    if h.granted == Amount::ZERO {
        format!("{} of {}{unit}", h.usage, h.limit)
    } else {
        format!(
            "{} of {}{unit} ({} + {} granted)",
            h.usage, h.effective_limit, h.limit, h.granted
        )
    }
}

/// The window a row's usage covers, in words.
pub fn window(limit: &LimitStatus) -> String {
    let h = &limit.headroom;
    match h.window_start {
        Some(start) => format!("{} ({start} – {})", limit.period.name(), h.window_end),
        None => format!("Total (until {})", h.window_end),
    }
}

/// The warning level the policy reached, "Fired" with when, and each action still waiting out
/// its grace period with when it is due; nothing for a policy with none of these.
pub fn badges(policy: &Policy, pending: &[PendingAction]) -> Markup {
    html! {
        @if let Some(level) = policy.ladder.warning_level {
            span class="badge warning" { "Warning: " (level) " % reached" }
            " "
        }
        (fired_badge(policy))
        @for action in pending {
            " "
            span class="badge pending" {
                (action.action.name()) " waits until "
                time datetime=(time::render(action.due)) { (short_time(action.due)) }
            }
        }
    }
}

/// "Fired" with when, or nothing for a policy that has not fired.
fn fired_badge(policy: &Policy) -> Markup {
    html! {
        @if policy.has_fired {
            span class="badge fired" {
                "Fired"
                @if let Some(at) = policy.fired_at {
                    " " time datetime=(time::render(at)) { (short_time(at)) }
                }
            }
        }
    }
}

/// `2026-12-06T12:07:00.123456Z` → `2026-12-06 12:07 UTC`
pub fn short_time(micros: i64) -> String {
    time::from_micros(micros).format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The policy's actions, as the API names them.
pub fn actions(policy: &Policy) -> String {
    let names: Vec<&str> = policy.actions.iter().map(|a| a.name()).collect();
    if names.is_empty() {
        "no actions".into()
    } else {
        names.join(", ")
    }
}

/// A table's head: one column header per name. On a narrow screen the heads are hidden and each
/// cell shows its `data-label` instead (assets/dashboard/dashboard.css).
pub fn column_heads(names: &[&str]) -> Markup {
    html! {
        thead { tr { @for name in names { th scope="col" { (name) } } } }
    }
}

/// The restricted resources as a list, or nothing when there are none.
pub fn restrictions(held: &[HeldRestriction]) -> Markup {
    html! {
        @if !held.is_empty() {
            ul class="restrictions" aria-label="Restrictions held" {
                @for r in held {
                    li data-resource=(r.resource_uuid) {
                        span class="badge restricted" { "Restricted" }
                        " " (r.resource_name) ": " (r.restrictions.join(", "))
                        @for hold in &r.holders {
                            " · " span class="holder" {
                                (hold.flag.name()) " held by policy " (hold.policy_uuid.to_string()[..8])
                                " since " time datetime=(time::render(hold.since)) { (short_time(hold.since)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percents_keep_two_places_without_floats() {
        assert_eq!(percent(Some(8350)), "83.50 %");
        assert_eq!(percent(Some(12_001)), "120.01 %");
        assert_eq!(percent(Some(-5)), "-0.05 %");
        assert_eq!(percent(None), "no percent (limit 0)");
    }
}
