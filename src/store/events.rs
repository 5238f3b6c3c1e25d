//! The audit trail: transitions, actions, blocked requests, deliveries.

use super::visibility as sql;
use super::{Result, Tx};
use crate::authz::Visibility;
use crate::domain::Uuid32;
use serde_json::Value;
use sqlx::{AnyPool, FromRow};

pub struct NewEvent<'a> {
    pub event_type: &'a str,
    pub message: &'a str,
    pub context: &'a Value,
    pub customer_id: Option<i64>,
    pub policy_uuid: Option<&'a str>,
}

pub async fn insert(tx: &mut Tx, e: &NewEvent<'_>, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (uuid, created, event_type, message, context, customer_id, policy_uuid) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid32::new_v4().to_string())
    .bind(now)
    .bind(e.event_type)
    .bind(e.message)
    .bind(e.context.to_string())
    .bind(e.customer_id)
    .bind(e.policy_uuid)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub uuid: String,
    pub created: i64,
    pub event_type: String,
    pub message: String,
    pub context: String,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_types: Vec<String>,
    /// The customer each must be of: `customer_uuid` and `scope` each add one.
    pub customer_uuids: Vec<String>,
    pub policy_uuid: Option<String>,
}

impl EventFilter {
    /// The filter's SQL after the two visibility parameters, and its binds in order.
    fn sql(&self) -> (String, Vec<String>) {
        let mut clauses = vec!["1 = 1".to_string()];
        let mut binds = Vec::new();
        let mut next = 3;
        if !self.event_types.is_empty() {
            let params: Vec<String> = self
                .event_types
                .iter()
                .map(|_| {
                    next += 1;
                    format!("${}", next - 1)
                })
                .collect();
            clauses.push(format!("e.event_type IN ({})", params.join(", ")));
            binds.extend(self.event_types.iter().cloned());
        }
        for c in &self.customer_uuids {
            clauses.push(format!("c.uuid = ${next}"));
            next += 1;
            binds.push(c.clone());
        }
        if let Some(p) = &self.policy_uuid {
            clauses.push(format!("e.policy_uuid = ${next}"));
            binds.push(p.clone());
        }
        (clauses.join(" AND "), binds)
    }
}

const FROM: &str = "FROM events e LEFT JOIN customers c ON c.id = e.customer_id";

/// Events follow the policy's visibility: staff and support all, others their customers'.
fn visible(vis: Visibility) -> String {
    sql::customer_role(vis, "e.customer_id", "$1", "$2")
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &EventFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    let (filter, binds) = f.sql();
    let sql = format!("SELECT COUNT(*) {FROM} WHERE {} AND {filter}", visible(vis));
    let mut q = sqlx::query_scalar(&sql).bind(user).bind(now);
    for b in binds {
        q = q.bind(b);
    }
    q.fetch_one(pool).await
}

pub async fn list(pool: &AnyPool, vis: Visibility, f: &EventFilter, limit: i64, offset: i64) -> Result<Vec<EventRow>> {
    let (user, now) = vis.binds();
    let (filter, binds) = f.sql();
    let n = binds.len();
    let sql = format!(
        "SELECT e.uuid, e.created, e.event_type, e.message, e.context {FROM} WHERE {} AND {filter} \
         ORDER BY e.id DESC LIMIT ${} OFFSET ${}",
        visible(vis),
        n + 3,
        n + 4
    );
    let mut q = sqlx::query_as(&sql).bind(user).bind(now);
    for b in binds {
        q = q.bind(b);
    }
    q.bind(limit).bind(offset).fetch_all(pool).await
}

/// Deletes up to `limit` events recorded before `before`; returns how many.
pub async fn prune(tx: &mut Tx, before: i64, limit: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created < $1 LIMIT $2)")
        .bind(before)
        .bind(limit)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}
