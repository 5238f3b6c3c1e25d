//! A limit row's last months as an SVG bar chart drawn here, with the limit as a line across it
//! (and, while grants top it up, the effective limit as a second line: docs/grants.md) and the
//! same figures as a table for those who do not see the chart.

use crate::domain::Amount;
use crate::service::dashboard::MonthUsage;
use maud::{html, Markup, PreEscaped};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 16.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 40.0;
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// What one chart shows: `months` oldest first, each the usage the row's window held then.
pub struct Chart<'a> {
    /// Unique on the page: the chart's title and description are named by it.
    pub id: &'a str,
    pub title: &'a str,
    pub unit: &'a str,
    pub limit: i64,
    /// What the grants active now add to the limit; zero draws no second line.
    pub granted: Amount,
    pub months: &'a [MonthUsage],
}

impl Chart<'_> {
    pub fn render(&self) -> Markup {
        let limit = Amount::from_units(self.limit).hundredths();
        let effective = Amount::from_units(self.limit).saturating_add(self.granted);
        let granted = (self.granted != Amount::ZERO).then_some(effective);
        let highest = self.months.iter().map(|m| m.usage.hundredths()).max().unwrap_or(0);
        // The top of the scale leaves room above the limit lines and the tallest bar.
        let top = (limit.max(effective.hundredths()).max(highest).max(1) as f64) * 1.15;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let y = |hundredths: i64| TOP + plot_h - (hundredths.max(0) as f64 / top) * plot_h;
        let slot = (WIDTH - LEFT - RIGHT) / self.months.len().max(1) as f64;
        let limit_y = y(limit);
        let (title_id, desc_id) = (format!("{}-title", self.id), format!("{}-desc", self.id));
        let peak = self.months.iter().max_by_key(|m| m.usage.hundredths());
        html! {
            figure class="chart" {
                svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) }
                    role="img" aria-labelledby={ (title_id) " " (desc_id) } {
                    title id=(title_id) { (self.title) }
                    desc id=(desc_id) {
                        "Limit " (self.limit) " " (self.unit) "."
                        @if let Some(e) = granted { " With the grants active now: " (e) "." }
                        @if let Some(p) = peak { " Highest: " (p.usage) " in " (month_name(p)) "." }
                    }
                    line class="axis" x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y(0)) y2=(y(0)) {}
                    @for (i, m) in self.months.iter().enumerate() {
                        @let x = LEFT + slot * i as f64;
                        @let bar_y = y(m.usage.hundredths());
                        @let class = if m.usage.hundredths() > limit { "bar over" } else { "bar" };
                        rect class=(class)
                            x=(fmt(x + slot * 0.2)) y=(fmt(bar_y)) width=(fmt(slot * 0.6)) height=(fmt(y(0) - bar_y)) {}
                        text class="month" x=(fmt(x + slot / 2.0)) y=(fmt(HEIGHT - BOTTOM + 16.0)) text-anchor="middle" {
                            (MONTHS[m.month.month() as usize - 1])
                        }
                        @if i == 0 || m.month.month() == 1 {
                            text class="year" x=(fmt(x + slot / 2.0)) y=(fmt(HEIGHT - BOTTOM + 32.0)) text-anchor="middle" { (m.month.year()) }
                        }
                    }
                    line class="limit-line" x1=(LEFT) x2=(WIDTH - RIGHT) y1=(fmt(limit_y)) y2=(fmt(limit_y)) {}
                    text class="limit-label" x=(LEFT + 4.0) y=(fmt(limit_y - 5.0)) {
                        "limit " (self.limit) (PreEscaped("&#160;")) (self.unit)
                    }
                    @if let Some(e) = granted {
                        @let grant_y = y(e.hundredths());
                        line class="grant-line" x1=(LEFT) x2=(WIDTH - RIGHT) y1=(fmt(grant_y)) y2=(fmt(grant_y)) {}
                        text class="limit-label" x=(WIDTH - RIGHT - 4.0) y=(fmt(grant_y - 5.0)) text-anchor="end" {
                            "with grants " (e) (PreEscaped("&#160;")) (self.unit)
                        }
                    }
                }
                figcaption {
                    (self.title) ", limit " (self.limit) " " (self.unit)
                    @if let Some(e) = granted { ", " (e) " with the grants active now" }
                }
                details {
                    summary { "These figures as a table" }
                    table {
                        thead { tr { th scope="col" { "Month" } th scope="col" { "Usage in the window" } th scope="col" { "State" } } }
                        tbody {
                            @for m in self.months {
                                tr {
                                    th scope="row" { (month_name(m)) }
                                    td { (m.usage) }
                                    td { @if m.usage.hundredths() > limit { "Over limit" } @else { "Within limit" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn month_name(m: &MonthUsage) -> String {
    format!("{} {}", MONTHS[m.month.month() as usize - 1], m.month.year())
}

/// One decimal place is finer than a pixel.
fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Month;

    fn months(usages: &[i64]) -> Vec<MonthUsage> {
        let first = Month::new(2025, 11).unwrap();
        let mut month = first;
        usages
            .iter()
            .map(|&units| {
                let m = MonthUsage {
                    month,
                    usage: Amount::from_units(units),
                };
                month = month.next();
                m
            })
            .collect()
    }

    #[test]
    fn bars_over_the_limit_are_marked_and_the_limit_line_sits_at_the_limit() {
        let months = months(&[50, 150, 100]);
        let svg = Chart {
            id: "c",
            title: "CPU hours",
            unit: "hours",
            limit: 100,
            granted: Amount::ZERO,
            months: &months,
        }
        .render()
        .into_string();
        assert_eq!(
            svg.matches("class=\"bar over\"").count(),
            1,
            "only 150 is over 100: {svg}"
        );
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        // The scale's top is 150 × 1.15; the plot is 160 high from y = 20.
        let limit_y = 20.0 + 160.0 - 100.0 / 172.5 * 160.0;
        assert!(
            svg.contains(&format!(
                "class=\"limit-line\" x1=\"16\" x2=\"624\" y1=\"{limit_y:.1}\""
            )),
            "{svg}"
        );
        assert!(
            svg.contains(">Dec<") && svg.contains(">2025<") && svg.contains(">2026<"),
            "{svg}"
        );
        assert!(!svg.contains("grant-line"), "no grant, no second line");
    }

    #[test]
    fn a_grant_draws_the_effective_limit_as_a_second_line() {
        let months = months(&[50, 150]);
        let svg = Chart {
            id: "c",
            title: "CPU hours",
            unit: "hours",
            limit: 100,
            granted: Amount::from_units(100),
            months: &months,
        }
        .render()
        .into_string();
        // The scale's top is 200 × 1.15 now: the effective limit is the highest figure.
        let grant_y = 20.0 + 160.0 - 200.0 / 230.0 * 160.0;
        assert!(
            svg.contains(&format!(
                "class=\"grant-line\" x1=\"16\" x2=\"624\" y1=\"{grant_y:.1}\""
            )),
            "{svg}"
        );
        assert!(svg.contains("with grants 200.00"), "{svg}");
        assert!(svg.contains("200.00 with the grants active now"), "{svg}");
    }
}
