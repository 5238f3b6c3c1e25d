//! Hostile inputs at the HTTP edge: made-up methods and paths against /metrics, slow clients
//! against the time limits and the connection cap, `//host` redirects, and secrets that must not
//! reach `--help` or the logs. Those about the binary run it as a child process.

use crate::api_test;
use crate::helpers::{database_url, spawn_app_with, Backend};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BINARY: &str = env!("CARGO_BIN_EXE_meterguard");

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1, for clients slower or stranger than reqwest lets one be
// ---------------------------------------------------------------------------------------------

async fn connect(address: &str) -> TcpStream {
    TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// A response read off a raw connection.
struct RawReply {
    status: u16,
    head: String,
    body: Value,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Reads one response (head, then a Content-Length body), or None if the server closed the
/// connection first or `within` passed.
async fn read_reply(stream: &mut TcpStream, within: Duration) -> Option<RawReply> {
    tokio::time::timeout(within, async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_string();
                let status = head.split(' ').nth(1)?.parse().ok()?;
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_string())
                    })
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if got.len() >= end + 4 + length {
                    let body = &got[end + 4..end + 4 + length];
                    let body = serde_json::from_slice(body).unwrap_or(Value::Null);
                    return Some(RawReply { status, head, body });
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// How long the server took to close the connection (reading and dropping whatever it sent), or
/// None if it was still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
    .ok()?;
    Some(started.elapsed())
}

/// Writes `chunks` one at a time, `every` apart, until they run out or the server closes.
fn trickle(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    chunks: Vec<Vec<u8>>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for chunk in chunks {
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
        // Keep the connection open: only the server may end it.
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
}

fn login_head(content_length: usize) -> String {
    format!(
        "POST /api-auth/password/ HTTP/1.1\r\nHost: meterguard\r\nContent-Type: application/json\r\n\
         Content-Length: {content_length}\r\n\r\n"
    )
}

// ---------------------------------------------------------------------------------------------
// Finding 2: /metrics grows by one series per made-up method
// ---------------------------------------------------------------------------------------------

/// The value of the request counter for exactly these labels, if it has a series.
fn requests_counted(metrics: &str, method: &str, route: &str, status: u16) -> Option<f64> {
    let series =
        format!("meterguard_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
}

api_test!(
    async fn made_up_methods_and_paths_add_no_metric_series(app) {
        // Unique to this test, so other tests sharing the process-wide recorder cannot interfere.
        let tag = uuid::Uuid::new_v4().simple().to_string();
        for i in 0..25 {
            let method = Method::from_bytes(format!("ZZ{i}X{}", &tag[..8]).as_bytes()).expect("method");
            let reply = app.call(method.clone(), "/health/", None, None).await;
            assert_eq!(reply.status, 405, "{method} /health/: {}", reply.body);
            assert_eq!(reply.body, json!({"detail": format!("Method \"{method}\" not allowed.")}));
            let reply = app.call(method, &format!("/probe-{tag}-{i}/"), None, None).await;
            assert_eq!(reply.status, 404);
            app.get(&format!("/api/no-such-thing-{tag}-{i}/"), app.staff()).await.expect(404);
        }
        let reply = app.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(reply.status, 200);
        let metrics = reply.body.as_str().expect("metrics text").to_string();
        let series: Vec<&str> = metrics.lines().filter(|l| l.contains(&tag[..8])).collect();
        assert!(
            series.is_empty(),
            "{} client-made series in /metrics, such as {:?}",
            series.len(),
            &series[..series.len().min(3)]
        );
        let other = requests_counted(&metrics, "OTHER", "/health/", 405).unwrap_or_default();
        assert!(other >= 25.0, "made-up methods counted as OTHER: {other}");
        let unmatched = requests_counted(&metrics, "OTHER", "unmatched", 404).unwrap_or_default();
        assert!(unmatched >= 25.0, "unmatched paths under one route label: {unmatched}");
        let unmatched_get = requests_counted(&metrics, "GET", "unmatched", 404).unwrap_or_default();
        assert!(unmatched_get >= 25.0, "unmatched GETs under one route label: {unmatched_get}");
    }
);

// ---------------------------------------------------------------------------------------------
// Finding 7: slow clients and too many connections
// ---------------------------------------------------------------------------------------------

api_test!(
    backend,
    async fn trickled_headers_get_the_connection_closed(backend) {
        let app = spawn_app_with(backend, |s| s.http.header_timeout_ms = 400).await;
        // A header line every 100 ms, for 6 s, never ending the head.
        let stream = connect(&app.address).await;
        let (mut reader, writer) = stream.into_split();
        let mut chunks = vec![b"GET /health/ HTTP/1.1\r\n".to_vec()];
        chunks.extend((0..60).map(|i| format!("X-Slow-{i}: a\r\n").into_bytes()));
        let writer = trickle(writer, chunks, Duration::from_millis(100));
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        let closed = tokio::time::timeout(Duration::from_secs(3), reader.read(&mut buf)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "a trickled head kept its connection for 3 s: {closed:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(300), "closed before the timeout");
        writer.abort();

        // A connection that sends nothing at all goes the same way.
        let mut silent = connect(&app.address).await;
        let took = closed_within(&mut silent, Duration::from_secs(3)).await;
        assert!(took.is_some(), "a silent connection was kept for 3 s");

        // And the server still answers a client that sends its request at once.
        app.call(Method::GET, "/health/", None, None).await.expect(200);
    }
);

api_test!(
    backend,
    async fn a_trickled_body_is_cut_off(backend) {
        let app = spawn_app_with(backend, |s| s.http.body_timeout_ms = 300).await;
        // The head and a third of the body, then nothing: the body read times out.
        let body = br#"{"username": "staff", "password": "staff-password"}"#;
        let mut stream = connect(&app.address).await;
        stream.write_all(login_head(body.len()).as_bytes()).await.expect("write");
        stream.write_all(&body[..15]).await.expect("write");
        let started = Instant::now();
        let reply = read_reply(&mut stream, Duration::from_secs(3))
            .await
            .expect("an answer within 3 s");
        assert_eq!(reply.status, 408, "{}", reply.head);
        assert_eq!(reply.body, json!({"detail": "The request body was not received in time."}));
        assert!(started.elapsed() >= Duration::from_millis(250), "answered before the timeout");

        // The same body sent at once logs in.
        let mut stream = connect(&app.address).await;
        stream.write_all(login_head(body.len()).as_bytes()).await.expect("write");
        stream.write_all(body).await.expect("write");
        let reply = read_reply(&mut stream, Duration::from_secs(5)).await.expect("answer");
        assert_eq!(reply.status, 200, "{}", reply.head);
        assert!(reply.body["token"].is_string(), "{}", reply.body);
    }
);

api_test!(
    backend,
    async fn a_request_past_the_whole_request_limit_answers(backend) {
        let app = spawn_app_with(backend, |s| {
            // Far apart, so a stalled write on a loaded machine is not taken for a paused body.
            s.http.body_timeout_ms = 2_000;
            s.http.request_timeout_ms = 1_200;
        })
        .await;
        // One body byte every 100 ms: never a pause the body timeout catches, but 5 s in all.
        let body = br#"{"username": "staff", "password": "staff-password"}"#;
        let stream = connect(&app.address).await;
        let (mut reader, mut writer) = stream.into_split();
        writer.write_all(login_head(body.len()).as_bytes()).await.expect("write");
        let writer = trickle(writer, body.iter().map(|b| vec![*b]).collect(), Duration::from_millis(100));
        let started = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(6), async {
            while !String::from_utf8_lossy(&got).contains("not completed in time") {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        writer.abort();
        let text = String::from_utf8_lossy(&got);
        assert!(read.is_ok(), "no answer within 6 s: {text}");
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(
            text.ends_with(r#"{"detail":"The request was not completed in time."}"#),
            "{text}"
        );
        assert!(started.elapsed() >= Duration::from_millis(1_100), "answered before the limit");
    }
);

api_test!(
    backend,
    async fn connections_beyond_the_cap_wait_for_a_free_one(backend) {
        let app = spawn_app_with(backend, |s| s.http.max_connections = 2).await;
        // Two clients that connect and say nothing hold both connections.
        let first = connect(&app.address).await;
        let second = connect(&app.address).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let address = app.address.clone();
        let third = tokio::spawn(async move {
            let reply = reqwest::Client::new()
                .get(format!("{address}/health/"))
                .send()
                .await
                .expect("request");
            (reply.status(), Instant::now())
        });
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!third.is_finished(), "a third connection was served beyond the cap of 2");
        let freed = Instant::now();
        drop(first);
        let (status, answered) = tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("served once a connection closed")
            .expect("task");
        assert_eq!(status, 200);
        assert!(answered >= freed);
        drop(second);
    }
);

// ---------------------------------------------------------------------------------------------
// Finding 8: `GET //evil.example` redirected to another host
// ---------------------------------------------------------------------------------------------

/// A Location that a browser resolves against this server's origin.
fn same_origin(location: &str) -> bool {
    location.starts_with('/') && !location.starts_with("//") && !location.starts_with("/\\")
}

api_test!(
    async fn double_slash_paths_never_redirect_to_another_host(app) {
        for path in ["//evil.example", "///evil.example", "//evil.example/x?next=1"] {
            let reply = app.call(Method::GET, path, None, None).await;
            assert_eq!(reply.status, 301, "{path}");
            let location = reply.header("location").expect("location");
            assert!(same_origin(&location), "{path} redirected to {location}");
        }
        let reply = app.call(Method::GET, "//evil.example", None, None).await;
        assert_eq!(reply.header("location").as_deref(), Some("/%2Fevil.example/"));
        // Followed, it stays here and finds nothing.
        app.call(Method::GET, "/%2Fevil.example/", None, None).await.expect(404);

        // Browsers read a backslash as a slash; reqwest would too, so this one goes raw.
        let mut stream = connect(&app.address).await;
        let request = "GET /\\evil.example HTTP/1.1\r\nHost: meterguard\r\n\r\n";
        stream.write_all(request.as_bytes()).await.expect("write");
        let reply = read_reply(&mut stream, Duration::from_secs(5)).await.expect("answer");
        if reply.status == 301 {
            let location = reply.header("location").unwrap_or_default();
            assert!(same_origin(location), "/\\evil.example redirected to {location}");
        }

        // Ordinary slash-less paths still get their slash, query kept.
        let reply = app.call(Method::GET, "/api/customers?page=2", None, None).await;
        assert_eq!(reply.status, 301);
        assert_eq!(reply.header("location").as_deref(), Some("/api/customers/?page=2"));
    }
);

// ---------------------------------------------------------------------------------------------
// An answer before the body was read says the connection closes
// ---------------------------------------------------------------------------------------------

api_test!(
    async fn an_answer_before_the_body_was_read_closes_the_connection_and_says_so(app) {
        let body = format!("{{\"name\": \"{}\"}}", "x".repeat(50_000));
        let post = |token: Option<&str>| {
            let auth = token.map(|t| format!("Authorization: Token {t}\r\n")).unwrap_or_default();
            format!(
                "POST /api/customers/ HTTP/1.1\r\nHost: meterguard\r\nContent-Type: application/json\r\n\
                 {auth}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        };

        // No token: refused from the headers, the body never read.
        let mut stream = connect(&app.address).await;
        stream.write_all(post(None).as_bytes()).await.expect("write");
        let reply = read_reply(&mut stream, Duration::from_secs(5)).await.expect("answer");
        assert_eq!(reply.status, 401);
        assert_eq!(reply.header("connection"), Some("close"), "{}", reply.head);
        assert!(closed_within(&mut stream, Duration::from_secs(5)).await.is_some());

        // A request whose body was read keeps its connection for the next one.
        let mut stream = connect(&app.address).await;
        stream.write_all(post(Some(&app.staff_token)).as_bytes()).await.expect("write");
        let reply = read_reply(&mut stream, Duration::from_secs(5)).await.expect("answer");
        assert_eq!(reply.status, 400, "{:?}", reply.body);
        assert_eq!(reply.header("connection"), None, "{}", reply.head);
        stream
            .write_all(b"GET /health/ HTTP/1.1\r\nHost: meterguard\r\n\r\n")
            .await
            .expect("write");
        let reply = read_reply(&mut stream, Duration::from_secs(5)).await.expect("second answer");
        assert_eq!(reply.status, 200);
        // A request without a body keeps its connection too.
        assert_eq!(reply.header("connection"), None, "{}", reply.head);
        stream
            .write_all(b"GET /health/ HTTP/1.1\r\nHost: meterguard\r\n\r\n")
            .await
            .expect("write");
        let reply = read_reply(&mut stream, Duration::from_secs(5)).await.expect("third answer");
        assert_eq!(reply.status, 200);
    }
);

// ---------------------------------------------------------------------------------------------
// The binary: --help, the webhook secret, logs, SIGTERM
// ---------------------------------------------------------------------------------------------

/// A `meterguard` command with none of the caller's METERGUARD_* or DATABASE_URL variables.
fn command() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BINARY);
    for (key, _) in std::env::vars_os() {
        if key
            .to_str()
            .is_some_and(|k| k.starts_with("METERGUARD_") || k == "DATABASE_URL" || k == "RUST_LOG")
        {
            command.env_remove(key);
        }
    }
    command.env("NO_COLOR", "1").kill_on_drop(true);
    command
}

#[tokio::test]
async fn help_prints_no_environment_values() {
    let secrets = [
        (
            "DATABASE_URL",
            "postgres://meterguard:db-password-3141@db.example/meterguard",
            "db-password-3141",
        ),
        (
            "METERGUARD_WEBHOOK_SECRET",
            "webhook-secret-2718",
            "webhook-secret-2718",
        ),
        (
            "METERGUARD_WEBHOOK_URLS",
            "https://hooks.example/in?key=hook-key-1618",
            "hook-key-1618",
        ),
        (
            "METERGUARD_SMTP_URL",
            "smtp://mailer:smtp-password-1414@mail.example:587",
            "smtp-password-1414",
        ),
    ];
    for subcommand in ["serve", "migrate", "create-staff-user"] {
        let mut command = command();
        command.args([subcommand, "--help"]);
        for (name, value, _) in secrets {
            command.env(name, value);
        }
        let output = command.output().await.expect("run --help");
        assert!(output.status.success(), "{subcommand} --help: {output:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        // The variables are still named, so the help stays useful.
        assert!(help.contains("[env: DATABASE_URL"), "{subcommand} --help:\n{help}");
        for (name, _, secret) in secrets {
            assert!(!help.contains(secret), "{subcommand} --help shows {name}:\n{help}");
        }
    }
}

#[tokio::test]
async fn serve_refuses_webhooks_without_a_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}", dir.path().join("meterguard.db").display());
    for secret in [None, Some(""), Some("  ")] {
        let mut command = command();
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", &database)
            .env("METERGUARD_WEBHOOK_URLS", "http://127.0.0.1:9/hook");
        if let Some(secret) = secret {
            command.env("METERGUARD_WEBHOOK_SECRET", secret);
        }
        let output = tokio::time::timeout(Duration::from_secs(30), command.output())
            .await
            .unwrap_or_else(|_| panic!("serve with webhooks and secret {secret:?} kept running"))
            .expect("run serve");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "secret {secret:?}: {output:?}");
        assert!(
            stderr.contains("METERGUARD_WEBHOOK_SECRET is empty"),
            "secret {secret:?}, no reason given: {stderr}"
        );
    }
}

api_test!(
    backend,
    async fn the_app_refuses_webhooks_without_a_secret(backend) {
        let (url, _dir) = database_url(backend).await;
        let mut settings = crate::helpers::settings(url);
        settings.webhook_urls = vec!["http://127.0.0.1:9/hook".into()];
        settings.webhook_secret = String::new();
        let clock = meterguard::clock::Clock::System;
        let refused = meterguard::startup::Application::build(settings.clone(), clock.clone()).await;
        let err = refused.err().expect("built without a webhook secret");
        assert!(err.to_string().contains("METERGUARD_WEBHOOK_SECRET"), "{err}");
        settings.webhook_secret = "a-secret".into();
        meterguard::startup::Application::build(settings, clock)
            .await
            .expect("built with a webhook secret");
    }
);

/// A `meterguard serve` child on a port of its own choosing, its output in a log file.
struct Served {
    child: tokio::process::Child,
    log: PathBuf,
    address: String,
}

/// A database of the test's own with a staff user made by `create-staff-user`, and a directory
/// for the logs of the servers started on it.
struct Installation {
    database: String,
    token: String,
    logs: tempfile::TempDir,
    _sqlite: Option<tempfile::TempDir>,
}

impl Installation {
    async fn new(backend: Backend) -> Self {
        let (database, sqlite) = database_url(backend).await;
        let output = command()
            .args(["create-staff-user", "--username", "admin"])
            .env("DATABASE_URL", &database)
            .env("METERGUARD_PASSWORD", "admin-password-1234")
            .output()
            .await
            .expect("run create-staff-user");
        assert!(output.status.success(), "create-staff-user: {output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let token = stdout.lines().last().unwrap_or_default().trim().to_string();
        assert_eq!(token.len(), 40, "no token on the last line: {stdout}");
        Self {
            database,
            token,
            logs: tempfile::tempdir().expect("temp dir"),
            _sqlite: sqlite,
        }
    }

    /// Starts `serve --listen 127.0.0.1:0` and waits for the address it logs.
    async fn serve(&self, envs: &[(&str, &str)]) -> Served {
        let log = self
            .logs
            .path()
            .join(format!("serve-{}.log", uuid::Uuid::new_v4().simple()));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", &self.database)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn serve");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let port = text
                .lines()
                .filter(|l| l.contains("meterguard listening"))
                .find_map(|l| l.split("127.0.0.1:").nth(1))
                .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect::<String>());
            if let Some(port) = port.filter(|p| !p.is_empty()) {
                let address = format!("http://127.0.0.1:{port}");
                return Served { child, log, address };
            }
            assert!(Instant::now() < deadline, "serve did not start:\n{text}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

api_test!(
    backend,
    async fn logged_requests_show_no_query_values(backend) {
        let installation = Installation::new(backend).await;
        let token = &installation.token;
        for format in ["text", "json"] {
            // Debug everywhere: whatever logs a request, its query values must not show.
            let mut served = installation
                .serve(&[("RUST_LOG", "debug"), ("METERGUARD_LOG_FORMAT", format)])
                .await;
            let http = reqwest::Client::new();
            let url = format!("{}/api/users/?x-auth-token={token}&username=admin", served.address);
            let reply = http.get(&url).send().await.expect("request");
            assert_eq!(reply.status(), 200, "the query's token authenticates");
            let url = format!("{}/api/no-such-thing/?x-auth-token={token}", served.address);
            assert_eq!(http.get(&url).send().await.expect("request").status(), 404);
            // The request's span closes after its response is sent.
            tokio::time::sleep(Duration::from_millis(300)).await;
            served.child.kill().await.expect("kill");
            let log = std::fs::read_to_string(&served.log).expect("log");
            assert!(
                log.contains("/api/users/?x-auth-token=[redacted]&username=[redacted]"),
                "{format} log has no line for the request:\n{log}"
            );
            assert!(!log.contains(token), "{format} log shows the token:\n{log}");
        }
    }
);

api_test!(
    backend,
    async fn sigterm_finishes_requests_in_flight(backend) {
        let installation = Installation::new(backend).await;
        let token = &installation.token;
        let mut served = installation.serve(&[]).await;
        let address = served.address.clone();

        // A request whose body is half sent, and an idle keep-alive connection.
        let body = br#"{"name": "Sent across a shutdown"}"#;
        let mut in_flight = connect(&address).await;
        let head = format!(
            "POST /api/customers/ HTTP/1.1\r\nHost: meterguard\r\nAuthorization: Token {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        in_flight.write_all(head.as_bytes()).await.expect("write");
        in_flight.write_all(&body[..10]).await.expect("write");
        let mut idle = connect(&address).await;
        idle.write_all(b"GET /health/ HTTP/1.1\r\nHost: meterguard\r\n\r\n")
            .await
            .expect("write");
        let reply = read_reply(&mut idle, Duration::from_secs(5)).await.expect("answer");
        assert_eq!(reply.status, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;

        let pid = served.child.id().expect("pid").to_string();
        let killed = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill");
        assert!(killed.success());

        // The idle connection is closed, and no new connection is taken...
        assert!(
            closed_within(&mut idle, Duration::from_secs(5)).await.is_some(),
            "an idle connection outlived the shutdown"
        );
        let refused = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(address.trim_start_matches("http://"))).await;
        assert!(matches!(refused, Ok(Err(_))), "a new connection after SIGTERM: {refused:?}");

        // ...while the request in flight is finished and answered.
        in_flight.write_all(&body[10..]).await.expect("write");
        let reply = read_reply(&mut in_flight, Duration::from_secs(5))
            .await
            .expect("the request in flight answered");
        assert_eq!(reply.status, 201, "{}", reply.head);
        assert_eq!(reply.body["name"], "Sent across a shutdown");
        let exited = tokio::time::timeout(Duration::from_secs(15), served.child.wait())
            .await
            .expect("exited after SIGTERM")
            .expect("wait");
        let log = std::fs::read_to_string(&served.log).unwrap_or_default();
        assert!(exited.success(), "{exited:?}\n{log}");
    }
);
