//! Actions waiting out their grace period, applied when they are due (docs/ladder.md §4). Each
//! is applied in a transaction of its own, which claims its row first: with several instances
//! on one database, the one that claims it applies it, and a crash before the commit leaves the
//! row for the next pass.

use super::evaluation;
use crate::actions::ActionsConfig;
use crate::domain::time;
use crate::store::{self, Db};
use chrono::{DateTime, Utc};

/// How many due actions one pass reads; the scheduler comes back at once for more.
const PER_PASS: i64 = 100;

/// Applies the actions due at `now` (up to a pass's worth); returns how many it applied and when
/// the next action is due, if one waits.
pub async fn apply_due(
    db: &Db,
    cfg: &ActionsConfig,
    now: DateTime<Utc>,
) -> store::Result<(usize, Option<DateTime<Utc>>)> {
    let mut conn = db.reader().acquire().await?;
    let due = store::pending_actions::due(&mut conn, now.timestamp_micros(), PER_PASS).await?;
    drop(conn);
    let mut applied = 0;
    for pending in &due {
        let mut tx = db.begin().await?;
        if evaluation::apply_waiting(&mut tx, db, cfg, pending, now).await? {
            applied += 1;
        }
        tx.commit().await?;
    }
    let mut conn = db.reader().acquire().await?;
    let next = store::pending_actions::next_due(&mut conn).await?;
    Ok((applied, next.map(time::from_micros)))
}
