//! A customer's page: each policy with its gauges, its grants and, per limit row, the last months
//! against the limit; for staff, the dry-run form; the restrictions held on its resources; its
//! events, newest first.

use super::chart::Chart;
use super::overview::limits_table;
use super::{dry_run, gauge, grants};
use crate::domain::customer::CustomerText;
use crate::domain::time;
use crate::service::dashboard::{CustomerPage, PolicyHistory, HISTORY_MONTHS};
use maud::{html, Markup};

pub fn render(page: &CustomerPage) -> Markup {
    let c = &page.customer;
    html! {
        p { a href="#/" { "← All customers" } }
        h1 data-customer=(c.uuid) { (c.fields.text(CustomerText::Name)) }
        p class="meta" {
            "Evaluated "
            time datetime=(page.evaluated_at.to_rfc3339()) { (gauge::short_time(page.evaluated_at.timestamp_micros())) }
        }
        section aria-labelledby="policies-title" {
            h2 id="policies-title" { "Policies" }
            @if page.policies.is_empty() {
                p class="empty" { "No policies you may see." }
            }
            @for (i, p) in page.policies.iter().enumerate() {
                (policy(i, p, page.evaluated_at.timestamp_micros(), page.dry_run_components.is_some()))
            }
        }
        @if let Some(components) = &page.dry_run_components {
            (dry_run::form(&c.uuid, components))
        }
        section aria-labelledby="restrictions-title" {
            h2 id="restrictions-title" { "Restrictions held" }
            @if page.restrictions.is_empty() {
                p class="empty" { "None of its resources is restricted." }
            }
            (gauge::restrictions(&page.restrictions))
        }
        section aria-labelledby="events-title" {
            h2 id="events-title" { "Events" }
            @if page.events.is_empty() {
                p class="empty" { "No events." }
            } @else {
                ol class="timeline" {
                    @for e in &page.events {
                        li data-event-type=(e.event_type) {
                            time datetime=(time::render(e.created)) { (gauge::short_time(e.created)) }
                            " " span class="event-type" { (e.event_type) }
                            p { (e.message) }
                        }
                    }
                }
            }
        }
    }
}

/// `may_dry_run`: the caller is offered the dry-run form, so each policy a button that fills it.
fn policy(index: usize, p: &PolicyHistory, now: i64, may_dry_run: bool) -> Markup {
    let policy = &p.gauges.policy;
    html! {
        article class="policy" data-policy=(policy.uuid) {
            h3 {
                "Policy " (policy.uuid.to_string()[..8]) " · " (gauge::actions(policy))
                " " (gauge::badges(policy, &p.gauges.pending))
            }
            @if may_dry_run { (dry_run::change_button(policy)) }
            (limits_table(std::slice::from_ref(&p.gauges)))
            (grants::table(&p.grants, &p.gauges.limits, now))
            @for (row, (limit, months)) in p.gauges.limits.iter().zip(&p.history).enumerate() {
                (Chart {
                    id: &format!("chart-{index}-{row}"),
                    title: &format!("{}: usage of its {} window, last {HISTORY_MONTHS} months", limit.component_name, limit.period.name()),
                    unit: &limit.measured_unit,
                    limit: limit.headroom.limit,
                    granted: limit.headroom.granted,
                    months,
                }.render())
            }
        }
    }
}

/// What a customer that does not exist, or that the caller may not see, shows: the same page.
pub fn missing() -> Markup {
    html! {
        p { a href="#/" { "← All customers" } }
        h1 { "No such customer" }
        p { "There is no customer here that you may see." }
    }
}
