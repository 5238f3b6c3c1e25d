//! The staff's dry-run form on a customer's page and the replay it shows (docs/dashboard.md §3.2,
//! docs/dry-run.md). The form's script posts the API's dry-run body; the answer is drawn here.

use super::gauge::{self, short_time};
use crate::domain::offering::Component;
use crate::domain::policy::Policy;
use crate::domain::time;
use crate::domain::{Action, Period, Uuid32};
use crate::service::dry_run::{Boundary, Change, DryRun, StepCause};
use maud::{html, Markup};
use serde_json::{json, Value};

const PERIODS: [Period; 4] = [Period::Month1, Period::Month3, Period::Month12, Period::Total];

/// The form for a new policy of customer `customer`; each field has a place for its 400
/// messages (`data-error`), filled by the script.
pub fn form(customer: &Uuid32, components: &[Component]) -> Markup {
    html! {
        section id="dry-run" aria-labelledby="dry-run-title" {
            h2 id="dry-run-title" { "Dry run a policy" }
            p class="meta" {
                "What a new policy for this customer would have done over its reported usage, and whether "
                "it would fire now. Nothing is saved, sent or restricted."
            }
            @if components.is_empty() {
                p class="empty" { "None of its resources' offerings has a component to limit." }
            } @else {
                form id="dry-run-form" class="dry-run-form" novalidate
                    data-scope={ "/api/customers/" (customer) "/" } {
                    p id="dry-run-mode" class="mode" hidden {
                        span {}
                        " "
                        button type="button" id="dry-run-new" { "A new policy instead" }
                    }
                    (field("dr-component", "Component", "component", html! {
                        select id="dr-component" name="component" {
                            @for c in components {
                                option value=(c.uuid) {
                                    (c.fields.name) " (" (c.fields.r#type)
                                    @if !c.fields.measured_unit.is_empty() { ", " (c.fields.measured_unit) }
                                    ")"
                                }
                            }
                        }
                    }))
                    (field("dr-limit", "Limit", "limit", html! {
                        input id="dr-limit" name="limit" inputmode="numeric" required;
                    }))
                    (field("dr-period", "Period", "period", html! {
                        select id="dr-period" name="period" {
                            @for p in PERIODS { option value=(p.code()) { (p.name()) } }
                        }
                    }))
                    fieldset class="field actions-field" {
                        legend { "Actions" }
                        @for a in Action::ALL {
                            label { input type="checkbox" name="actions" value=(a.name()); " " (a.name()) }
                        }
                        p class="error" data-error="actions" {}
                    }
                    (field("dr-thresholds", "Warning thresholds (%, comma-separated)", "warning_thresholds", html! {
                        input id="dr-thresholds" name="warning_thresholds" placeholder="50, 80";
                    }))
                    (field("dr-reset", "Reset below (% of the limit; 100 when empty)", "reset_below_percent", html! {
                        input id="dr-reset" name="reset_below_percent" inputmode="numeric" placeholder="100";
                    }))
                    (field("dr-since", "Since (YYYY-MM; 12 months back when empty)", "since", html! {
                        input id="dr-since" name="since" placeholder="YYYY-MM";
                    }))
                    p class="error" data-error="form" role="alert" {}
                    button type="submit" { "Dry run" }
                }
                div id="dry-run-result" aria-live="polite" {}
            }
        }
    }
}

/// On a saved policy, for staff: fills the form with the policy (the script reads these data
/// attributes) so that what is changed is dry run against it, grants and fired state included.
pub fn change_button(policy: &Policy) -> Markup {
    let rows: Vec<_> = policy
        .limits
        .iter()
        .map(|l| json!({"component": l.component_uuid.to_string(), "limit": l.limit, "period": l.period.code()}))
        .collect();
    let thresholds: Vec<String> = policy.ladder.thresholds.percents().iter().map(u8::to_string).collect();
    html! {
        button type="button" class="dry-run-change" data-policy=(policy.uuid)
            data-actions=(policy.actions.iter().map(|a| a.name()).collect::<Vec<_>>().join(","))
            data-rows=(Value::from(rows)) data-thresholds=(thresholds.join(", "))
            data-reset=(policy.ladder.reset_below.percent()) {
            "Dry run a change"
        }
    }
}

/// A labelled control with the place for its messages.
fn field(id: &str, label: &str, error: &str, control: Markup) -> Markup {
    html! {
        div class="field" {
            label for=(id) { (label) }
            (control)
            p class="error" data-error=(error) {}
        }
    }
}

/// What the replay found: the verdict now, the counts, the timeline, the rows now and the
/// resources a fire would touch.
pub fn result(found: &DryRun) -> Markup {
    let count = |of: fn(&Change) -> bool| found.timeline.iter().filter(|s| of(&s.change)).count();
    let fires = count(|c| *c == Change::Fire);
    let resets = count(|c| *c == Change::Reset);
    let warnings = count(|c| matches!(c, Change::Warning(_)));
    let (verdict, class) = if found.would_fire_now {
        ("Would fire now", "over")
    } else {
        ("Would not fire now", "within")
    };
    html! {
        div class="dry-run-result" data-would-fire=(found.would_fire_now) {
            h3 id="dry-run-result-title" tabindex="-1" { "Dry run result" }
            p class={ "verdict " (class) } {
                span class="state" { (verdict) } " · evaluated "
                time datetime=(found.evaluated_at.to_rfc3339()) { (short_time(found.evaluated_at.timestamp_micros())) }
            }
            p class="counts" {
                (counted(fires, "fire")) ", " (counted(resets, "reset")) ", " (counted(warnings, "warning"))
                " in the replay."
            }
            h4 { "Timeline" }
            @if found.timeline.is_empty() {
                p class="empty" { "Nothing would have happened." }
            } @else {
                ol class="timeline dry-run-timeline" {
                    @for step in &found.timeline {
                        li data-transition=(transition(step.change)) {
                            time datetime=(time::render(step.at)) { (short_time(step.at)) }
                            " " span class="event-type" { (change_words(step.change)) }
                            p { (cause_words(&step.cause)) }
                            @if !step.exceeded.is_empty() {
                                ul class="exceeded" {
                                    @for e in &step.exceeded {
                                        li { (e.component_type) ", " (e.period.name()) " window: " (e.usage) " of " (e.limit) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h4 { "Its rows now" }
            table class="limits" {
                (gauge::column_heads(&["Component", "Window", "Usage", "Gauge"]))
                tbody {
                    @for limit in &found.limits {
                        tr data-component=(limit.component_type) {
                            td data-label="Component" { (limit.component_name) }
                            td data-label="Window" { (gauge::window(limit)) }
                            td data-label="Usage" { (gauge::usage_of_limit(limit)) }
                            td data-label="Gauge" { (gauge::gauge(limit, &[])) }
                        }
                    }
                }
            }
            h4 { "Resources its actions would touch if it fired now" }
            @if found.affected_resources.is_empty() {
                p class="empty" { "None." }
            } @else {
                ul class="affected" {
                    @for r in &found.affected_resources { li { code { (r) } } }
                }
            }
        }
    }
}

/// `1 fire`, `2 fires`.
fn counted(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn transition(change: Change) -> &'static str {
    match change {
        Change::Fire => "fire",
        Change::Reset => "reset",
        Change::Warning(_) => "warning",
    }
}

fn change_words(change: Change) -> String {
    match change {
        Change::Fire => "Fire".into(),
        Change::Reset => "Reset".into(),
        Change::Warning(t) => format!("Warning at {t} %"),
    }
}

/// What the step followed, in words (docs/dry-run.md §3).
fn cause_words(cause: &StepCause) -> String {
    match cause {
        StepCause::Report {
            resource,
            component_type,
            amount,
            month,
        } => format!(
            "After resource {} reported {amount} {component_type} for {}.",
            &resource.to_string()[..8],
            month.year_month()
        ),
        StepCause::MonthStart(month) => format!("When {} started.", month.year_month()),
        StepCause::MonthlyTotal(month) => format!(
            "When {} started, counting usage its reports do not show.",
            month.year_month()
        ),
        StepCause::Grant { grant, boundary } => format!(
            "When grant {} {}.",
            &grant.to_string()[..8],
            match boundary {
                Boundary::Start => "started",
                Boundary::Expiry => "expired",
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Month;

    #[test]
    fn counts_and_causes_are_said_in_words() {
        assert_eq!(counted(1, "fire"), "1 fire");
        assert_eq!(counted(0, "reset"), "0 resets");
        let grant: Uuid32 = "0123456789abcdef0123456789abcdef".parse().unwrap();
        let expiry = StepCause::Grant {
            grant,
            boundary: Boundary::Expiry,
        };
        assert_eq!(cause_words(&expiry), "When grant 01234567 expired.");
        let total = StepCause::MonthlyTotal(Month::new(2026, 11).unwrap());
        assert_eq!(
            cause_words(&total),
            "When 2026-11 started, counting usage its reports do not show."
        );
        assert_eq!(change_words(Change::Warning(80)), "Warning at 80 %");
    }
}
