//! Settings come from environment variables, each also a `serve` flag.

use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// `sqlite://path` (created if missing) or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://meterguard.db")]
    pub database_url: String,

    /// Connections this instance opens to PostgreSQL, or SQLite readers (SQLite has one writer
    /// besides).
    #[arg(
        long,
        env = "METERGUARD_DB_MAX_CONNECTIONS",
        default_value_t = DatabaseSettings::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections: u32,

    /// How long a request waits for a PostgreSQL connection (the database unreachable, or every
    /// connection busy) before it answers 503.
    #[arg(
        long,
        env = "METERGUARD_DB_ACQUIRE_TIMEOUT_SECONDS",
        default_value_t = DatabaseSettings::DEFAULT_ACQUIRE_TIMEOUT_SECONDS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub acquire_timeout_seconds: u64,
}

impl DatabaseSettings {
    /// On a 2-core machine, 16 PostgreSQL connections doubled the p99 of list pages (13.7-16.0 ms
    /// against 8.0-10.5 ms with 4 or 8) and of usage reports (16.9-21.9 ms against 13.1-13.9 ms
    /// with 8) for the same throughput: more backends than cores only queue for the CPU.
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

    /// Long enough that only an overload or an outage reaches it; short enough that a client
    /// hears 503 while the database is down rather than timing out itself.
    pub const DEFAULT_ACQUIRE_TIMEOUT_SECONDS: u64 = 5;

    pub fn new(database_url: String) -> Self {
        Self {
            database_url,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            acquire_timeout_seconds: Self::DEFAULT_ACQUIRE_TIMEOUT_SECONDS,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub database: DatabaseSettings,

    #[arg(long, env = "METERGUARD_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub http: HttpLimits,

    /// Base of every hyperlink (`https://example.org`); by default the request's Host.
    #[arg(long, env = "METERGUARD_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Honour `X-Forwarded-Proto`/`X-Forwarded-Host` for hyperlinks and the last
    /// `X-Forwarded-For` address as the client's for login lockouts (only behind a proxy you
    /// control).
    #[arg(long, env = "METERGUARD_TRUST_PROXY_HEADERS", default_value_t = false)]
    pub trust_proxy_headers: bool,

    /// `smtp://host:port`; unset means emails are recorded as not sent.
    #[arg(long, env = "METERGUARD_SMTP_URL")]
    pub smtp_url: Option<String>,

    #[arg(long, env = "METERGUARD_EMAIL_FROM", default_value = "meterguard@localhost")]
    pub email_from: String,

    /// URLs that receive a signed JSON POST for every policy transition (comma-separated).
    #[arg(long, env = "METERGUARD_WEBHOOK_URLS", value_delimiter = ',')]
    pub webhook_urls: Vec<String>,

    /// Key of the `X-Meterguard-Signature: sha256=<hex>` HMAC over webhook bodies; required when
    /// webhook URLs are set.
    #[arg(long, env = "METERGUARD_WEBHOOK_SECRET", default_value = "")]
    pub webhook_secret: String,

    /// Attempts per email or webhook before it is recorded as failed.
    #[arg(long, env = "METERGUARD_DELIVERY_MAX_ATTEMPTS", default_value_t = 8)]
    pub delivery_max_attempts: i64,

    /// First retry delay, doubled after each failure.
    #[arg(long, env = "METERGUARD_DELIVERY_BACKOFF_MS", default_value_t = 1000)]
    pub delivery_backoff_ms: i64,

    /// How long a worker holds a delivery it took before another may retry it (a crashed
    /// worker's deliveries are retried after this).
    #[arg(long, env = "METERGUARD_DELIVERY_LEASE_SECONDS", default_value_t = 60)]
    pub delivery_lease_seconds: i64,

    /// Seconds between full re-evaluation sweeps.
    #[arg(long, env = "METERGUARD_SWEEP_SECONDS", default_value_t = 600)]
    pub sweep_seconds: u64,

    #[arg(long, env = "METERGUARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "METERGUARD_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Failed password logins per username within the lockout window before it locks.
    #[arg(long, env = "METERGUARD_LOGIN_MAX_FAILURES", default_value_t = 4)]
    pub login_max_failures: i64,

    #[arg(long, env = "METERGUARD_LOGIN_LOCKOUT_SECONDS", default_value_t = 600)]
    pub login_lockout_seconds: i64,

    /// Seconds a token lives without use, for users whose `token_lifetime` is unset.
    #[arg(
        long,
        env = "METERGUARD_TOKEN_LIFETIME_SECONDS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(i64).range(60..=i64::from(i32::MAX))
    )]
    pub token_lifetime_seconds: i64,

    /// Seconds between retention passes, which delete expired tokens, login failures past their
    /// lockout, deliveries done more than one pass ago and, if set, old events.
    #[arg(
        long,
        env = "METERGUARD_RETENTION_INTERVAL_SECONDS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub retention_interval_seconds: u32,

    /// Days events are kept; unset keeps them for ever.
    #[arg(
        long,
        env = "METERGUARD_EVENT_RETENTION_DAYS",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub event_retention_days: Option<u32>,

    /// Faults a test injects; never read from the environment or a flag.
    #[arg(skip)]
    pub faults: crate::faults::Faults,
}

impl Settings {
    /// Refuses settings `serve` must not run with.
    pub fn check(&self) -> anyhow::Result<()> {
        // Unsigned webhooks let anyone who can reach a receiver forge policy transitions to it.
        let webhooks = self.webhook_urls.iter().any(|u| !u.trim().is_empty());
        anyhow::ensure!(
            !webhooks || !self.webhook_secret.trim().is_empty(),
            "METERGUARD_WEBHOOK_URLS is set but METERGUARD_WEBHOOK_SECRET is empty: set a secret, \
             so that receivers can check the X-Meterguard-Signature of each webhook"
        );
        Ok(())
    }
}

/// How long a client may take, and how many may be connected at once: a client that trickles its
/// request must not hold a connection, or all of them, for ever.
#[derive(Debug, Clone, Args)]
pub struct HttpLimits {
    /// Milliseconds a client has to send a request's headers, counted from the connection's
    /// start or the previous response (so it also closes idle keep-alive connections).
    #[arg(
        long,
        env = "METERGUARD_HEADER_TIMEOUT_MS",
        default_value_t = HttpLimits::DEFAULT_HEADER_TIMEOUT_MS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub header_timeout_ms: u64,

    /// Longest pause, in milliseconds, while a request body is being received (408 after it).
    #[arg(
        long,
        env = "METERGUARD_BODY_TIMEOUT_MS",
        default_value_t = HttpLimits::DEFAULT_BODY_TIMEOUT_MS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub body_timeout_ms: u64,

    /// Milliseconds from a request's headers to its response, body reading included (408 after
    /// it).
    #[arg(
        long,
        env = "METERGUARD_REQUEST_TIMEOUT_MS",
        default_value_t = HttpLimits::DEFAULT_REQUEST_TIMEOUT_MS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub request_timeout_ms: u64,

    /// Client connections served at once; further ones wait to be accepted until one closes.
    #[arg(
        id = "http_max_connections",
        long = "http-max-connections",
        env = "METERGUARD_HTTP_MAX_CONNECTIONS",
        default_value_t = HttpLimits::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections: u32,
}

impl HttpLimits {
    pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 10_000;
    pub const DEFAULT_BODY_TIMEOUT_MS: u64 = 10_000;
    pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;
    /// Half of the usual 1024 open files a process may have, which the database connections and
    /// the outgoing emails and webhooks share.
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 512;

    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout_ms: Self::DEFAULT_HEADER_TIMEOUT_MS,
            body_timeout_ms: Self::DEFAULT_BODY_TIMEOUT_MS,
            request_timeout_ms: Self::DEFAULT_REQUEST_TIMEOUT_MS,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::{DatabaseSettings, HttpLimits, Settings};
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        database: DatabaseSettings,
    }

    #[test]
    fn connections_default_to_eight_and_cannot_be_zero() {
        let parsed = |args: &[&str]| Cli::try_parse_from([&["meterguard"], args].concat()).map(|c| c.database);
        assert_eq!(parsed(&[]).unwrap().max_connections, 8);
        assert_eq!(parsed(&["--max-connections", "3"]).unwrap().max_connections, 3);
        assert!(parsed(&["--max-connections", "0"]).is_err());
    }

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        settings: Settings,
    }

    fn serve(args: &[&str]) -> Result<Settings, clap::Error> {
        Serve::try_parse_from([&["meterguard"], args].concat()).map(|c| c.settings)
    }

    #[test]
    fn http_limits_default_as_documented_and_cannot_be_zero() {
        let http = serve(&[]).unwrap().http;
        let default = HttpLimits::default();
        assert_eq!(
            (
                http.header_timeout_ms,
                http.body_timeout_ms,
                http.request_timeout_ms,
                http.max_connections
            ),
            (
                default.header_timeout_ms,
                default.body_timeout_ms,
                default.request_timeout_ms,
                default.max_connections
            )
        );
        assert_eq!((http.header_timeout_ms, http.max_connections), (10_000, 512));
        let set = serve(&["--http-max-connections", "3", "--max-connections", "5"]).unwrap();
        assert_eq!((set.http.max_connections, set.database.max_connections), (3, 5));
        for flag in [
            "--header-timeout-ms",
            "--body-timeout-ms",
            "--request-timeout-ms",
            "--http-max-connections",
        ] {
            assert!(serve(&[flag, "0"]).is_err(), "{flag} 0 accepted");
        }
    }

    #[test]
    fn webhooks_need_a_secret() {
        let with = |urls: &[&str], secret: &str| {
            let mut settings = serve(&[]).unwrap();
            settings.webhook_urls = urls.iter().map(|u| u.to_string()).collect();
            settings.webhook_secret = secret.into();
            settings.check()
        };
        assert!(with(&["https://hooks.example/"], "").is_err());
        assert!(with(&["https://hooks.example/"], " ").is_err());
        assert!(with(&["https://hooks.example/"], "s3cret").is_ok());
        assert!(with(&[], "").is_ok());
        assert!(
            with(&[""], "").is_ok(),
            "an empty METERGUARD_WEBHOOK_URLS sets no webhook"
        );
    }
}
