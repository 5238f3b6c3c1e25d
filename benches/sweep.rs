//! The periodic sweep over the whole catalogue, `service::sweep::sweep`, on SQLite (a temp file)
//! and, when reachable, PostgreSQL (a fresh database on METERGUARD_BENCH_PG_URL, default
//! postgres://postgres@127.0.0.1:5432/postgres), next to a baseline measured in the same run: the
//! sweep's three bulk reads alone (`all_states`, `all_limits`, `all_totals`). The sweep can be no
//! faster than those reads, so sweep ÷ reads is the cost of the in-memory judging on top.
//!
//! Data, inserted directly with SQL (the API would take far too long for 100,000 policies), into
//! tables made by `Db::connect` + `migrate`:
//! - 10,000 consuming customers and one provider with one offering of two usage components;
//! - 100,000 policies, 10 per customer, each limiting cpu_hours (periods cycling over Total, 1, 3
//!   and 12 months), every second one also gpu_hours: 150,000 limit rows;
//! - usage_totals for both components over the 12 months ending with the current one, for every
//!   customer: 240,000 rows, 10–60 units a month, under every limit of 1,000 units;
//! - every 100th policy has a limit of 5 units, so it is over: 1,000 policies.
//!
//! Every policy is seeded not fired, so the first sweep fires those 1,000 (each in its own
//! transaction, with an event): reported as the transition sweep. The sweeps after it change
//! nothing (steady state, the usual case): RUNS of them, paired with RUNS baseline reads in
//! alternating order, medians (and minimums) reported. Plain timed main (harness = false): one
//! sweep takes about a second, too long for criterion's sampling to add anything but minutes.
//!
//! Run: `cargo bench --bench sweep`. Env: POLICIES (100000), CUSTOMERS (10000), RUNS (6),
//! METERGUARD_BENCH_PG_URL.

use chrono::{DateTime, Utc};
use meterguard::actions::ActionsConfig;
use meterguard::config::DatabaseSettings;
use meterguard::domain::Month;
use meterguard::service::sweep::sweep;
use meterguard::store::{self, Db};
use sqlx::Connection;
use std::time::{Duration, Instant};

#[path = "common/seed_sql.rs"]
mod seed_sql;
use seed_sql::{series, uuid_sql};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Shape {
    customers: usize,
    policies: usize,
    runs: usize,
}

async fn seed(db: &Db, shape: &Shape, now: DateTime<Utc>) -> anyhow::Result<()> {
    let b = db.backend();
    let ts = now.timestamp_micros();
    let current = Month::of(now.date_naive()).index();
    let c = shape.customers;
    let provider = c + 1;
    let mut statements = Vec::new();
    let (pre, from) = series(b, c + 1);
    statements.push(format!(
        "{pre}INSERT INTO customers (id, uuid, name, created) SELECT i, {}, 'Sweep customer ' || i, {ts} FROM {from}",
        uuid_sql(b, 1, "i")
    ));
    statements.push(format!(
        "INSERT INTO categories (id, uuid, title, created) VALUES (1, '{:032x}', 'Bench', {ts})",
        2
    ));
    statements.push(format!(
        "INSERT INTO offerings (id, uuid, customer_id, category_id, name, type, state, created) \
         VALUES (1, '{:032x}', {provider}, 1, 'Bench cluster', 'Marketplace.Basic', 'Active', {ts})",
        3
    ));
    for (id, kind) in [(1, "cpu_hours"), (2, "gpu_hours")] {
        statements.push(format!(
            "INSERT INTO offering_components (id, uuid, offering_id, type, name, billing_type, measured_unit, created) \
             VALUES ({id}, '{:032x}', 1, '{kind}', '{kind}', 'usage', 'hours', {ts})",
            0x40 + id
        ));
    }
    let (pre, from) = series(b, shape.policies);
    statements.push(format!(
        "{pre}INSERT INTO policies (id, uuid, customer_id, actions, created, modified) \
         SELECT i, {}, (i - 1) % {c} + 1, 'notify_organization_owners,request_pausing', {ts}, {ts} FROM {from}",
        uuid_sql(b, 5, "i")
    ));
    statements.push(format!(
        "{pre}INSERT INTO policy_limits (policy_id, component_id, limit_value, period) \
         SELECT i, 1, CASE WHEN i % 100 = 0 THEN 5 ELSE 1000 + i % 7 END, 1 + i % 4 FROM {from}"
    ));
    statements.push(format!(
        "{pre}INSERT INTO policy_limits (policy_id, component_id, limit_value, period) \
         SELECT i, 2, 1000, 1 + (i / 2) % 4 FROM {from} WHERE i % 2 = 0"
    ));
    // i - 1 = customer * 24 + component * 12 + months back.
    let (pre, from) = series(b, c * 24);
    statements.push(format!(
        "{pre}INSERT INTO usage_totals (customer_id, component_id, billing_month, usage) \
         SELECT (i - 1) / 24 + 1, ((i - 1) % 24) / 12 + 1, {current} - (i - 1) % 12, 1000 + ((i - 1) * 37) % 5000 \
         FROM {from}"
    ));
    seed_sql::run(db, &statements).await
}

struct Reads {
    total: Duration,
    states: Duration,
    limits: Duration,
    totals: Duration,
    rows: (usize, usize, usize),
}

async fn baseline_reads(db: &Db, now: DateTime<Utc>) -> anyhow::Result<Reads> {
    let current = Month::of(now.date_naive());
    let mut conn = db.reader().acquire().await?;
    let start = Instant::now();
    let states = store::evaluation::all_firings(&mut conn).await?;
    let t1 = Instant::now();
    let limits = store::evaluation::all_limits(&mut conn, now.timestamp_micros()).await?;
    let t2 = Instant::now();
    let totals = store::evaluation::all_totals(&mut conn, None, current).await?;
    let t3 = Instant::now();
    Ok(Reads {
        total: t3 - start,
        states: t1 - start,
        limits: t2 - t1,
        totals: t3 - t2,
        rows: (states.len(), limits.len(), totals.len()),
    })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn bench(name: &str, url: &str, shape: &Shape) -> anyhow::Result<()> {
    let db = Db::connect(&DatabaseSettings::new(url.to_string())).await?;
    // No SMTP and no webhooks: the sweep queues nothing to deliver.
    let cfg = ActionsConfig {
        public_url: "http://localhost".into(),
        smtp_url: None,
        email_from: "bench@localhost".into(),
        webhook_urls: vec![],
        webhook_secret: String::new(),
        max_attempts: 1,
        backoff_ms: 1000,
        lease_seconds: 60,
        outbox_ready: Default::default(),
        pending_added: Default::default(),
    };
    db.migrate().await?;
    let now = Utc::now();
    let t = Instant::now();
    seed(&db, shape, now).await?;
    println!("[{name}] seeded in {:.1} s", t.elapsed().as_secs_f64());
    // Warm the caches (page cache, PostgreSQL buffers) before anything is timed.
    let warm = baseline_reads(&db, now).await?;
    println!(
        "[{name}] rows read by the sweep: {} policies, {} limit rows, {} totals",
        warm.rows.0, warm.rows.1, warm.rows.2
    );

    let t = Instant::now();
    let first = sweep(&db, &cfg, now).await?;
    let transition = t.elapsed();
    println!(
        "[{name}] transition sweep: {:.0} ms, evaluated {}, changed {}",
        ms(transition),
        first.evaluated,
        first.changed
    );

    let (mut sweeps, mut reads, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut states, mut limits, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..shape.runs {
        // Alternate which goes first (reads, sweep, sweep, reads, ...): whichever runs right
        // after the other's large frees pays different allocator and page-fault costs.
        let sweep_timed = || async {
            let t = Instant::now();
            let report = sweep(&db, &cfg, now).await?;
            anyhow::Ok((report, t.elapsed()))
        };
        let (r, (report, s)) = if run % 2 == 0 {
            let r = baseline_reads(&db, now).await?;
            (r, sweep_timed().await?)
        } else {
            let s = sweep_timed().await?;
            (baseline_reads(&db, now).await?, s)
        };
        anyhow::ensure!(report.changed == 0, "steady-state sweep changed {}", report.changed);
        println!(
            "[{name}] run {run}: reads {:.0} ms (states {:.0}, limits {:.0}, totals {:.0}), sweep {:.0} ms, ratio {:.2}",
            ms(r.total),
            ms(r.states),
            ms(r.limits),
            ms(r.totals),
            ms(s),
            s.as_secs_f64() / r.total.as_secs_f64()
        );
        ratios.push(Duration::from_secs_f64(s.as_secs_f64() / r.total.as_secs_f64()));
        reads.push(r.total);
        states.push(r.states);
        limits.push(r.limits);
        totals.push(r.totals);
        sweeps.push(s);
    }
    let (sweep_m, reads_m) = (median(sweeps.clone()), median(reads.clone()));
    println!(
        "[{name}] RESULT policies={} steady sweep median {:.0} ms (min {:.0}), three bulk reads median {:.0} ms \
         (min {:.0}; states {:.0}, limits {:.0}, totals {:.0}), sweep/reads median {:.2}, transition sweep {:.0} ms \
         ({} changed, {:.2}x the reads), target < 2000 ms: {}",
        first.evaluated,
        ms(sweep_m),
        ms(*sweeps.iter().min().expect("runs > 0")),
        ms(reads_m),
        ms(*reads.iter().min().expect("runs > 0")),
        ms(median(states)),
        ms(median(limits)),
        ms(median(totals)),
        median(ratios).as_secs_f64(),
        ms(transition),
        first.changed,
        transition.as_secs_f64() / reads_m.as_secs_f64(),
        if sweep_m < Duration::from_secs(2) {
            "met"
        } else {
            "MISSED"
        }
    );
    db.close().await;
    Ok(())
}

async fn postgres(shape: &Shape) -> anyhow::Result<()> {
    let admin_url = std::env::var("METERGUARD_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    sqlx::any::install_default_drivers();
    let connect = tokio::time::timeout(Duration::from_secs(3), sqlx::AnyConnection::connect(&admin_url)).await;
    let mut admin = match connect {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            println!("[postgres] not reachable at {admin_url} ({e}): skipped");
            return Ok(());
        }
        Err(_) => {
            println!("[postgres] not reachable at {admin_url} (timeout): skipped");
            return Ok(());
        }
    };
    let name = format!("mg_sweep_bench_{}", std::process::id());
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let base = admin_url.split('?').next().unwrap_or(&admin_url);
    let url = match base.rsplit_once('/') {
        Some((head, _)) if head.contains("//") && head.len() > "postgres://".len() => format!("{head}/{name}"),
        _ => format!("{base}/{name}"),
    };
    let result = bench("postgres", &url, shape).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    result
}

fn main() -> anyhow::Result<()> {
    let shape = Shape {
        customers: env_usize("CUSTOMERS", 10_000),
        policies: env_usize("POLICIES", 100_000),
        runs: env_usize("RUNS", 6).max(1),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}/sweep.db", dir.path().display());
        bench("sqlite", &url, &shape).await?;
        postgres(&shape).await
    })
}
