//! Real receivers for what meterguard sends: an SMTP server that keeps every message, and an
//! HTTP server that keeps every webhook. Both can be told to fail; the SMTP server can also be
//! told to stall, leaving a client stuck in the middle of a delivery.
//!
//! Shared by the API tests (`tests/api/`) and the process tests (`tests/processes.rs`); each
//! binary uses part of it.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct Mail {
    pub recipients: Vec<String>,
    pub data: String,
    /// When the message was accepted.
    pub at: Instant,
}

impl Mail {
    /// A header's value, unfolded (continuation lines joined), if the message has it.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut found: Option<String> = None;
        let mut in_it = false;
        for line in self.data.lines() {
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if in_it {
                    found.get_or_insert_with(String::new).push_str(line);
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            in_it = line
                .split_once(':')
                .is_some_and(|(key, _)| key.trim().eq_ignore_ascii_case(name));
            if in_it {
                found = Some(
                    line.split_once(':')
                        .map(|(_, v)| v.trim().to_string())
                        .unwrap_or_default(),
                );
            }
        }
        found.map(|v| v.trim().to_string())
    }
}

/// An SMTP server speaking just enough of RFC 5321 for a client to deliver mail.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    /// Transactions still to refuse with a temporary failure (451) before accepting.
    refuse: Arc<AtomicUsize>,
    /// Transactions refused so far.
    refused: Arc<AtomicUsize>,
    /// While true, a new session waits before its greeting, so the client hangs mid-delivery.
    hold: Arc<watch::Sender<bool>>,
    /// When each session that waited on `hold` arrived.
    stalled: Arc<Mutex<Vec<Instant>>>,
    /// How long each session waits before its greeting, in milliseconds (a slow server).
    delay_ms: Arc<AtomicU64>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp sink");
        let port = listener.local_addr().expect("addr").port();
        let sink = Self {
            port,
            mails: Arc::default(),
            refuse: Arc::default(),
            refused: Arc::default(),
            hold: Arc::new(watch::channel(false).0),
            stalled: Arc::default(),
            delay_ms: Arc::default(),
        };
        let served = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let sink = served.clone();
                tokio::spawn(async move { sink.session(socket).await });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn refuse_next(&self, n: usize) {
        self.refuse.store(n, Ordering::SeqCst);
    }

    /// How many transactions have been refused.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// From now on, sessions stall before the greeting until `release`.
    pub fn hold(&self) {
        self.hold.send_replace(true);
    }

    /// Lets the stalled sessions (and new ones) go on.
    pub fn release(&self) {
        self.hold.send_replace(false);
    }

    /// Makes every session from now on wait `delay` before its greeting.
    pub fn slow_down(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// How many sessions have stalled on `hold`.
    pub fn stalled(&self) -> usize {
        self.stalled.lock().expect("stalled").len()
    }

    /// When the first session stalled on `hold` arrived.
    pub fn first_stalled_at(&self) -> Option<Instant> {
        self.stalled.lock().expect("stalled").first().copied()
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("mails").clone()
    }

    async fn session(&self, socket: tokio::net::TcpStream) {
        let mut gate = self.hold.subscribe();
        if *gate.borrow_and_update() {
            self.stalled.lock().expect("stalled").push(Instant::now());
            let _ = gate.wait_for(|held| !held).await;
        }
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write.write_all(b"220 sink ESMTP\r\n").await;
        let mut recipients = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250-sink\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("MAIL FROM") {
                recipients.clear();
                let refused = self
                    .refuse
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if refused {
                    self.refused.fetch_add(1, Ordering::SeqCst);
                    b"451 try again later\r\n"
                } else {
                    b"250 OK\r\n"
                }
            } else if upper.starts_with("RCPT TO") {
                let addr = line[8..]
                    .trim()
                    .trim_start_matches(':')
                    .trim()
                    .trim_matches(['<', '>'])
                    .to_string();
                recipients.push(addr);
                b"250 OK\r\n"
            } else if upper == "DATA" {
                let _ = write.write_all(b"354 go ahead\r\n").await;
                let mut data = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    data.push_str(&l);
                    data.push('\n');
                }
                self.mails.lock().expect("mails").push(Mail {
                    recipients: recipients.clone(),
                    data,
                    at: Instant::now(),
                });
                b"250 queued\r\n"
            } else if upper == "QUIT" {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                b"250 OK\r\n"
            };
            if write.write_all(reply).await.is_err() {
                return;
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Hook {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An HTTP server that keeps every POST it is sent.
#[derive(Clone)]
pub struct WebhookSink {
    pub url: String,
    hooks: Arc<Mutex<Vec<Hook>>>,
    /// Requests still to answer with 500 before answering 200.
    fail: Arc<AtomicUsize>,
}

impl WebhookSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind webhook sink");
        let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().expect("addr").port());
        let sink = Self {
            url,
            hooks: Arc::default(),
            fail: Arc::default(),
        };
        let served = sink.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let sink = served.clone();
                async move {
                    if sink
                        .fail
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok()
                    {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    sink.hooks.lock().expect("hooks").push(Hook { headers, body });
                    StatusCode::OK
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        sink
    }

    pub fn fail_next(&self, n: usize) {
        self.fail.store(n, Ordering::SeqCst);
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.hooks.lock().expect("hooks").clone()
    }
}

/// Polls `check` until it holds (deliveries happen after the response), failing after 10 s.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(what, Duration::from_secs(10), check).await;
}

/// Polls `check` every 50 ms until it holds, failing after `limit`.
pub async fn eventually_within<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {limit:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
