//! A signed JSON POST to every configured URL for each transition.

use super::{ActionsConfig, TransitionCtx};
use crate::engine::Transition;
use crate::service::evaluation::exceeded;
use crate::store::{self, Tx};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    pub customer_id: i64,
    pub body: Value,
}

pub async fn queue(tx: &mut Tx, cfg: &ActionsConfig, ctx: &TransitionCtx<'_>) -> store::Result<()> {
    if cfg.webhook_urls.is_empty() {
        return Ok(());
    }
    let event = if ctx.transition == Transition::Fire {
        "policy_fired"
    } else {
        "policy_reset"
    };
    let mut body = json!({
        "event": event,
        "policy_uuid": ctx.policy.uuid,
        "customer_uuid": ctx.policy.customer_uuid,
        "customer_name": ctx.policy.customer_name,
        "actions": ctx.policy.actions,
        "at": crate::domain::time::render(ctx.stamp()),
    });
    if ctx.transition == Transition::Fire {
        body["exceeded"] = exceeded(ctx.assessment);
    }
    for url in &cfg.webhook_urls {
        let key = ctx.delivery_key("webhook", url);
        let mut with_key = body.clone();
        with_key["delivery_key"] = json!(key);
        let payload = serde_json::to_string(&Webhook {
            url: url.clone(),
            customer_id: ctx.policy.customer_id,
            body: with_key,
        })
        .unwrap_or_default();
        store::outbox::enqueue(tx, &key, "webhook", &payload, ctx.stamp()).await?;
    }
    Ok(())
}

/// `sha256=<hex>` of the body under the shared secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
