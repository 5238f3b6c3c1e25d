//! The outbox worker: takes due deliveries, sends them (SMTP, HTTP), and records the outcome;
//! failures are retried with exponential backoff until the attempts run out, then recorded as
//! an event and a metric. Deliveries are at least once: a worker that dies mid-send leaves its
//! lease to expire and the delivery is retried; the delivery key travels with every message
//! (Message-ID, `X-Meterguard-Delivery`) so a receiver can recognise a repeat.

use super::notify::Email;
use super::webhooks::{signature, Webhook};
use super::ActionsConfig;
use crate::clock::Clock;
use crate::faults::{Faults, Site};
use crate::store::{self, events::NewEvent, outbox::Delivery, Db};
use lettre::message::{header::ContentType, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};
use std::future::Future;
use std::time::Duration;

const POLL: Duration = Duration::from_millis(500);

pub struct Worker {
    db: Db,
    cfg: ActionsConfig,
    clock: Clock,
    http: reqwest::Client,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    faults: Faults,
}

/// A claimed delivery's message, read once from its kind and payload.
enum Queued {
    Email(Email),
    Webhook(Webhook),
    /// A payload that cannot be sent: the attempt fails with this reason.
    Unreadable(String),
}

impl Queued {
    fn of(d: &Delivery) -> Self {
        match d.kind.as_str() {
            "email" => serde_json::from_str(&d.payload)
                .map(Queued::Email)
                .unwrap_or_else(|e| Queued::Unreadable(format!("unreadable email payload: {e}"))),
            "webhook" => serde_json::from_str(&d.payload)
                .map(Queued::Webhook)
                .unwrap_or_else(|e| Queued::Unreadable(format!("unreadable webhook payload: {e}"))),
            other => Queued::Unreadable(format!("unknown delivery kind {other}")),
        }
    }
}

/// What became of one attempt.
enum Outcome {
    Sent,
    /// Nothing to send to (no SMTP configured): recorded, not retried.
    NotSent(String),
    Failed(String),
}

impl Worker {
    pub fn new(db: Db, cfg: ActionsConfig, clock: Clock, faults: Faults) -> anyhow::Result<Self> {
        // A send never outlasts the lease, so no other worker takes a delivery that is still
        // being sent (the default lease, 60 s, leaves ample room around the 10 s timeout).
        let timeout = Duration::from_secs(10).min(Duration::from_secs(cfg.lease_seconds as u64));
        let smtp = match &cfg.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
                    .timeout(Some(timeout))
                    .build(),
            ),
            None => None,
        };
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            db,
            cfg,
            clock,
            http,
            smtp,
            faults,
        })
    }

    /// Delivers until `shutdown`, or until the database fails (the supervisor starts it again);
    /// the delivery under way is finished first.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::pin!(shutdown);
        loop {
            // More may be due: on at once, unless asked to stop (the rest waits in the outbox).
            if self.deliver_due().await? > 0 {
                tokio::select! {
                    biased;
                    _ = &mut shutdown => return Ok(()),
                    _ = std::future::ready(()) => continue,
                }
            }
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                _ = self.cfg.outbox_ready.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Takes and sends one due delivery; returns how many were attempted (0 or 1). One at a
    /// time, so a lease only ever has to cover one send.
    pub async fn deliver_due(&self) -> store::Result<usize> {
        self.faults.pass(Site::Delivery)?;
        let now = self.clock.now_micros();
        let lease_until = now + self.cfg.lease_seconds * 1_000_000;
        let mut tx = self.db.begin().await?;
        let claimed = store::outbox::claim(&mut tx, now, lease_until, 1).await?;
        tx.commit().await?;
        for delivery in &claimed {
            let queued = Queued::of(delivery);
            let outcome = self.attempt(&queued, &delivery.delivery_key).await;
            self.record_outcome(delivery, &queued, outcome).await?;
        }
        Ok(claimed.len())
    }

    async fn attempt(&self, queued: &Queued, key: &str) -> Outcome {
        match queued {
            Queued::Email(email) => self.send_email(email, key).await,
            Queued::Webhook(hook) => self.post_webhook(hook, key).await,
            Queued::Unreadable(why) => Outcome::Failed(why.clone()),
        }
    }

    async fn send_email(&self, email: &Email, key: &str) -> Outcome {
        let Some(smtp) = &self.smtp else {
            return Outcome::NotSent("no SMTP server is configured".into());
        };
        let message = (|| -> anyhow::Result<Message> {
            let body = MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(email.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(email.html.clone()),
                );
            Ok(Message::builder()
                .from(self.cfg.email_from.parse()?)
                .to(email.to.parse()?)
                .subject(email.subject.clone())
                .message_id(Some(format!("<{}@meterguard>", key.replace([':', ' ', '@'], "."))))
                .multipart(body)?)
        })();
        match message {
            Ok(m) => match smtp.send(m).await {
                Ok(_) => Outcome::Sent,
                Err(e) => Outcome::Failed(e.to_string()),
            },
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    async fn post_webhook(&self, hook: &Webhook, key: &str) -> Outcome {
        let body = hook.body.to_string();
        let request = self
            .http
            .post(&hook.url)
            .header("Content-Type", "application/json")
            .header("X-Meterguard-Delivery", key)
            .header(
                "X-Meterguard-Signature",
                signature(&self.cfg.webhook_secret, body.as_bytes()),
            )
            .body(body);
        // The error names the webhook by place and host: reqwest's own message carries the URL.
        match request.send().await {
            Ok(r) if r.status().is_success() => Outcome::Sent,
            Ok(r) => Outcome::Failed(format!("{}: HTTP {}", hook.label(), r.status())),
            Err(e) => Outcome::Failed(format!("{}: {}", hook.label(), e.without_url())),
        }
    }

    async fn record_outcome(&self, d: &Delivery, queued: &Queued, outcome: Outcome) -> store::Result<()> {
        let now = self.clock.now_micros();
        let (email, hook) = match queued {
            Queued::Email(email) => (Some(email), None),
            Queued::Webhook(hook) => (None, Some(hook)),
            Queued::Unreadable(_) => (None, None),
        };
        let customer_id = email
            .as_ref()
            .map(|e| e.customer_id)
            .or(hook.as_ref().map(|h| h.customer_id));
        let policy_uuid = email.as_ref().map(|e| e.policy_uuid.clone()).or(hook
            .as_ref()
            .and_then(|h| h.body["policy_uuid"].as_str().map(str::to_string)));
        // Every event's context names the policy's customer (docs/actions.md §6.2).
        let (customer_uuid, customer_name) = match (&email, &hook) {
            (Some(e), _) => (json!(e.customer_uuid), json!(e.customer_name)),
            (None, Some(h)) => (h.body["customer_uuid"].clone(), h.body["customer_name"].clone()),
            (None, None) => (Value::Null, Value::Null),
        };
        let mut tx = self.db.begin().await?;
        match &outcome {
            Outcome::Sent | Outcome::NotSent(_) => {
                let not_sent = match &outcome {
                    Outcome::NotSent(why) => Some(why),
                    _ => None,
                };
                store::outbox::delivered(&mut tx, d.id, now).await?;
                if let Some(email) = &email {
                    let (message, sent) = match not_sent {
                        None => (format!("Usage notification has been sent to {}.", email.to), true),
                        Some(why) => (
                            format!("Usage notification to {} was not sent: {why}.", email.to),
                            false,
                        ),
                    };
                    let context = json!({"policy_uuid": email.policy_uuid, "customer_uuid": customer_uuid,
                                         "customer_name": customer_name, "emails": [email.to], "sent": sent,
                                         "delivery_key": d.delivery_key});
                    let event = NewEvent {
                        event_type: "policy_notification",
                        message: &message,
                        context: &context,
                        customer_id,
                        policy_uuid: policy_uuid.as_deref(),
                    };
                    store::events::insert(&mut tx, &event, now).await?;
                }
                metrics::counter!("meterguard_deliveries_total", "kind" => d.kind.clone(), "outcome" => "delivered")
                    .increment(1);
            }
            Outcome::Failed(error) => {
                let attempts = d.attempts + 1;
                let retry_at = (attempts < self.cfg.max_attempts)
                    .then(|| now + self.cfg.backoff_ms * 1000 * (1_i64 << (attempts - 1).min(20)));
                store::outbox::attempt_failed(&mut tx, d.id, error, retry_at, now).await?;
                if retry_at.is_none() {
                    let message = format!("Delivery {} failed after {attempts} attempts: {error}", d.delivery_key);
                    let context = json!({"delivery_key": d.delivery_key, "kind": d.kind, "attempts": attempts,
                                         "error": error, "policy_uuid": policy_uuid,
                                         "customer_uuid": customer_uuid, "customer_name": customer_name});
                    let event = NewEvent {
                        event_type: "notification_delivery_failed",
                        message: &message,
                        context: &context,
                        customer_id,
                        policy_uuid: policy_uuid.as_deref(),
                    };
                    store::events::insert(&mut tx, &event, now).await?;
                    metrics::counter!("meterguard_deliveries_total", "kind" => d.kind.clone(), "outcome" => "failed")
                        .increment(1);
                } else {
                    tracing::warn!(key = %d.delivery_key, attempt = attempts, %error, "delivery failed, will retry");
                }
            }
        }
        tx.commit().await
    }
}
