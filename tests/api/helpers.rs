//! `spawn_app()`: a real meterguard server on a random port with its own database, and a small
//! typed client for it.

use meterguard::clock::Clock;
use meterguard::config::{DatabaseSettings, HttpLimits, LogFormat, Settings};
use meterguard::domain::user::UserFields;
use meterguard::faults::Faults;
use meterguard::service;
use meterguard::startup::Application;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Defines one API test, run once per storage backend: `api_test!(async fn name(app) { ... })`.
/// With `clock = <RFC 3339 instant>,` first, the app runs on a manual clock starting there; with
/// `backend,` first, the test gets the backend and spawns its own app.
#[macro_export]
macro_rules! api_test {
    (clock = $start:expr, async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::spawn_app_at($crate::helpers::Backend::Sqlite, $start).await).await
            }

            #[tokio::test]
            async fn postgres() {
                run($crate::helpers::spawn_app_at($crate::helpers::Backend::Postgres, $start).await).await
            }
        }
    };
    (backend, async fn $name:ident($backend:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($backend: $crate::helpers::Backend) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test]
            async fn postgres() {
                run($crate::helpers::Backend::Postgres).await
            }
        }
    };
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(#[$meta])*
            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await).await
            }

            #[tokio::test]
            async fn postgres() {
                run($crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await).await
            }
        }
    };
}

pub struct TestApp {
    pub address: String,
    /// The app's clock: the system's, or a manual one the test moves.
    pub clock: Clock,
    pub staff_token: String,
    pub http: reqwest::Client,
    /// Faults the test arms in the running app (`meterguard::faults`).
    pub faults: Faults,
    /// The app's database, for tests that look at it directly.
    pub database_url: String,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh database name or file for each test, so no test depends on another's leftovers.
pub async fn database_url(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("meterguard.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            let admin = std::env::var("METERGUARD_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let name = format!(
                "mg_test_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed),
                uuid::Uuid::new_v4().simple()
            );
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                .await
                .expect("PostgreSQL for tests (METERGUARD_TEST_PG_URL)");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin);
            (format!("{base}/{name}"), None)
        }
    }
}

pub fn settings(database_url: String) -> Settings {
    Settings {
        database: DatabaseSettings::new(database_url),
        listen: "127.0.0.1:0".parse().expect("address"),
        http: HttpLimits::default(),
        public_url: None,
        trust_proxy_headers: false,
        smtp_url: None,
        email_from: "meterguard@localhost".into(),
        sweep_seconds: 600,
        log_format: LogFormat::Text,
        webhook_urls: vec![],
        webhook_secret: "test-secret".into(),
        delivery_max_attempts: 3,
        delivery_backoff_ms: 50,
        delivery_lease_seconds: 60,
        max_body_bytes: 64 * 1024,
        login_max_failures: 4,
        login_lockout_seconds: 600,
        token_lifetime_seconds: 3600,
        retention_interval_seconds: 3600,
        event_retention_days: None,
        faults: Faults::default(),
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn(backend, Clock::System, |_| {}).await
}

/// An app with settings of the test's choosing (SMTP, webhooks...).
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(backend, Clock::System, configure).await
}

/// An app whose clock starts at `start` (RFC 3339) and moves only when the test moves it.
pub async fn spawn_app_at(backend: Backend, start: &str) -> TestApp {
    spawn_app_at_with(backend, start, |_| {}).await
}

/// An app on a manual clock, with settings of the test's choosing.
pub async fn spawn_app_at_with(backend: Backend, start: &str, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let start = chrono::DateTime::parse_from_rfc3339(start)
        .expect("start instant")
        .with_timezone(&chrono::Utc);
    spawn(backend, Clock::manual(start), configure).await
}

async fn spawn(backend: Backend, clock: Clock, configure: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        meterguard::telemetry::init(LogFormat::Text);
    }
    let (url, dir) = database_url(backend).await;
    let mut settings = settings(url.clone());
    configure(&mut settings);
    let faults = settings.faults.clone();
    let app = Application::build(settings, clock.clone()).await.expect("build app");
    let port = app.port();
    let db = app.state().db.clone();
    let staff = UserFields {
        username: "staff".into(),
        email: "staff@example.org".into(),
        first_name: "Stella".into(),
        last_name: "Staff".into(),
        is_staff: true,
        is_active: true,
        ..Default::default()
    };
    let now = clock.now_micros();
    let id = service::users::create(&db, &staff, Some("staff-password"), now)
        .await
        .expect("staff user");
    let staff_token = service::users::issue_token(&db, id, now).await.expect("staff token");
    tokio::spawn(app.run(std::future::pending()));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        clock,
        staff_token,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        faults,
        database_url: url,
        _dir: dir,
    }
}

/// A response read once: status, headers and JSON body (Null when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    async fn read(r: Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Self { status, headers, body }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self.body
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.address)
        }
    }

    /// Sends a request as the holder of `token` (`None`: anonymous).
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Token {t}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::read(req.send().await.expect("request")).await
    }

    /// Sends raw bytes with a content type of the caller's choosing.
    pub async fn call_raw(&self, method: Method, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let req = self
            .http
            .request(method, self.url(path))
            .header("Authorization", format!("Token {token}"))
            .header("Content-Type", content_type)
            .body(body);
        Reply::read(req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Sends the requests at once, each as the holder of its token: (status, body) of each, in
    /// the order given.
    pub async fn together(&self, requests: Vec<(Method, String, String, Value)>) -> Vec<(u16, Value)> {
        let mut sent = tokio::task::JoinSet::new();
        for (i, (method, path, token, body)) in requests.into_iter().enumerate() {
            let (http, url) = (self.http.clone(), self.url(&path));
            sent.spawn(async move {
                let response = http
                    .request(method, url)
                    .header("Authorization", format!("Token {token}"))
                    .json(&body)
                    .send()
                    .await
                    .expect("an answer");
                let status = response.status().as_u16();
                (i, status, response.json().await.unwrap_or(Value::Null))
            });
        }
        let mut answers = sent.join_all().await;
        answers.sort_by_key(|&(i, _, _)| i);
        answers.into_iter().map(|(_, status, body)| (status, body)).collect()
    }

    pub fn staff(&self) -> &str {
        &self.staff_token
    }

    /// Creates a user through the API and logs in as it; returns (uuid, token).
    pub async fn user(&self, username: &str) -> (String, String) {
        let body = json!({"username": username, "email": format!("{username}@example.org"),
                          "first_name": username, "last_name": "Tester"});
        let user = self.post("/api/users/", self.staff(), body).await.expect(201);
        let uuid = user["uuid"].as_str().expect("uuid").to_string();
        let path = format!("/api/users/{uuid}/change_password/");
        self.post(&path, self.staff(), json!({"new_password": "pass-1234"}))
            .await
            .expect(200);
        let login = json!({"username": username, "password": "pass-1234"});
        let token = self
            .call(Method::POST, "/api-auth/password/", None, Some(login))
            .await
            .expect(200);
        (uuid, token["token"].as_str().expect("token").to_string())
    }

    pub async fn customer(&self, name: &str) -> Value {
        self.post("/api/customers/", self.staff(), json!({"name": name}))
            .await
            .expect(201)
    }

    pub async fn project(&self, customer_url: &str, name: &str) -> Value {
        let body = json!({"customer": customer_url, "name": name});
        self.post("/api/projects/", self.staff(), body).await.expect(201)
    }

    pub async fn grant(&self, scope: &str, scope_uuid: &str, user_uuid: &str, role: &str) {
        let path = format!("/api/{scope}/{scope_uuid}/add_user/");
        self.post(&path, self.staff(), json!({"user": user_uuid, "role": role}))
            .await
            .expect(201);
    }
}

/// A uuid's hyphenated form (`8-4-4-4-12`), as clients may send it and some messages spell it.
pub fn hyphenate(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
