//! The audit trail: transitions, actions, blocked requests, deliveries.

use super::visibility as sql;
use super::{Result, Tx};
use crate::authz::Visibility;
use crate::domain::event::{Event, EventFilter};
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

/// An event as a list selects it; `Event` is its decoded form.
#[derive(Debug, FromRow)]
struct EventRow {
    uuid: String,
    created: i64,
    event_type: String,
    message: String,
    context: String,
}

impl TryFrom<EventRow> for Event {
    type Error = sqlx::Error;

    fn try_from(row: EventRow) -> Result<Self> {
        let undecodable = |column: &str, value: &str| {
            sqlx::Error::Decode(format!("events: {column} holds {value}, which is not a valid value").into())
        };
        let context = match serde_json::from_str(&row.context) {
            Ok(Value::Object(context)) => context,
            _ => return Err(undecodable("context", &row.context)),
        };
        Ok(Event {
            uuid: row.uuid.parse().map_err(|_| undecodable("uuid", &row.uuid))?,
            created: row.created,
            event_type: row.event_type,
            message: row.message,
            context,
        })
    }
}

/// The filter's SQL after the two visibility parameters, and its binds in order.
fn filter_sql(f: &EventFilter) -> (String, Vec<String>) {
    let mut clauses = vec!["1 = 1".to_string()];
    let mut binds = Vec::new();
    let mut next = 3;
    if !f.event_types.is_empty() {
        let params: Vec<String> = f
            .event_types
            .iter()
            .map(|_| {
                next += 1;
                format!("${}", next - 1)
            })
            .collect();
        clauses.push(format!("e.event_type IN ({})", params.join(", ")));
        binds.extend(f.event_types.iter().cloned());
    }
    for c in &f.customer_uuids {
        clauses.push(format!("c.uuid = ${next}"));
        next += 1;
        binds.push(c.to_string());
    }
    if let Some(p) = &f.policy_uuid {
        clauses.push(format!("e.policy_uuid = ${next}"));
        binds.push(p.to_string());
    }
    (clauses.join(" AND "), binds)
}

const FROM: &str = "FROM events e LEFT JOIN customers c ON c.id = e.customer_id";

/// Events follow the policy's visibility: staff and support all, others their customers'.
fn visible(vis: Visibility) -> String {
    sql::customer_role(vis, "e.customer_id", "$1", "$2")
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &EventFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    let (filter, binds) = filter_sql(f);
    let sql = format!("SELECT COUNT(*) {FROM} WHERE {} AND {filter}", visible(vis));
    let mut q = sqlx::query_scalar(&sql).bind(user).bind(now);
    for b in binds {
        q = q.bind(b);
    }
    q.fetch_one(pool).await
}

pub async fn list(pool: &AnyPool, vis: Visibility, f: &EventFilter, limit: i64, offset: i64) -> Result<Vec<Event>> {
    let (user, now) = vis.binds();
    let (filter, binds) = filter_sql(f);
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
    let rows: Vec<EventRow> = q.bind(limit).bind(offset).fetch_all(pool).await?;
    rows.into_iter().map(Event::try_from).collect()
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
