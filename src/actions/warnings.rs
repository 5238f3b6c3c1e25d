//! A warning: the policy's level rose to a threshold below its limits (docs/ladder.md §2). One
//! `policy_warning` event, one email to each recipient of the policy's notify actions, and one
//! `policy.warning` webhook, queued in the outbox like a transition's.

use super::{notify, row_json, webhooks, ActionsConfig, TransitionCtx};
use crate::domain::{time, Action, Amount};
use crate::engine::headroom::percent;
use crate::engine::ladder::over_percent;
use crate::store::{self, Tx};
use serde_json::{json, Value};

pub async fn warn(tx: &mut Tx, cfg: &ActionsConfig, ctx: &TransitionCtx<'_>, threshold: u8) -> store::Result<()> {
    let policy = ctx.policy;
    let reached = || {
        ctx.assessment
            .limits
            .iter()
            .zip(&ctx.assessment.evaluation.rows)
            .filter(move |(_, row)| over_percent(row.usage, row.effective(), threshold))
    };
    let rows: Value = reached()
        .map(|(l, row)| {
            let mut json = row_json(l, row);
            json["percent"] = json!(percent(row.usage, row.effective()).and_then(hundredths_number));
            json
        })
        .collect();
    let message = format!(
        "Usage policy {} of {} reached {threshold}% of a usage limit.",
        policy.uuid, policy.customer_name
    );
    let extra = json!({"threshold": threshold, "exceeded": rows});
    ctx.event(tx, "policy_warning", &message, extra.clone()).await?;

    let key = |what: &str, target: &str| format!("{}:warning-{threshold}:{}:{what}:{target}", policy.uuid, ctx.stamp());
    let subject = format!(
        "[meterguard] {} reached {threshold}% of a usage limit",
        policy.customer_name
    );
    let what = format!("reached {threshold}% of a limit");
    let (text, html) = notify::bodies(cfg, ctx, &what, reached());
    for action in [Action::NotifyOrganizationOwners, Action::NotifyExternalUser] {
        if !policy.actions.contains(action) {
            continue;
        }
        let recipients = notify::recipients(tx, ctx, action).await?;
        let email = (subject.clone(), text.clone(), html.clone());
        notify::enqueue(tx, ctx, &recipients, email, |to| key(action.name(), to)).await?;
    }

    let mut body = json!({
        "event": "policy.warning",
        "policy_uuid": policy.uuid.to_string(),
        "customer_uuid": policy.customer_uuid.to_string(),
        "customer_name": policy.customer_name,
        "at": time::render(ctx.stamp()),
    });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    webhooks::send(tx, cfg, ctx, body, |index| key("webhook", &format!("#{index}"))).await
}

/// `10017` hundredths → the JSON number `100.17`, from its decimal text so no float rounding shows.
fn hundredths_number(h: i64) -> Option<serde_json::Number> {
    Amount::from_hundredths(h)
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
}
