//! The dashboard's overview as staff see it (every customer), served by a real server: the time
//! from request to the last byte of `GET /dashboard/fragments/overview/`, on SQLite (a temp file)
//! and, when reachable, PostgreSQL (a fresh database on METERGUARD_BENCH_PG_URL, default
//! postgres://postgres@127.0.0.1:5432/postgres). docs/dashboard.md asks for under 300 ms at
//! 1,000 customers with 3,000 policies.
//!
//! Data, inserted directly with SQL into the tables the server's migrations made:
//! - CUSTOMERS (1,000) consuming customers and one provider with one offering of two usage
//!   components;
//! - POLICIES (3,000), spread evenly over the customers, each limiting cpu_hours (periods cycling
//!   over Total, 1, 3 and 12 months), every second one also gpu_hours;
//! - usage_totals for both components over the 12 months ending with the current one, for every
//!   customer;
//! - every 10th policy fired, so its customer's resources are read for held restrictions.
//!
//! RUNS (10) timed requests after two to warm up; median and minimum reported, with the size
//! of the page. Plain timed main (harness = false). Run: `cargo bench --bench dashboard`.

/// The API tests' settings: no SMTP, no webhooks.
#[allow(dead_code, unused_macros)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

use chrono::Utc;
use meterguard::domain::Month;
use meterguard::store::Db;
use std::time::Instant;

#[path = "common/backends.rs"]
mod backends;
#[path = "common/seed_sql.rs"]
mod seed_sql;
use backends::{env_usize, ms};
use seed_sql::{series, uuid_sql};

async fn seed(db: &Db, customers: usize, policies: usize) -> anyhow::Result<()> {
    let b = db.backend();
    let now = Utc::now();
    let ts = now.timestamp_micros();
    let current = Month::of(now.date_naive()).index();
    let c = customers;
    let (pre, from) = series(b, c + 1);
    let (ppre, pfrom) = series(b, policies);
    let (tpre, tfrom) = series(b, c * 24);
    let statements = [
        format!(
            "{pre}INSERT INTO customers (id, uuid, name, created) SELECT i, {}, 'Customer ' || i, {ts} FROM {from}",
            uuid_sql(b, 1, "i")
        ),
        format!(
            "INSERT INTO categories (id, uuid, title, created) VALUES (1, '{:032x}', 'Bench', {ts})",
            2
        ),
        format!(
            "INSERT INTO offerings (id, uuid, customer_id, category_id, name, type, state, created) \
             VALUES (1, '{:032x}', {}, 1, 'Bench cluster', 'Marketplace.Basic', 'Active', {ts})",
            3,
            c + 1
        ),
        format!(
            "INSERT INTO offering_components (id, uuid, offering_id, type, name, billing_type, measured_unit, created) \
             VALUES (1, '{:032x}', 1, 'cpu_hours', 'CPU hours', 'usage', 'hours', {ts}), \
                    (2, '{:032x}', 1, 'gpu_hours', 'GPU hours', 'usage', 'hours', {ts})",
            0x41, 0x42
        ),
        format!(
            "{ppre}INSERT INTO policies (id, uuid, customer_id, actions, has_fired, created, modified) \
             SELECT i, {}, (i - 1) % {c} + 1, 'notify_organization_owners,request_pausing', \
             CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END, {ts}, {ts} FROM {pfrom}",
            uuid_sql(b, 5, "i")
        ),
        format!(
            "{ppre}INSERT INTO policy_limits (policy_id, component_id, limit_value, period) \
             SELECT i, 1, 20 + i % 200, 1 + i % 4 FROM {pfrom}"
        ),
        format!(
            "{ppre}INSERT INTO policy_limits (policy_id, component_id, limit_value, period) \
             SELECT i, 2, 500, 1 + (i / 2) % 4 FROM {pfrom} WHERE i % 2 = 0"
        ),
        // i - 1 = customer * 24 + component * 12 + months back.
        format!(
            "{tpre}INSERT INTO usage_totals (customer_id, component_id, billing_month, usage) \
             SELECT (i - 1) / 24 + 1, ((i - 1) % 24) / 12 + 1, {current} - (i - 1) % 12, 100 + ((i - 1) * 37) % 2000 \
             FROM {tfrom}"
        ),
    ];
    seed_sql::run(db, &statements).await
}

async fn bench(name: &'static str, url: String) -> anyhow::Result<()> {
    let (customers, policies, runs) = (
        env_usize("CUSTOMERS", 1000),
        env_usize("POLICIES", 3000),
        env_usize("RUNS", 10),
    );
    let (base, token) = backends::serve_seeded(url, |db| async move { seed(&db, customers, policies).await }).await?;
    let http = reqwest::Client::new();
    let page = format!("{base}/dashboard/fragments/overview/?sort=percent");
    let mut times = Vec::new();
    let mut size = 0;
    for run in 0..runs + 2 {
        let start = Instant::now();
        let response = http
            .get(&page)
            .header("Authorization", format!("Token {token}"))
            .send()
            .await?
            .error_for_status()?;
        size = response.bytes().await?.len();
        if run >= 2 {
            times.push(start.elapsed());
        }
    }
    times.sort();
    println!(
        "[{name}] overview of {customers} customers, {policies} policies ({} kB): median {:.1} ms, min {:.1} ms over {runs} runs",
        size / 1024,
        ms(times[times.len() / 2]),
        ms(times[0])
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    backends::each("dashboard", bench).await
}
