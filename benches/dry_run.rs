//! A dry run over 12 months of a busy customer, served by a real server: the time from request to
//! the last byte of `POST .../dry_run/`, on SQLite (a temp file) and, when reachable, PostgreSQL
//! (a fresh database on METERGUARD_BENCH_PG_URL, default
//! postgres://postgres@127.0.0.1:5432/postgres). docs/dry-run.md asks for under 1 s.
//!
//! Data, inserted directly with SQL into the tables the server's migrations made:
//! - one consuming customer with one project of RESOURCES (1,000) resources, and one provider
//!   with one offering of two usage components;
//! - REPORTS (100,000) logged reports spread evenly over the 12 months ending with the current
//!   one, resources and components taking turns, each resource's amount for a month growing
//!   report by report (as a meter does);
//! - usage_totals matching the log, and 12 older months of totals the log does not hold.
//!
//! The proposed policy limits cpu_hours per month and per 3 months and gpu_hours per 12 months,
//! with warnings at 50 and 80 %: it fires, warns and resets every month. RUNS (5) timed requests
//! after one to warm up; median and minimum reported, with the timeline's size. Plain timed main
//! (harness = false). Run: `cargo bench --bench dry_run`.

/// The API tests' settings: no SMTP, no webhooks.
#[allow(dead_code, unused_macros)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

use chrono::Utc;
use meterguard::domain::Month;
use meterguard::store::Db;
use serde_json::{json, Value};
use std::time::Instant;

#[path = "common/backends.rs"]
mod backends;
#[path = "common/seed_sql.rs"]
mod seed_sql;
use backends::{env_usize, ms};
use seed_sql::{series, uuid_sql};

const CUSTOMER: u32 = 1;
const CPU: u32 = 0x41;
const GPU: u32 = 0x42;

async fn seed(db: &Db, resources: usize, reports: usize) -> anyhow::Result<()> {
    let b = db.backend();
    let now = Utc::now();
    let ts = now.timestamp_micros();
    let current = Month::of(now.date_naive());
    let (rpre, rfrom) = series(b, resources);
    let mut statements = vec![
        format!(
            "INSERT INTO customers (id, uuid, name, created) VALUES (1, '{CUSTOMER:032x}', 'Busy', {ts}), \
             (2, '{:032x}', 'Provider', {ts})",
            2
        ),
        format!("INSERT INTO categories (id, uuid, title, created) VALUES (1, '{:032x}', 'Bench', {ts})", 3),
        format!(
            "INSERT INTO offerings (id, uuid, customer_id, category_id, name, type, state, created) \
             VALUES (1, '{:032x}', 2, 1, 'Bench cluster', 'Marketplace.Basic', 'Active', {ts})",
            4
        ),
        format!(
            "INSERT INTO offering_components (id, uuid, offering_id, type, name, billing_type, measured_unit, created) \
             VALUES (1, '{CPU:032x}', 1, 'cpu_hours', 'CPU hours', 'usage', 'hours', {ts}), \
                    (2, '{GPU:032x}', 1, 'gpu_hours', 'GPU hours', 'usage', 'hours', {ts})"
        ),
        format!(
            "INSERT INTO projects (id, uuid, customer_id, name, created) VALUES (1, '{:032x}', 1, 'Busy project', {ts})",
            5
        ),
        format!(
            "{rpre}INSERT INTO resources (id, uuid, project_id, offering_id, name, state, created, modified) \
             SELECT i, {}, 1, 1, 'Resource ' || i, 'OK', {ts}, {ts} FROM {rfrom}",
            uuid_sql(b, 6, "i")
        ),
    ];
    // Each month's share of the log, spread evenly over the month (the current one up to now).
    let per_month = reports / 12;
    for back in 0..12u32 {
        let month = current.minus(11 - back);
        let start = month.start_micros();
        let end = if back == 11 { ts } else { month.next().start_micros() };
        let step = (end - start) / per_month as i64;
        let (pre, from) = series(b, per_month);
        statements.push(format!(
            "{pre}INSERT INTO usage_report_log (resource_id, component_id, billing_month, amount, reported_at, deleted) \
             SELECT (i - 1) % {resources} + 1, (i - 1) / {resources} % 2 + 1, {}, ((i - 1) / {resources} + 1) * 50, \
             {start} + (i - 1) * CAST({step} AS BIGINT), 0 FROM {from}",
            month.index()
        ));
    }
    // A resource's amounts grow within a month, so its last is its largest.
    statements.push(
        "INSERT INTO usage_totals (customer_id, component_id, billing_month, usage) \
         SELECT 1, component_id, billing_month, SUM(amount) FROM \
         (SELECT component_id, billing_month, MAX(amount) AS amount FROM usage_report_log \
          GROUP BY resource_id, component_id, billing_month) last GROUP BY component_id, billing_month"
            .into(),
    );
    let (opre, ofrom) = series(b, 24);
    statements.push(format!(
        "{opre}INSERT INTO usage_totals (customer_id, component_id, billing_month, usage) \
         SELECT 1, (i - 1) % 2 + 1, {} - (i - 1) / 2, 300000 FROM {ofrom}",
        current.minus(12).index()
    ));
    seed_sql::run(db, &statements).await
}

async fn bench(name: &'static str, url: String) -> anyhow::Result<()> {
    let (resources, reports, runs) = (
        env_usize("RESOURCES", 1000),
        env_usize("REPORTS", 100_000),
        env_usize("RUNS", 5),
    );
    let (base, token) = backends::serve_seeded(url, |db| async move { seed(&db, resources, reports).await }).await?;
    let http = reqwest::Client::new();
    let body = json!({
        "scope": format!("{base}/api/customers/{CUSTOMER:032x}/"),
        "actions": "notify_organization_owners,request_pausing",
        "component_limits_set": [
            {"component": format!("{CPU:032x}"), "limit": 2500, "period": 2},
            {"component": format!("{CPU:032x}"), "limit": 20000, "period": 3},
            {"component": format!("{GPU:032x}"), "limit": 40000, "period": 4},
        ],
        "warning_thresholds": [50, 80],
    });
    let page = format!("{base}/api/marketplace-customer-component-usage-policies/dry_run/");
    let mut times = Vec::new();
    let mut found = Value::Null;
    for run in 0..runs + 1 {
        let start = Instant::now();
        found = http
            .post(&page)
            .header("Authorization", format!("Token {token}"))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if run >= 1 {
            times.push(start.elapsed());
        }
    }
    times.sort();
    println!(
        "[{name}] dry run over 12 months of {resources} resources, {reports} reports ({} fires, {} resets, \
         {} warnings): median {:.1} ms, min {:.1} ms over {runs} runs",
        found["fires"],
        found["resets"],
        found["warnings"],
        ms(times[times.len() / 2]),
        ms(times[0])
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    backends::each("dry_run", bench).await
}
