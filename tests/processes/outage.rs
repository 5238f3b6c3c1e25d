//! A database outage (finding 12): while PostgreSQL is down, requests answer 503 with
//! `Retry-After` (never 500), `/ready/` answers 503, and the server recovers by itself when the
//! database returns, without losing a report it acknowledged before, during or after the outage.
//!
//! The test runs a PostgreSQL cluster of its own (initdb and pg_ctl on a free port, in a temp
//! dir) and stops that one with `pg_ctl stop -m immediate`; the shared server is never touched.

use crate::client::{decimal, hundredths, month_start, Api, Marketplace};
use crate::harness::Env;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the PostgreSQL server binaries are: `METERGUARD_TEST_PG_BIN`, else `pg_config --bindir`,
/// else the newest Debian install under /usr/lib/postgresql.
fn pg_bin() -> PathBuf {
    let has_tools = |dir: &PathBuf| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let configured = std::env::var("METERGUARD_TEST_PG_BIN").ok().map(PathBuf::from);
    let from_pg_config = || {
        let out = Command::new("pg_config").arg("--bindir").output().ok()?;
        Some(PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()))
    };
    let newest_debian = || {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .collect();
        dirs.sort_by_key(|d| {
            let version = d
                .parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str()?.parse::<u32>().ok());
            version.unwrap_or(0)
        });
        dirs.into_iter().rev().find(has_tools)
    };
    let dir = configured
        .clone()
        .or_else(|| from_pg_config().filter(has_tools))
        .or_else(newest_debian);
    match dir {
        Some(dir) if has_tools(&dir) => dir,
        _ => panic!(
            "the outage test runs a PostgreSQL cluster of its own and needs initdb and pg_ctl \
             (looked in {configured:?}, pg_config --bindir and /usr/lib/postgresql/*/bin): install \
             the PostgreSQL server, or set METERGUARD_TEST_PG_BIN to their directory"
        ),
    }
}

/// A PostgreSQL cluster of the test's own, stopped (immediately) when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// initdb refuses to run as root: as root, every command runs as the `postgres` user.
    as_postgres: bool,
}

impl Cluster {
    fn create() -> Self {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("meterguard-outage-")
            .tempdir()
            .expect("temp dir");
        let as_postgres = output(Command::new("id").arg("-u")).trim() == "0";
        if as_postgres {
            let id = |flag: &str| -> u32 {
                output(Command::new("id").args([flag, "postgres"]))
                    .trim()
                    .parse()
                    .expect("the postgres user's id")
            };
            std::os::unix::fs::chown(dir.path(), Some(id("-u")), Some(id("-g"))).expect("chown the cluster's dir");
        }
        let cluster = Self {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        };
        let data = cluster.data();
        cluster.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).output().expect(program);
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}\n{}\n{}\nserver log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let (data, log) = (self.data(), self.log().display().to_string());
        self.run(
            "pg_ctl",
            &["start", "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options],
        );
    }

    /// As a crash: backends are killed, nothing is shut down cleanly.
    fn stop(&self) {
        self.run("pg_ctl", &["stop", "-D", &self.data(), "-m", "immediate", "-w"]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-D", &self.data(), "-m", "immediate", "-w"])
            .output();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log()).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "---- the test's PostgreSQL log (last lines)\n{}",
                lines[lines.len().saturating_sub(20)..].join("\n")
            );
        }
    }
}

fn output(command: &mut Command) -> String {
    let out = command.output().expect("run a command");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("address").port()
}

/// What one chain of reports on one key (a resource's current month) saw: amounts only grow, so
/// after the outage the key must hold the last acknowledged amount, or one sent after it whose
/// answer was not 201 (it may have committed).
#[derive(Debug, Default, Clone)]
struct Chain {
    acked: Option<i64>,
    in_doubt: Vec<i64>,
}

/// Reports on `resource` with growing amounts until `stop`; every answer must be 201 or 503.
async fn chain(provider: Api, resource: String, stop: Arc<AtomicBool>, acks: Arc<AtomicUsize>) -> (Chain, Vec<String>) {
    let (mut log, mut problems) = (Chain::default(), Vec::new());
    let mut amount = 0;
    while !stop.load(Ordering::SeqCst) {
        amount += 100;
        match provider
            .try_set_usage(&resource, &[("cpu_hours", &decimal(amount))], None)
            .await
        {
            Ok(reply) if reply.status == StatusCode::CREATED => {
                log = Chain {
                    acked: Some(amount),
                    in_doubt: Vec::new(),
                };
                acks.fetch_add(1, Ordering::SeqCst);
            }
            Ok(reply) => {
                log.in_doubt.push(amount);
                if reply.status != StatusCode::SERVICE_UNAVAILABLE {
                    problems.push(format!(
                        "set_usage {}: {} {}",
                        decimal(amount),
                        reply.status,
                        reply.body
                    ));
                }
                // As a client told to retry later would, if not as long.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                log.in_doubt.push(amount);
                problems.push(format!(
                    "set_usage {}: {}",
                    decimal(amount),
                    crate::client::describe(&e)
                ));
            }
        }
    }
    (log, problems)
}

/// The stored `cpu_hours` of a resource's month, in hundredths.
async fn stored(staff: &Api, resource: &str, month: &str) -> Option<i64> {
    staff
        .usage_rows(resource)
        .await
        .iter()
        .find(|r| r["type"] == "cpu_hours" && r["billing_period"] == month)
        .map(|r| hundredths(r["usage"].as_str().expect("usage")))
}

/// A request while the database is down: 503, DRF's body and `Retry-After`.
async fn assert_unavailable(http: &reqwest::Client, url: &str, token: &str) {
    let reply = http
        .get(url)
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .expect("the server answers while its database is down");
    assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE, "GET {url}");
    let retry = reply
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap_or("").to_string());
    assert!(
        retry.as_deref().is_some_and(|s| s.parse::<u32>().is_ok()),
        "GET {url}: Retry-After {retry:?}"
    );
    let body: Value = reply.json().await.expect("a JSON body");
    assert!(
        body.get("detail").is_some() || body.get("status").is_some(),
        "GET {url}: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_answers_503_and_recovers_without_losing_a_report() {
    let cluster = Cluster::create();
    let mut env = Env::on_database(cluster.url());
    // Requests waiting for a connection give up after a second, so the outage is quick to see.
    env.server_env("METERGUARD_DB_ACQUIRE_TIMEOUT_SECONDS", "1");
    let token = env.create_staff_user("staff").await;
    let base = env.start_server().await;
    let staff = Api::new(&base, &token);
    let m = Marketplace::build(&staff).await;
    let resources = m.resources(4).await;
    // Over only once the reports after the outage come in.
    let policy = m.cpu_policy(&staff, 1_000_000, "notify_organization_owners").await;

    // Before: acknowledged reports on last month's keys (staff backfills).
    let previous = month_start(1);
    let mut before = HashMap::new();
    for (i, resource) in resources.iter().enumerate() {
        let amount = 1_000 * (i as i64 + 1);
        staff
            .try_set_usage(resource, &[("cpu_hours", &decimal(amount))], Some(&previous))
            .await
            .expect("a report before the outage")
            .expect(201);
        before.insert(resource.clone(), amount);
    }

    // During: reports keep coming on this month's keys while the database goes away.
    let (stop, acks) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let chains: Vec<_> = resources
        .iter()
        .map(|r| tokio::spawn(chain(m.provider.clone(), r.clone(), stop.clone(), acks.clone())))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks.load(Ordering::SeqCst) < 20 {
        assert!(
            Instant::now() < deadline,
            "reports were not acknowledged before the outage"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.stop();
    let acked_before_stop = acks.load(Ordering::SeqCst);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    assert_unavailable(&http, &format!("{base}/api/customers/"), &token).await;
    assert_unavailable(&http, &format!("{base}/api/marketplace-component-usages/"), &token).await;
    assert_unavailable(&http, &format!("{base}/ready/"), &token).await;
    // Long enough for every chain to meet the outage; then the chains stop, so what they were
    // told is what the database must hold once it returns.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let health = http.get(format!("{base}/health/")).send().await.expect("health");
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "liveness does not depend on the database"
    );
    stop.store(true, Ordering::SeqCst);
    let mut problems = Vec::new();
    let mut logs = Vec::new();
    for chain in chains {
        let (log, seen) = chain.await.expect("a chain");
        problems.extend(seen);
        logs.push(log);
    }
    let acked_in_all = acks.load(Ordering::SeqCst);
    for (resource, log) in resources.iter().zip(&logs) {
        if log.in_doubt.is_empty() {
            problems.push(format!("the chain on {resource} never met the outage: {log:?}"));
        }
    }

    // After: the database returns, and the server with it, without a restart.
    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = http.get(format!("{base}/ready/")).send().await.expect("ready");
        if ready.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "/ready/ did not recover: {}", ready.status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every acknowledged report is stored: before the outage, and the last one of each chain,
    // acknowledged as the outage began.
    let current = month_start(0);
    let mut total = 0;
    for (resource, log) in resources.iter().zip(&logs) {
        let last_month = stored(&staff, resource, &previous).await;
        if last_month != before.get(resource).copied() {
            problems.push(format!(
                "{resource} {previous}: stored {last_month:?}, acknowledged {:?}",
                before[resource]
            ));
        }
        total += last_month.unwrap_or(0);
        let now = stored(&staff, resource, &current).await;
        let fine = match (now, log.acked) {
            (Some(s), Some(a)) => s == a || log.in_doubt.contains(&s),
            (Some(s), None) => log.in_doubt.contains(&s),
            (None, acked) => acked.is_none(),
        };
        if !fine {
            problems.push(format!("{resource} {current}: stored {now:?} after {log:?}"));
        }
        total += now.unwrap_or(0);
    }
    assert_eq!(
        staff.status_usage(&policy).await,
        total,
        "the totals agree with the stored rows"
    );

    // And reports go on being taken and enforced: the last one crosses the limit and fires.
    for (i, resource) in resources.iter().enumerate() {
        let amount = 50_000_000 * (i as i64 + 1);
        m.provider
            .try_set_usage(resource, &[("cpu_hours", &decimal(amount))], None)
            .await
            .expect("a report after the outage")
            .expect(201);
        assert_eq!(stored(&staff, resource, &current).await, Some(amount));
    }
    assert_eq!(staff.policy(&policy).await["has_fired"], true);

    eprintln!(
        "outage: {acked_before_stop} reports acknowledged before the stop, {acked_in_all} in all; \
         answered otherwise since each chain's last acknowledgement: {:?}",
        logs.iter().map(|l| l.in_doubt.len()).collect::<Vec<_>>()
    );
    assert!(problems.is_empty(), "during the outage:\n{}", problems.join("\n"));
    env.finish().await;
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_while_its_database_is_down() {
    let cluster = Cluster::create();
    let mut env = Env::on_database(cluster.url());
    env.server_env("METERGUARD_DB_ACQUIRE_TIMEOUT_SECONDS", "1");
    env.create_staff_user("staff").await;
    let base = env.start_server().await;
    cluster.stop();
    // Long enough for the scheduler and the delivery worker to fail and wait to be restarted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = env.terminate_server(&base, Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: the server exits cleanly within 15 s ({status:?})"
    );
    env.finish().await;
}
