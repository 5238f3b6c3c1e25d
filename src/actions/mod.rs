//! What policy transitions do. Effects on meterguard's own data (resource flags, Terminate
//! orders, events) run inside the transition's transaction, so they happen exactly once with
//! it; emails and webhooks are queued in the outbox there and delivered after commit. The
//! transition itself (the conditional update of `has_fired`) is made by the use case that
//! decided it.

pub mod delivery;
pub mod flags;
pub mod notify;
pub mod terminate;
pub mod warnings;
pub mod webhooks;

use crate::config::Settings;
use crate::domain::evaluation::{ComponentLimit, PolicyState};
use crate::domain::{time, Action, ActionSet};
use crate::engine::{ladder, Assessment, Effect, RowOutcome, Transition, TransitionCount};
use crate::store::{self, events::NewEvent, Tx};
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
    /// Rung when a fire leaves actions waiting out a grace period, so the scheduler looks again
    /// at when the next one is due.
    pub pending_added: Arc<Notify>,
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
            pending_added: Arc::new(Notify::new()),
        }
    }

    /// After a commit: counts its transitions and warnings (a transaction rolled back and
    /// retried counts once), and wakes the delivery worker when it made any, the only writes
    /// that queue deliveries (waking it on every report would double the writes of a report
    /// stream); after a fire, rings the scheduler, which may have an action to wait for.
    pub fn after_commit(&self, made: TransitionCount) {
        for (direction, n) in [("fire", made.fired), ("reset", made.reset)] {
            if n > 0 {
                metrics::counter!("meterguard_transitions_total", "direction" => direction).increment(n as u64);
            }
        }
        if made.warned > 0 {
            metrics::counter!("meterguard_warnings_total").increment(made.warned as u64);
        }
        if made.total() + made.warned > 0 {
            self.outbox_ready.notify_one();
        }
        if made.fired > 0 {
            self.pending_added.notify_one();
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
}

impl TransitionCtx<'_> {
    pub fn stamp(&self) -> i64 {
        self.now.timestamp_micros()
    }

    /// The context every event of this policy carries.
    pub fn event_context(&self) -> Value {
        json!({
            "policy_uuid": self.policy.uuid.to_string(),
            "customer_uuid": self.policy.customer_uuid.to_string(),
            "customer_name": self.policy.customer_name,
        })
    }

    /// Writes an event about this policy, with `extra` merged into its context.
    pub async fn event(&self, tx: &mut Tx, event_type: &str, message: &str, extra: Value) -> store::Result<()> {
        let mut context = self.event_context();
        if let (Value::Object(base), Value::Object(more)) = (&mut context, extra) {
            base.extend(more);
        }
        let policy_uuid = self.policy.uuid.to_string();
        let e = NewEvent {
            event_type,
            message,
            context: &context,
            customer_id: Some(self.policy.customer_id),
            policy_uuid: Some(&policy_uuid),
        };
        store::events::insert(tx, &e, self.stamp()).await
    }

    /// `fire` or `reset`, as delivery keys and logs name a transition's direction.
    fn direction(&self) -> &'static str {
        if self.transition == Transition::Fire {
            "fire"
        } else {
            "reset"
        }
    }

    /// A key naming one delivery of this transition; the same transition never yields two.
    pub fn delivery_key(&self, what: &str, target: &str) -> String {
        format!(
            "{}:{}:{}:{what}:{target}",
            self.policy.uuid,
            self.direction(),
            self.stamp()
        )
    }

    /// The rows over their limit, as the `policy_fired` event and webhook list them
    /// (docs/actions.md §6.2).
    pub fn exceeded(&self) -> Value {
        self.assessment.exceeded().map(|(l, row)| row_json(l, row)).collect()
    }
}

/// A limit row as events and webhooks name it: `limit` is the policy's own; where grants top it
/// up, `effective_limit` (a decimal string) is what usage was judged against (docs/grants.md §4).
pub fn row_json(l: &ComponentLimit, row: &RowOutcome) -> Value {
    let mut json = json!({
        "component": l.component_uuid.to_string(),
        "type": l.component_type,
        "period": l.period.code(),
        "usage": row.usage.to_string(),
        "limit": l.limit,
    });
    if row.granted.hundredths() > 0 {
        json["effective_limit"] = json!(row.effective().to_string());
    }
    json
}

/// What a transition does inside its transaction: its event, then the effects the engine chose
/// for it on meterguard's own data and the deliveries they queue, then its webhooks. A fire
/// leaves the actions with a grace period waiting; a reset drops those still waiting and undoes
/// only what ran (docs/ladder.md §4).
pub async fn apply(tx: &mut Tx, cfg: &ActionsConfig, ctx: &TransitionCtx<'_>) -> store::Result<()> {
    let policy = ctx.policy;
    let (event_type, message) = match ctx.transition {
        Transition::Fire => (
            "policy_fired",
            format!(
                "Usage policy {} of {} fired: usage exceeded a limit.",
                policy.uuid, policy.customer_name
            ),
        ),
        _ => (
            "policy_reset",
            format!(
                "Usage policy {} of {} reset: usage is back under every limit.",
                policy.uuid, policy.customer_name
            ),
        ),
    };
    let mut extra = json!({ "actions": policy.actions.to_string() });
    if ctx.transition == Transition::Fire {
        extra["exceeded"] = ctx.exceeded();
    }
    ctx.event(tx, event_type, &message, extra).await?;
    let effects = match ctx.transition {
        Transition::Fire => {
            let plan = ladder::plan_fire(&policy.actions, |a| policy.options.grace_minutes(a));
            for (action, minutes) in plan.waiting {
                let due = ladder::due(ctx.stamp(), minutes);
                store::pending_actions::add(tx, policy.id, action, due, ctx.stamp()).await?;
            }
            plan.now
        }
        Transition::Reset => {
            let dropped = cancel_waiting(tx, ctx, None).await?;
            ladder::reset_effects(policy.actions.iter(), &dropped)
        }
        Transition::Stay => Vec::new(),
    };
    for effect in effects {
        run(tx, cfg, ctx, effect).await?;
    }
    webhooks::queue(tx, cfg, ctx).await?;
    tracing::info!(policy = %policy.uuid, customer = %policy.customer_uuid, direction = %ctx.direction(), at = %time::render(ctx.stamp()), "policy transition");
    Ok(())
}

/// Whether a fire would touch the resource: some action of `actions` selects it as it does when it
/// runs (a flag action where it sets the flag, `terminate_resources` where it terminates). The
/// notify actions and the blocks touch no resource.
pub fn touches(actions: &ActionSet, r: &store::resources::ActionTarget) -> bool {
    actions.iter().any(|action| match flags::Kind::of(action) {
        Some(kind) => flags::targets(kind, r),
        None => action == Action::TerminateResources && terminate::targets(r),
    })
}

/// Runs one effect on meterguard's own data, or queues its deliveries.
async fn run(tx: &mut Tx, cfg: &ActionsConfig, ctx: &TransitionCtx<'_>, effect: Effect) -> store::Result<()> {
    let (action, run) = match effect {
        Effect::Run(action) => (action, true),
        Effect::Undo(action) => (action, false),
    };
    match (flags::Kind::of(action), action) {
        (Some(kind), _) => flags::set(tx, ctx, kind, run).await,
        (None, Action::TerminateResources) if run => terminate::run(tx, ctx).await,
        (None, _) if run => notify::queue(tx, cfg, ctx, action).await,
        // Only the flag actions can be undone; the engine asks for nothing else.
        (None, _) => Ok(()),
    }
}

/// Drops the policy's actions still waiting among `only` (all for `None`), each with its
/// `policy_action_canceled` event; returns them.
async fn cancel_waiting(tx: &mut Tx, ctx: &TransitionCtx<'_>, only: Option<&[Action]>) -> store::Result<Vec<Action>> {
    let dropped = store::pending_actions::cancel(tx, ctx.policy.id, only).await?;
    for action in &dropped {
        let message = format!(
            "Usage policy {} dropped {} before its grace period ended.",
            ctx.policy.uuid,
            action.name()
        );
        ctx.event(tx, "policy_action_canceled", &message, json!({"action": action.name()}))
            .await?;
    }
    Ok(dropped)
}

/// Applies an action whose grace period has ended, the policy still fired by the crossing that
/// left it waiting (its row already claimed by the caller): what the action does, and a
/// `policy_action_applied` event. A block does nothing here: it holds from now on.
pub async fn apply_waiting(
    tx: &mut Tx,
    cfg: &ActionsConfig,
    ctx: &TransitionCtx<'_>,
    action: Action,
) -> store::Result<()> {
    let message = format!(
        "Usage policy {} applied {} after its grace period.",
        ctx.policy.uuid,
        action.name()
    );
    ctx.event(tx, "policy_action_applied", &message, json!({"action": action.name()}))
        .await?;
    if crate::engine::transition::is_immediate(action) {
        run(tx, cfg, ctx, Effect::Run(action)).await?;
    }
    Ok(())
}

/// A fired policy no longer names `dropped`: the holds and waits of those actions end as a
/// reset would end them (docs/ladder.md §5).
pub async fn drop_actions(
    tx: &mut Tx,
    cfg: &ActionsConfig,
    ctx: &TransitionCtx<'_>,
    dropped: &[Action],
) -> store::Result<()> {
    let waiting = cancel_waiting(tx, ctx, Some(dropped)).await?;
    for effect in ladder::reset_effects(dropped.iter().copied(), &waiting) {
        run(tx, cfg, ctx, effect).await?;
    }
    Ok(())
}
