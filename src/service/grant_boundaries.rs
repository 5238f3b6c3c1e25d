//! Grants' starts and expiries, each evaluating its policy at that exact instant
//! (docs/grants.md §3). Each boundary is processed in a transaction of its own, which locks the
//! customer and then claims the boundary with a conditional update: with several instances on
//! one database, the one whose update wins evaluates the policy, and a crash before the commit
//! leaves the boundary for the next pass. A boundary processed late is still evaluated as at its
//! own time, so an expiry that pushes usage over fires at the expiry.

use super::evaluation;
use super::grants::{record, GrantEvent};
use crate::actions::ActionsConfig;
use crate::domain::grant::GrantBoundary;
use crate::domain::time;
use crate::engine::TransitionCount;
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};

/// How many due boundaries one pass reads; the scheduler comes back at once for more.
const PER_PASS: i64 = 100;

/// Processes the boundaries due at `now` (up to a pass's worth); returns how many it processed
/// and when the next one is due, if one waits.
pub async fn process_due(
    db: &Db,
    cfg: &ActionsConfig,
    now: DateTime<Utc>,
) -> store::Result<(usize, Option<DateTime<Utc>>)> {
    let mut conn = db.reader().acquire().await?;
    let due = store::grants::due(&mut conn, now.timestamp_micros(), PER_PASS).await?;
    drop(conn);
    let mut processed = 0;
    for boundary in &due {
        let mut tx = db.begin().await?;
        let made = process(&mut tx, db, cfg, boundary).await?;
        tx.commit().await?;
        if let Some(made) = made {
            processed += 1;
            cfg.after_commit(made);
        }
    }
    let mut conn = db.reader().acquire().await?;
    let next = store::grants::next_due(&mut conn).await?;
    Ok((processed, next.map(time::from_micros)))
}

/// Evaluates the boundary's policy at the boundary, if this transaction claims it; `None` when
/// another did first (or the policy moved meanwhile: the next pass reads it anew).
async fn process(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    boundary: &GrantBoundary,
) -> store::Result<Option<TransitionCount>> {
    evaluation::lock_customers(tx, &[boundary.customer_id]).await?;
    if !store::grants::claim(tx, boundary).await? {
        return Ok(None);
    }
    if boundary.is_expiry() {
        record(
            tx,
            boundary.policy_id,
            boundary.grant_id,
            GrantEvent::Expired,
            boundary.at,
        )
        .await?;
    }
    let at = time::from_micros(boundary.at);
    let made = evaluation::policy(tx, db, cfg, boundary.customer_id, boundary.policy_id, at).await?;
    Ok(Some(made))
}
