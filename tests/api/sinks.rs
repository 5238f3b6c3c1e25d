//! Real receivers for what meterguard sends: an SMTP server that keeps every message, and an
//! HTTP server that keeps every webhook. Both can be told to fail.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Mail {
    pub recipients: Vec<String>,
    pub data: String,
}

/// An SMTP server speaking just enough of RFC 5321 for a client to deliver mail.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    /// Transactions still to refuse with a temporary failure (451) before accepting.
    refuse: Arc<AtomicUsize>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp sink");
        let port = listener.local_addr().expect("addr").port();
        let sink = Self {
            port,
            mails: Arc::default(),
            refuse: Arc::default(),
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

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("mails").clone()
    }

    async fn session(&self, socket: tokio::net::TcpStream) {
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
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}
