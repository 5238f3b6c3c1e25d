//! `notify_organization_owners` and `notify_external_user`: a usage email per recipient, queued
//! in the outbox (docs/actions.md §2; upstream's cost-flavoured email crashes: docs/differences.md §3).

use super::{ActionsConfig, TransitionCtx};
use crate::domain::evaluation::ComponentLimit;
use crate::domain::Action;
use crate::engine::RowOutcome;
use crate::store::{self, Tx};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// An email as queued: everything needed to send it later, fixed at the moment of the crossing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub policy_uuid: String,
    pub customer_uuid: String,
    /// Absent from emails queued before it was kept.
    #[serde(default)]
    pub customer_name: String,
    pub customer_id: i64,
}

/// Subject and bodies naming each exceeded limit.
pub fn compose(cfg: &ActionsConfig, ctx: &TransitionCtx<'_>) -> (String, String, String) {
    let customer = &ctx.policy.customer_name;
    let subject = format!("Usage of {customer} has exceeded a limit");
    let (text, html) = bodies(cfg, ctx, "has exceeded a limit", ctx.assessment.exceeded());
    (subject, text, html)
}

/// The text and HTML bodies: `Usage of <customer> <what> set by usage policy <uuid>:`, one line
/// per row as docs/actions.md §2 writes it, and a link to the customer.
pub fn bodies<'a>(
    cfg: &ActionsConfig,
    ctx: &TransitionCtx<'_>,
    what: &str,
    rows: impl Iterator<Item = (&'a ComponentLimit, &'a RowOutcome)>,
) -> (String, String) {
    let customer = &ctx.policy.customer_name;
    let link = format!(
        "{}/api/customers/{}/",
        cfg.public_url.trim_end_matches('/'),
        ctx.policy.customer_uuid
    );
    let lines: Vec<String> = rows
        .map(|(l, row)| {
            let period = l.period.name();
            let unit = if l.measured_unit.is_empty() {
                String::new()
            } else {
                format!(" {}", l.measured_unit)
            };
            // A limit topped up by grants says what it came to and how, as the dashboard does
            // (docs/grants.md §4).
            let limit = if row.granted.hundredths() > 0 {
                format!("{} ({} + {} granted)", row.effective(), l.limit, row.granted)
            } else {
                l.limit.to_string()
            };
            format!(
                "{} ({}): {}{unit} used of {limit} in period {period}",
                l.component_name, l.component_type, row.usage
            )
        })
        .collect();
    let text = format!(
        "Hello!\n\nUsage of {customer} {what} set by usage policy {}:\n\n{}\n\n{link}\n",
        ctx.policy.uuid,
        lines.join("\n")
    );
    let items: String = lines.iter().map(|l| format!("<li>{}</li>", escape(l))).collect();
    let html = format!(
        "<p>Hello!</p><p>Usage of <a href=\"{}\">{}</a> {what} set by usage policy {}:</p><ul>{items}</ul>",
        escape(&link),
        escape(customer),
        ctx.policy.uuid
    );
    (text, html)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The recipients of a notify action: the customer's owners, or the policy's external addresses.
pub async fn recipients(tx: &mut Tx, ctx: &TransitionCtx<'_>, action: Action) -> store::Result<Vec<String>> {
    match action {
        Action::NotifyOrganizationOwners => store::roles::owner_emails(tx, ctx.policy.customer_id, ctx.stamp()).await,
        Action::NotifyExternalUser => Ok(ctx.policy.options.external_emails()),
        _ => Ok(Vec::new()),
    }
}

/// Queues one email to each recipient; `key` names each delivery by its recipient.
pub async fn enqueue(
    tx: &mut Tx,
    ctx: &TransitionCtx<'_>,
    recipients: &[String],
    (subject, text, html): (String, String, String),
    key: impl Fn(&str) -> String,
) -> store::Result<()> {
    for to in recipients {
        let email = Email {
            to: to.clone(),
            subject: subject.clone(),
            text: text.clone(),
            html: html.clone(),
            policy_uuid: ctx.policy.uuid.to_string(),
            customer_uuid: ctx.policy.customer_uuid.to_string(),
            customer_name: ctx.policy.customer_name.clone(),
            customer_id: ctx.policy.customer_id,
        };
        let payload = serde_json::to_string(&email).unwrap_or_default();
        store::outbox::enqueue(tx, &key(to), "email", &payload, ctx.stamp()).await?;
    }
    Ok(())
}

/// Queues one email per recipient and records that the notification was scheduled.
pub async fn queue(tx: &mut Tx, cfg: &ActionsConfig, ctx: &TransitionCtx<'_>, action: Action) -> store::Result<()> {
    if !matches!(action, Action::NotifyOrganizationOwners | Action::NotifyExternalUser) {
        return Ok(());
    }
    let recipients = recipients(tx, ctx, action).await?;
    enqueue(tx, ctx, &recipients, compose(cfg, ctx), |to| {
        ctx.delivery_key(action.name(), to)
    })
    .await?;
    let whom = if action == Action::NotifyOrganizationOwners {
        "organization owners"
    } else {
        "external user"
    };
    let message = format!(
        "Usage policy {} has been triggered and notification to {whom} has been scheduled.",
        ctx.policy.uuid
    );
    ctx.event(tx, action.name(), &message, json!({"emails": recipients}))
        .await
}
