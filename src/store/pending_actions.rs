//! Actions of fired policies waiting out their grace period (docs/ladder.md §4). A row exists
//! only while its action waits: the transaction that applies it deletes it first, a conditional
//! delete that only one transaction can win, and a reset deletes the rows it drops.

use super::rows::{decoded, undecodable};
use super::{in_list, placeholders, Result, Tx};
use crate::domain::ladder::PendingAction;
use crate::domain::time::Micros;
use crate::domain::Action;
use sqlx::{AnyConnection, FromRow};

#[derive(FromRow)]
struct PendingRow {
    policy_id: i64,
    customer_id: i64,
    action: String,
    due: i64,
    fired_at: i64,
}

impl TryFrom<PendingRow> for PendingAction {
    type Error = sqlx::Error;

    fn try_from(row: PendingRow) -> Result<Self> {
        Ok(PendingAction {
            policy_id: row.policy_id,
            customer_id: row.customer_id,
            action: decoded("policy_pending_actions.action", &row.action, Action::parse)?,
            due: row.due,
            fired_at: row.fired_at,
        })
    }
}

const COLUMNS: &str = "a.policy_id, p.customer_id, a.action, a.due, a.fired_at \
     FROM policy_pending_actions a JOIN policies p ON p.id = a.policy_id";

pub async fn add(tx: &mut Tx, policy_id: i64, action: Action, due: Micros, fired_at: Micros) -> Result<()> {
    sqlx::query("INSERT INTO policy_pending_actions (policy_id, action, due, fired_at) VALUES ($1, $2, $3, $4)")
        .bind(policy_id)
        .bind(action.name())
        .bind(due)
        .bind(fired_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The actions of the policies still waiting, by policy, then due time.
pub async fn of_policies(conn: &mut AnyConnection, policy_ids: &[i64]) -> Result<Vec<PendingAction>> {
    if policy_ids.is_empty() {
        return Ok(vec![]);
    }
    let ids = in_list(policy_ids);
    let sql = format!(
        "SELECT {COLUMNS} WHERE a.policy_id IN ({}) ORDER BY a.policy_id, a.due, a.action",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query_as::<_, PendingRow>(&sql);
    for id in &ids {
        q = q.bind(*id);
    }
    q.fetch_all(conn)
        .await?
        .into_iter()
        .map(PendingAction::try_from)
        .collect()
}

/// Drops the policy's waiting actions among `actions` (all of them for `None`); returns those it
/// dropped.
pub async fn cancel(tx: &mut Tx, policy_id: i64, actions: Option<&[Action]>) -> Result<Vec<Action>> {
    let waiting = of_policies(tx, &[policy_id]).await?;
    let mut dropped = Vec::new();
    for p in waiting {
        if actions.is_some_and(|only| !only.contains(&p.action)) {
            continue;
        }
        sqlx::query("DELETE FROM policy_pending_actions WHERE policy_id = $1 AND action = $2")
            .bind(policy_id)
            .bind(p.action.name())
            .execute(&mut **tx)
            .await?;
        dropped.push(p.action);
    }
    Ok(dropped)
}

/// Up to `limit` actions due at `now`, the earliest first.
pub async fn due(conn: &mut AnyConnection, now: Micros, limit: i64) -> Result<Vec<PendingAction>> {
    sqlx::query_as::<_, PendingRow>(&format!(
        "SELECT {COLUMNS} WHERE a.due <= $1 ORDER BY a.due, a.policy_id, a.action LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(PendingAction::try_from)
    .collect()
}

/// When the next action is due, if any waits.
pub async fn next_due(conn: &mut AnyConnection) -> Result<Option<Micros>> {
    sqlx::query_scalar("SELECT MIN(due) FROM policy_pending_actions")
        .fetch_one(conn)
        .await
}

/// Takes a due action to apply it in this transaction: true for the one transaction that deletes
/// its row (a concurrent one waits for that row, then finds it gone), false when it was applied
/// or dropped already.
pub async fn claim(tx: &mut Tx, pending: &PendingAction) -> Result<bool> {
    let r = sqlx::query(
        "DELETE FROM policy_pending_actions WHERE policy_id = $1 AND action = $2 AND fired_at = $3 AND due = $4",
    )
    .bind(pending.policy_id)
    .bind(pending.action.name())
    .bind(pending.fired_at)
    .bind(pending.due)
    .execute(&mut **tx)
    .await?;
    match r.rows_affected() {
        0 => Ok(false),
        1 => Ok(true),
        n => Err(undecodable(
            "policy_pending_actions",
            format!("{n} rows for one action"),
        )),
    }
}
