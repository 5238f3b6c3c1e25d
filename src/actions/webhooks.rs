//! A signed JSON POST to every configured URL for each transition.

use super::{ActionsConfig, TransitionCtx};
use crate::engine::Transition;
use crate::store::{self, Tx};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub url: String,
    /// The URL's 1-based place in the configured list (0 in rows queued before it was kept).
    #[serde(default)]
    pub index: usize,
    pub customer_id: i64,
    pub body: Value,
}

impl Webhook {
    /// How events, errors and logs name the webhook: its place and host, never its URL, whose
    /// path or query may carry a secret and whose events customer roles read.
    pub fn label(&self) -> String {
        label(self.index, &self.url)
    }
}

/// `webhook #<index> (<host>)`.
pub fn label(index: usize, url: &str) -> String {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "invalid URL".into());
    if index == 0 {
        format!("webhook ({host})")
    } else {
        format!("webhook #{index} ({host})")
    }
}

/// Queues the transition's webhook to every configured URL.
pub async fn queue(tx: &mut Tx, cfg: &ActionsConfig, ctx: &TransitionCtx<'_>) -> store::Result<()> {
    let event = if ctx.transition == Transition::Fire {
        "policy_fired"
    } else {
        "policy_reset"
    };
    let mut body = json!({
        "event": event,
        "policy_uuid": ctx.policy.uuid.to_string(),
        "customer_uuid": ctx.policy.customer_uuid.to_string(),
        "customer_name": ctx.policy.customer_name,
        "actions": ctx.policy.actions.to_string(),
        "at": crate::domain::time::render(ctx.stamp()),
    });
    if ctx.transition == Transition::Fire {
        body["exceeded"] = ctx.exceeded();
    }
    send(tx, cfg, ctx, body, |index| {
        ctx.delivery_key("webhook", &format!("#{index}"))
    })
    .await
}

/// Queues `body` to every configured URL, each with its delivery key (`key` of the URL's place).
pub async fn send(
    tx: &mut Tx,
    cfg: &ActionsConfig,
    ctx: &TransitionCtx<'_>,
    body: Value,
    key: impl Fn(usize) -> String,
) -> store::Result<()> {
    for (index, url) in (1..).zip(&cfg.webhook_urls) {
        // The key is sent to the receiver and written to events: it names the webhook by its
        // place in the list, not by its URL.
        let key = key(index);
        let mut with_key = body.clone();
        with_key["delivery_key"] = json!(key);
        let payload = serde_json::to_string(&Webhook {
            url: url.clone(),
            index,
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
    fn a_label_names_place_and_host_only() {
        assert_eq!(
            label(2, "https://user:pw@hooks.example.org:8443/p/secret?token=s3cret"),
            "webhook #2 (hooks.example.org)"
        );
        assert_eq!(label(0, "http://10.0.0.1/x?secret=1"), "webhook (10.0.0.1)");
        assert_eq!(label(1, "not a url?secret=1"), "webhook #1 (invalid URL)");
    }

    #[test]
    fn signature_matches_a_known_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
