//! What policy transitions do. Effects on meterguard's own data (resource flags, Terminate
//! orders, events) run inside the transition's transaction, so they happen exactly once with
//! it; emails and webhooks are queued in the outbox there and delivered after commit.

pub mod delivery;
pub mod flags;
pub mod notify;
pub mod terminate;
pub mod webhooks;

use crate::config::Settings;
use crate::domain::{Action, ActionSet};
use crate::engine::{Effect, Transition, TransitionCount};
use crate::service::evaluation::Assessment;
use crate::store::{self, evaluation::PolicyState, events::NewEvent, Tx};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Notify;

/// What the actions need from configuration, and the bell that wakes the delivery worker.
#[derive(Clone)]
pub struct ActionsConfig {
    /// Base of links in emails.
    pub public_url: String,
    pub smtp_url: Option<String>,
    pub email_from: String,
    pub webhook_urls: Vec<String>,
    pub webhook_secret: String,
    pub max_attempts: i64,
    pub backoff_ms: i64,
    pub lease_seconds: i64,
    pub outbox_ready: Arc<Notify>,
}

impl ActionsConfig {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            public_url: s.public_url.clone().unwrap_or_else(|| format!("http://{}", s.listen)),
            smtp_url: s.smtp_url.clone().filter(|u| !u.is_empty()),
            email_from: s.email_from.clone(),
            webhook_urls: s
                .webhook_urls
                .iter()
                .filter(|u| !u.trim().is_empty())
                .cloned()
                .collect(),
            webhook_secret: s.webhook_secret.clone(),
            max_attempts: s.delivery_max_attempts.max(1),
            backoff_ms: s.delivery_backoff_ms.max(1),
            lease_seconds: s.delivery_lease_seconds.max(1),
            outbox_ready: Arc::new(Notify::new()),
        }
    }

    /// After a commit: counts its transitions (a transaction rolled back and retried counts
    /// once), and wakes the delivery worker when it made any, the only writes that queue
    /// deliveries (waking it on every report would double the writes of a report stream).
    pub fn after_commit(&self, made: TransitionCount) {
        for (direction, n) in [("fire", made.fired), ("reset", made.reset)] {
            if n > 0 {
                metrics::counter!("meterguard_transitions_total", "direction" => direction).increment(n as u64);
            }
        }
        if made.total() > 0 {
            self.outbox_ready.notify_one();
        }
    }
}

/// One policy's transition, with everything its actions read.
pub struct TransitionCtx<'a> {
    pub policy: &'a PolicyState,
    pub transition: Transition,
    pub assessment: &'a Assessment,
    pub now: DateTime<Utc>,
    pub system_user: i64,
    /// The dialect's row lock, for resources the actions rewrite.
    pub row_lock: &'static str,
}

impl TransitionCtx<'_> {
    pub fn stamp(&self) -> i64 {
        self.now.timestamp_micros()
    }

    /// The context every event of this policy carries.
    pub fn event_context(&self) -> Value {
        json!({
            "policy_uuid": self.policy.uuid,
            "customer_uuid": self.policy.customer_uuid,
            "customer_name": self.policy.customer_name,
        })
    }

    /// Writes an event about this policy, with `extra` merged into its context.
    pub async fn event(&self, tx: &mut Tx, event_type: &str, message: &str, extra: Value) -> store::Result<()> {
        let mut context = self.event_context();
        if let (Value::Object(base), Value::Object(more)) = (&mut context, extra) {
            base.extend(more);
        }
        let e = NewEvent {
            event_type,
            message,
            context: &context,
            customer_id: Some(self.policy.customer_id),
            policy_uuid: Some(&self.policy.uuid),
        };
        store::events::insert(tx, &e, self.stamp()).await
    }

    /// A key naming one delivery of this transition; the same transition never yields two.
    pub fn delivery_key(&self, what: &str, target: &str) -> String {
        let direction = if self.transition == Transition::Fire {
            "fire"
        } else {
            "reset"
        };
        format!("{}:{direction}:{}:{what}:{target}", self.policy.uuid, self.stamp())
    }
}

/// Runs the effects the engine chose for a transition, then queues its webhooks.
pub async fn apply(tx: &mut Tx, cfg: &ActionsConfig, ctx: &TransitionCtx<'_>) -> store::Result<()> {
    let actions = ActionSet::parse(&ctx.policy.actions).ok();
    let effects = actions
        .as_ref()
        .map(|a| crate::engine::effects(a, ctx.transition))
        .unwrap_or_default();
    for effect in effects {
        let (action, run) = match effect {
            Effect::Run(action) => (action, true),
            Effect::Undo(action) => (action, false),
        };
        match (flags::Kind::of(action), action) {
            (Some(kind), _) => flags::set(tx, ctx, kind, run).await?,
            (None, Action::TerminateResources) if run => terminate::run(tx, ctx).await?,
            (None, _) if run => notify::queue(tx, cfg, ctx, action).await?,
            // Only the flag actions can be undone; the engine asks for nothing else.
            (None, _) => {}
        }
    }
    webhooks::queue(tx, cfg, ctx).await
}
