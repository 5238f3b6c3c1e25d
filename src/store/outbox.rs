//! The delivery queue for effects outside meterguard (emails, webhooks): rows are written in
//! the transaction that decided them and delivered after commit by a worker.

use super::{Result, RowLock, Tx};
use sqlx::{AnyPool, FromRow};

/// Deliveries neither done nor given up on.
pub async fn pending(pool: &AnyPool) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL")
        .fetch_one(pool)
        .await
}

/// Queues a delivery; a key already queued is left alone (it is the same message).
pub async fn enqueue(tx: &mut Tx, key: &str, kind: &str, payload: &str, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (delivery_key, kind, payload, attempts, next_attempt_at, created) \
         VALUES ($1, $2, $3, 0, $4, $4) ON CONFLICT (delivery_key) DO NOTHING",
    )
    .bind(key)
    .bind(kind)
    .bind(payload)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct Delivery {
    pub id: i64,
    pub delivery_key: String,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
}

/// Takes up to `limit` due deliveries, holding them until `lease_until` so that no other worker
/// (instance) takes them meanwhile. PostgreSQL workers pass over rows another worker is claiming
/// right now.
pub async fn claim(tx: &mut Tx, now: i64, lease_until: i64, limit: i64) -> Result<Vec<Delivery>> {
    let skip_locked = RowLock::SkipLocked.clause(tx);
    sqlx::query_as(&format!(
        "UPDATE outbox SET next_attempt_at = $1 WHERE id IN (SELECT id FROM outbox \
         WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $2 \
         ORDER BY id LIMIT $3 {skip_locked}) \
         RETURNING id, delivery_key, kind, payload, attempts"
    ))
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

pub async fn delivered(tx: &mut Tx, id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE outbox SET delivered_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or given up on when that is `None`.
pub async fn attempt_failed(tx: &mut Tx, id: i64, error: &str, retry_at: Option<i64>, now: i64) -> Result<()> {
    match retry_at {
        Some(at) => {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(at)
            .bind(id)
            .execute(&mut **tx)
            .await?
        }
        None => {
            sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $1, failed_at = $2 WHERE id = $3")
                .bind(error)
                .bind(now)
                .bind(id)
                .execute(&mut **tx)
                .await?
        }
    };
    Ok(())
}

/// Deletes up to `limit` deliveries done before `before`; returns how many. Failed ones stay.
pub async fn prune_delivered(tx: &mut Tx, before: i64, limit: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE delivered_at < $1 LIMIT $2)")
        .bind(before)
        .bind(limit)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}
