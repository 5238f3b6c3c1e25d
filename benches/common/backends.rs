//! Where a bench runs: on SQLite (a temp file), then, when reachable, on PostgreSQL (a fresh
//! database on METERGUARD_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres,
//! dropped afterwards); and the server it measures, seeded, with a staff token.

use chrono::Utc;
use meterguard::clock::Clock;
use meterguard::domain::user::UserFields;
use meterguard::service;
use meterguard::startup::Application;
use meterguard::store::Db;
use sqlx::Connection;
use std::future::Future;
use std::time::Duration;

/// Runs `bench` with each backend's name and database URL; `label` names the files and databases.
pub async fn each<F, Fut>(label: &str, bench: F) -> anyhow::Result<()>
where
    F: Fn(&'static str, String) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let dir = tempfile::tempdir()?;
    let file = dir.path().join(format!("{label}.db"));
    bench("sqlite", format!("sqlite://{}", file.display())).await?;
    let admin = std::env::var("METERGUARD_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    sqlx::any::install_default_drivers();
    let Ok(mut conn) = sqlx::AnyConnection::connect(&admin).await else {
        println!("[postgres] not reachable at {admin}: skipped");
        return Ok(());
    };
    let name = format!("mg_bench_{label}_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await?;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let result = bench("postgres", format!("{base}/{name}")).await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    result
}

/// A server on `url` with what `seed` inserts, serving in the background: its base URL
/// (`http://127.0.0.1:<port>`) and a staff token.
pub async fn serve_seeded<F, Fut>(url: String, seed: F) -> anyhow::Result<(String, String)>
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let app = Application::build(crate::helpers::settings(url), Clock::System).await?;
    let port = app.port();
    let db = app.state().db.clone();
    seed(db.clone()).await?;
    let staff = UserFields {
        username: "bench-staff".into(),
        is_staff: true,
        is_active: true,
        ..Default::default()
    };
    let now = Utc::now().timestamp_micros();
    let id = service::users::create(&db, &staff, None, now).await?;
    let token = service::users::issue_token(&db, id, now).await?;
    tokio::spawn(app.run(std::future::pending()));
    Ok((format!("http://127.0.0.1:{port}"), token))
}

/// A count the environment may set, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
