//! Deletes, on a schedule, what nothing needs any more: expired tokens, login failure counts
//! whose lockout has passed, deliveries done a while ago and, when a retention is set, old
//! events. Without it these tables only grow.

use crate::clock::Clock;
use crate::config::Settings;
use crate::store::{self, Db, Tx};
use chrono::Duration;
use std::future::Future;

/// Rows deleted per transaction: on SQLite every write waits for the one writer connection, so
/// a long backlog is deleted in short transactions rather than one long one.
const CHUNK: i64 = 1_000;

#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Seconds a token lives unused when its owner has no `token_lifetime`.
    pub token_lifetime_seconds: i64,
    pub lockout_micros: i64,
    /// Time between passes; a delivery done more than this long ago is deleted.
    pub interval: Duration,
    pub events: Option<Duration>,
}

impl Retention {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            token_lifetime_seconds: settings.token_lifetime_seconds,
            lockout_micros: settings.login_lockout_seconds.saturating_mul(1_000_000),
            interval: Duration::seconds(i64::from(settings.retention_interval_seconds)),
            events: settings
                .event_retention_days
                .map(|days| Duration::days(i64::from(days))),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Table {
    Tokens,
    LoginFailures,
    Deliveries,
    Events(Duration),
}

/// What one pass deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub tokens: u64,
    pub login_failures: u64,
    pub deliveries: u64,
    pub events: u64,
}

/// One retention pass at `now`.
pub async fn prune(db: &Db, retention: &Retention, now: i64) -> sqlx::Result<Pruned> {
    Ok(Pruned {
        tokens: drain(db, retention, Table::Tokens, now).await?,
        login_failures: drain(db, retention, Table::LoginFailures, now).await?,
        deliveries: drain(db, retention, Table::Deliveries, now).await?,
        events: match retention.events {
            Some(keep) => drain(db, retention, Table::Events(keep), now).await?,
            None => 0,
        },
    })
}

async fn drain(db: &Db, retention: &Retention, table: Table, now: i64) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let mut tx = db.begin().await?;
        let deleted = chunk(&mut tx, retention, table, now).await?;
        tx.commit().await?;
        total += deleted;
        if deleted < CHUNK as u64 {
            return Ok(total);
        }
    }
}

async fn chunk(tx: &mut Tx, retention: &Retention, table: Table, now: i64) -> sqlx::Result<u64> {
    let before = |age: Duration| now - age.num_microseconds().unwrap_or(i64::MAX / 2);
    match table {
        Table::Tokens => store::users::prune_expired_tokens(tx, retention.token_lifetime_seconds, now, CHUNK).await,
        Table::LoginFailures => store::users::prune_login_failures(tx, now - retention.lockout_micros, CHUNK).await,
        Table::Deliveries => store::outbox::prune_delivered(tx, before(retention.interval), CHUNK).await,
        Table::Events(keep) => store::events::prune(tx, before(keep), CHUNK).await,
    }
}

/// Prunes at start and then every interval of `clock`, until `stop` resolves. A failed pass
/// ends the run with its error, for the supervisor to log, count and start again.
pub async fn run(db: Db, retention: Retention, clock: Clock, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
    tokio::pin!(stop);
    loop {
        let now = clock.now();
        let pruned = prune(&db, &retention, now.timestamp_micros()).await?;
        tracing::info!(?pruned, "retention pass");
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = clock.sleep_until(now + retention.interval) => {}
        }
    }
}
