//! The delivery queue for effects outside meterguard (emails, webhooks).

use super::Result;
use sqlx::AnyPool;

/// Deliveries neither done nor given up on.
pub async fn pending(pool: &AnyPool) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL")
        .fetch_one(pool)
        .await
}
