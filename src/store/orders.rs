use super::visibility as sql;
use super::{any_of, Result, Tx};
use crate::authz::Visibility;
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct OrderRow {
    pub id: i64,
    pub uuid: String,
    pub r#type: String,
    pub state: String,
    pub attributes: String,
    pub limits: String,
    pub error_message: String,
    pub created: i64,
    pub modified: i64,
    pub consumer_reviewed_at: Option<i64>,
    pub provider_reviewed_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub resource_id: Option<i64>,
    pub resource_uuid: Option<String>,
    pub resource_name: Option<String>,
    pub project_id: i64,
    pub project_uuid: String,
    pub project_name: String,
    pub customer_id: i64,
    pub customer_uuid: String,
    pub customer_name: String,
    pub offering_uuid: String,
    pub offering_name: String,
    pub offering_type: String,
    pub provider_customer_id: i64,
    pub provider_uuid: String,
    pub provider_name: String,
    pub plan_uuid: Option<String>,
    pub plan_name: Option<String>,
    pub created_by_username: Option<String>,
    pub created_by_first_name: Option<String>,
    pub created_by_last_name: Option<String>,
    pub consumer_reviewed_by_username: Option<String>,
    pub provider_reviewed_by_username: Option<String>,
}

const SELECT: &str = "SELECT x.id, x.uuid, x.type, x.state, x.attributes, x.limits, x.error_message, \
     x.created, x.modified, x.consumer_reviewed_at, x.provider_reviewed_at, x.completed_at, \
     x.resource_id, r.uuid AS resource_uuid, r.name AS resource_name, \
     p.id AS project_id, p.uuid AS project_uuid, p.name AS project_name, \
     c.id AS customer_id, c.uuid AS customer_uuid, c.name AS customer_name, \
     o.uuid AS offering_uuid, o.name AS offering_name, o.type AS offering_type, \
     pc.id AS provider_customer_id, pc.uuid AS provider_uuid, pc.name AS provider_name, \
     pl.uuid AS plan_uuid, pl.name AS plan_name, \
     cb.username AS created_by_username, cb.first_name AS created_by_first_name, \
     cb.last_name AS created_by_last_name, crb.username AS consumer_reviewed_by_username, \
     prb.username AS provider_reviewed_by_username \
     FROM orders x JOIN projects p ON p.id = x.project_id JOIN customers c ON c.id = p.customer_id \
     JOIN offerings o ON o.id = x.offering_id JOIN customers pc ON pc.id = o.customer_id \
     LEFT JOIN resources r ON r.id = x.resource_id LEFT JOIN plans pl ON pl.id = x.plan_id \
     LEFT JOIN users cb ON cb.id = x.created_by_id LEFT JOIN users crb ON crb.id = x.consumer_reviewed_by_id \
     LEFT JOIN users prb ON prb.id = x.provider_reviewed_by_id";

pub struct NewOrder<'a> {
    pub r#type: &'a str,
    pub state: &'a str,
    pub project_id: i64,
    pub offering_id: i64,
    pub plan_id: Option<i64>,
    pub resource_id: i64,
    pub attributes: &'a str,
    pub limits: &'a str,
    pub created_by: i64,
}

pub async fn insert(tx: &mut Tx, uuid: &Uuid32, o: &NewOrder<'_>, now: i64) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO orders (uuid, type, state, project_id, offering_id, plan_id, resource_id, \
         attributes, limits, created_by_id, created, modified) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(o.r#type)
    .bind(o.state)
    .bind(o.project_id)
    .bind(o.offering_id)
    .bind(o.plan_id)
    .bind(o.resource_id)
    .bind(o.attributes)
    .bind(o.limits)
    .bind(o.created_by)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

/// Moves the order from one of `from` to `to`; false when another request moved it first.
pub async fn transition(tx: &mut Tx, id: i64, from: &[&str], to: &str, finished: bool, now: i64) -> Result<bool> {
    // States are our own constants, never client text.
    let states: Vec<String> = from.iter().map(|s| format!("'{s}'")).collect();
    let completed = if finished { ", completed_at = $2" } else { "" };
    let sql = format!(
        "UPDATE orders SET state = $1, modified = $2{completed} WHERE id = $3 AND state IN ({})",
        states.join(", ")
    );
    let result = sqlx::query(&sql).bind(to).bind(now).bind(id).execute(&mut **tx).await?;
    Ok(result.rows_affected() == 1)
}

/// The states of an order that is not finished, as an SQL list.
pub(super) const OPEN_STATES: &str = "('pending-consumer', 'pending-provider', 'executing')";

/// Cancels the resource's orders that are not finished.
pub async fn cancel_open(tx: &mut Tx, resource_id: i64, now: i64) -> Result<()> {
    sqlx::query(&format!(
        "UPDATE orders SET state = 'canceled', modified = $1, completed_at = $1 \
         WHERE resource_id = $2 AND state IN {OPEN_STATES}"
    ))
    .bind(now)
    .bind(resource_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Which side reviewed an order.
#[derive(Debug, Clone, Copy)]
pub enum Reviewer {
    Consumer,
    Provider,
}

pub async fn set_reviewed(tx: &mut Tx, id: i64, side: Reviewer, by: i64, now: i64) -> Result<()> {
    let sql = match side {
        Reviewer::Consumer => "UPDATE orders SET consumer_reviewed_by_id = $1, consumer_reviewed_at = $2 WHERE id = $3",
        Reviewer::Provider => "UPDATE orders SET provider_reviewed_by_id = $1, provider_reviewed_at = $2 WHERE id = $3",
    };
    sqlx::query(sql).bind(by).bind(now).bind(id).execute(&mut **tx).await?;
    Ok(())
}

pub async fn set_error(tx: &mut Tx, id: i64, message: &str) -> Result<()> {
    sqlx::query("UPDATE orders SET error_message = $1 WHERE id = $2")
        .bind(message)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<OrderRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE x.uuid = $1"))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}

pub async fn by_id_tx(tx: &mut Tx, id: i64) -> Result<Option<OrderRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE x.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<OrderRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE x.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Orders are visible to the consumer side (roles on the project or its customer) and to the
/// provider's customer roles.
fn visible(vis: Visibility, u: &str, n: &str) -> String {
    format!(
        "({} OR {})",
        sql::project_member(vis, "x.project_id", "p.customer_id", u, n),
        sql::customer_role(vis, "o.customer_id", u, n)
    )
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<OrderRow>> {
    let (user, now) = vis.binds();
    sqlx::query_as(&format!("{SELECT} WHERE x.uuid = $1 AND {}", visible(vis, "$2", "$3")))
        .bind(uuid.to_string())
        .bind(user)
        .bind(now)
        .fetch_optional(pool)
        .await
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub customer_uuid: Option<String>,
    pub project_uuid: Option<String>,
    pub resource_uuid: Option<String>,
    pub offering_uuid: Option<String>,
    pub provider_uuid: Option<String>,
    /// Any of these (none: any state).
    pub states: Vec<String>,
    pub types: Vec<String>,
}

const FILTER: &str = "($3 IS NULL OR c.uuid = $3) AND ($4 IS NULL OR p.uuid = $4) \
     AND ($5 IS NULL OR r.uuid = $5) AND ($6 IS NULL OR $6 LIKE '%,' || x.state || ',%') \
     AND ($7 IS NULL OR $7 LIKE '%,' || x.type || ',%') AND ($8 IS NULL OR o.uuid = $8) \
     AND ($9 IS NULL OR pc.uuid = $9)";

pub async fn count(pool: &AnyPool, vis: Visibility, f: &OrderFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM orders x JOIN projects p ON p.id = x.project_id \
         JOIN customers c ON c.id = p.customer_id JOIN offerings o ON o.id = x.offering_id \
         JOIN customers pc ON pc.id = o.customer_id \
         LEFT JOIN resources r ON r.id = x.resource_id WHERE {} AND {FILTER}",
        visible(vis, "$1", "$2")
    ))
    .bind(user)
    .bind(now)
    .bind(f.customer_uuid.clone())
    .bind(f.project_uuid.clone())
    .bind(f.resource_uuid.clone())
    .bind(any_of(&f.states))
    .bind(any_of(&f.types))
    .bind(f.offering_uuid.clone())
    .bind(f.provider_uuid.clone())
    .fetch_one(pool)
    .await
}

pub async fn list(pool: &AnyPool, vis: Visibility, f: &OrderFilter, limit: i64, offset: i64) -> Result<Vec<OrderRow>> {
    let (user, now) = vis.binds();
    sqlx::query_as(&format!(
        "{SELECT} WHERE {} AND {FILTER} ORDER BY x.created DESC, x.id DESC LIMIT $10 OFFSET $11",
        visible(vis, "$1", "$2")
    ))
    .bind(user)
    .bind(now)
    .bind(f.customer_uuid.clone())
    .bind(f.project_uuid.clone())
    .bind(f.resource_uuid.clone())
    .bind(any_of(&f.states))
    .bind(any_of(&f.types))
    .bind(f.offering_uuid.clone())
    .bind(f.provider_uuid.clone())
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}
