//! Real `meterguard` processes for the tests: a fresh database per test, servers started as child
//! processes on free ports with their logs in files, and everything killed when the test ends.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_meterguard");

/// How long a server may take to answer `/health/` (it migrates the database first).
const START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The test's database: a SQLite file in the temp dir, or a PostgreSQL database of its own.
struct Database {
    url: String,
    /// (admin URL, database name) for PostgreSQL, to drop it after a passing test.
    postgres: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn pg_admin_url() -> String {
    std::env::var("METERGUARD_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn pg_admin_execute(admin: &str, statement: &str) -> sqlx::Result<()> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await?;
    sqlx::query(statement).execute(&mut conn).await?;
    sqlx::Connection::close(conn).await
}

impl Database {
    async fn create(backend: Backend, dir: &Path) -> Self {
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", dir.join("meterguard.db").display()),
                postgres: None,
            },
            Backend::Postgres => {
                let admin = pg_admin_url();
                let name = format!(
                    "mg_test_proc_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    uuid::Uuid::new_v4().simple()
                );
                pg_admin_execute(&admin, &format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create a database (PostgreSQL for tests: METERGUARD_TEST_PG_URL)");
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .unwrap_or(admin.clone());
                Self {
                    url: format!("{base}/{name}"),
                    postgres: Some((admin, name)),
                }
            }
        }
    }
}

/// One `meterguard serve` child. Dropping it kills the process (SIGKILL) and reaps it.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything one test runs on. When the test panics, the temp dir (database file, server logs)
/// is kept and the logs' tails are printed, so a failure can be investigated after the fact.
pub struct Env {
    dir: Option<tempfile::TempDir>,
    database: Database,
    servers: Vec<Server>,
    logs: Vec<PathBuf>,
    /// Variables every server started from now on gets (SMTP, webhooks, delivery timing...).
    server_env: Vec<(String, String)>,
}

impl Env {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("meterguard-processes-")
            .tempdir()
            .expect("temp dir");
        let database = Database::create(backend, dir.path()).await;
        Self {
            dir: Some(dir),
            database,
            servers: Vec::new(),
            logs: Vec::new(),
            server_env: Vec::new(),
        }
    }

    /// On a database the test provides (a PostgreSQL cluster of its own), left as it is at the end.
    pub fn on_database(url: String) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("meterguard-processes-")
            .tempdir()
            .expect("temp dir");
        Self {
            dir: Some(dir),
            database: Database { url, postgres: None },
            servers: Vec::new(),
            logs: Vec::new(),
            server_env: Vec::new(),
        }
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("temp dir").path()
    }

    /// A `meterguard` command with a clean environment: no METERGUARD_* or DATABASE_URL from the
    /// caller's shell can change what the test runs against.
    fn command(&self) -> Command {
        let mut command = Command::new(BINARY);
        for (key, _) in std::env::vars_os() {
            if key
                .to_str()
                .is_some_and(|k| k.starts_with("METERGUARD_") || k == "DATABASE_URL")
            {
                command.env_remove(key);
            }
        }
        command.env("DATABASE_URL", &self.database.url);
        // Plain log files: no colour codes, and no backtrace under every logged error.
        command.env("NO_COLOR", "1").env("RUST_LIB_BACKTRACE", "0");
        command
    }

    /// Runs `meterguard create-staff-user` (which also migrates) and returns the printed token.
    pub async fn create_staff_user(&self, username: &str) -> String {
        let mut command = self.command();
        command
            .args(["create-staff-user", "--username", username])
            .env("METERGUARD_PASSWORD", "staff-password-1234");
        let output = tokio::process::Command::from(command)
            .output()
            .await
            .expect("run create-staff-user");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "create-staff-user failed: {}\nstdout: {stdout}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let token = stdout.lines().last().unwrap_or_default().trim().to_string();
        assert!(
            token.len() == 40 && token.chars().all(|c| c.is_ascii_hexdigit()),
            "no token on the last line: {stdout}"
        );
        token
    }

    /// Sets an environment variable for every server started after this (a restart included).
    pub fn server_env(&mut self, key: &str, value: impl Into<String>) {
        self.server_env.push((key.to_string(), value.into()));
    }

    /// Starts `meterguard serve` on a free port and waits until `/health/` answers; returns its
    /// base URL. The port is found by binding port 0 and releasing it, so another process may
    /// take it in between: a server that exits before it answers is retried on a new port.
    pub async fn start_server(&mut self) -> String {
        for _attempt in 0..3 {
            let port = free_port();
            let log = self.dir().join(format!("server-{}.log", self.logs.len() + 1));
            let out = File::create(&log).expect("log file");
            let err = out.try_clone().expect("log file");
            self.logs.push(log.clone());
            let child = self
                .command()
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .envs(self.server_env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("spawn meterguard serve");
            let mut server = Server {
                child,
                base: format!("http://127.0.0.1:{port}"),
            };
            if wait_until_healthy(&mut server).await {
                let base = server.base.clone();
                self.servers.push(server);
                return base;
            }
            eprintln!("server on port {port} exited before it answered:\n{}", tail(&log, 20));
        }
        panic!("meterguard serve did not start; logs in {}", self.dir().display());
    }

    /// Kills the server at `base` with SIGKILL (no graceful shutdown) and reaps it.
    pub fn kill_server(&mut self, base: &str) {
        let server = self
            .servers
            .iter_mut()
            .find(|s| s.base == base)
            .expect("a running server");
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reap");
    }

    /// Sends SIGTERM to the server at `base` and waits up to `limit` for it to exit; returns its
    /// exit status, or None if it was still running (then it is killed when the env ends).
    pub async fn terminate_server(&mut self, base: &str, limit: Duration) -> Option<std::process::ExitStatus> {
        let server = self
            .servers
            .iter_mut()
            .find(|s| s.base == base)
            .expect("a running server");
        let pid = server.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = server.child.try_wait().expect("child status") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }

    /// Ends a passing test: stops the servers and drops the PostgreSQL database (a failing test
    /// leaves both for inspection, see `Drop`).
    pub async fn finish(mut self) {
        self.servers.clear();
        if let Some((admin, name)) = &self.database.postgres {
            if let Err(e) = pg_admin_execute(admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await {
                eprintln!("could not drop {name}: {e}");
            }
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.servers.clear();
        if std::thread::panicking() {
            let dir = self.dir.take().expect("temp dir").keep();
            eprintln!("kept {} (database: {})", dir.display(), self.database.url);
            for log in &self.logs {
                eprintln!("---- {}\n{}", log.display(), summary(log));
            }
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("address").port()
}

/// Polls `/health/` until it answers 200 (true) or the process exits (false).
async fn wait_until_healthy(server: &mut Server) -> bool {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let url = format!("{}/health/", server.base);
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if server.child.try_wait().expect("child status").is_some() {
            return false;
        }
        if http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} did not answer /health/ within {START_TIMEOUT:?}", server.base);
}

fn read(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    text
}

fn tail(path: &Path, lines: usize) -> String {
    let text = read(path);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A failed test's view of a server log: how many errors, the first few, and the last lines.
fn summary(path: &Path) -> String {
    let text = read(path);
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(" ERROR ")).collect();
    let first: Vec<&str> = errors.iter().take(6).copied().collect();
    format!(
        "{} ERROR lines; the first ones:\n{}\nlast lines:\n{}",
        errors.len(),
        first.join("\n"),
        tail(path, 12)
    )
}
