//! The overview: each customer the caller may see, with one gauge per limit row of its policies.

use super::gauge::{self, State};
use crate::service::dashboard::{CustomerGauges, Overview, OverviewOrder, OverviewQuery, PolicyGauges};
use maud::{html, Markup};

pub fn render(overview: &Overview, query: &OverviewQuery) -> Markup {
    let percent_first = query.order == OverviewOrder::Percent;
    html! {
        h1 { "Usage against limits" }
        p class="meta" {
            (overview.customers.len()) @if overview.customers.len() == 1 { " customer" } @else { " customers" }
            " · evaluated "
            time datetime=(overview.evaluated_at.to_rfc3339()) { (gauge::short_time(overview.evaluated_at.timestamp_micros())) }
        }
        form id="overview-controls" role="search" aria-label="Filter and sort" {
            label for="filter" { "Customer name contains" }
            input id="filter" name="q" type="search" value=[query.name.as_deref()];
            label for="sort" { "Order" }
            select id="sort" name="sort" {
                option value="name" selected[!percent_first] { "By name" }
                option value="percent" selected[percent_first] { "Fullest first (percent)" }
            }
            button type="submit" { "Apply" }
        }
        @if overview.customers.is_empty() {
            p class="empty" { "No customers to show." }
        }
        @for customer in &overview.customers {
            (customer_section(customer))
        }
    }
}

fn customer_section(customer: &CustomerGauges) -> Markup {
    let heading = format!("customer-{}", customer.uuid);
    let fired = customer.policies.iter().filter(|p| p.policy.has_fired).count();
    html! {
        section class="customer" data-customer=(customer.uuid) aria-labelledby=(heading) {
            h2 id=(heading) {
                a href={ "#/customers/" (customer.uuid) } { (customer.name) }
                @if fired > 0 {
                    " " span class="badge fired" { (fired) " fired" }
                }
            }
            @if customer.policies.is_empty() {
                p class="empty" { "No policies." }
            } @else {
                (limits_table(&customer.policies))
            }
            @if !customer.restrictions.is_empty() {
                p class="held" { "Restrictions its fired policies hold:" }
            }
            (gauge::restrictions(&customer.restrictions))
        }
    }
}

/// One row per limit row of every policy; on a narrow screen each row stacks (the style sheet
/// shows each cell's `data-label`).
pub fn limits_table(policies: &[PolicyGauges]) -> Markup {
    html! {
        table class="limits" {
            (gauge::column_heads(&["Policy", "Component", "Window", "Usage", "Gauge", "Projected crossing"]))
            tbody {
                @for p in policies {
                    @for limit in &p.limits {
                        tr class={ "limit " (State::of(limit, p.policy.ladder.thresholds.percents()).class()) } data-policy=(p.policy.uuid) data-component=(limit.component_type) {
                            td data-label="Policy" {
                                span class="actions" { (gauge::actions(&p.policy)) }
                                " " (gauge::badges(&p.policy, &p.pending))
                            }
                            td data-label="Component" { (limit.component_name) }
                            td data-label="Window" { (gauge::window(limit)) }
                            td data-label="Usage" { (gauge::usage_of_limit(limit)) }
                            td data-label="Gauge" { (gauge::gauge(limit, p.policy.ladder.thresholds.percents())) }
                            td data-label="Projected crossing" {
                                @match limit.headroom.projected_crossing {
                                    Some(day) => time datetime=(day) { (day) },
                                    None => "—",
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
