//! Orders: their rows, read back decoded into `domain::order::Order`.

use super::rows::decoded;
use super::visibility as sql;
use super::{any_of, Result, Tx};
use crate::authz::Visibility;
use crate::domain::marketplace::{OrderState, OrderType};
use crate::domain::order::{Order, OrderFilter};
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

/// An order's row as the query returns it; `Order` is what leaves the store.
#[derive(FromRow)]
struct OrderRow {
    id: i64,
    uuid: String,
    r#type: String,
    state: String,
    attributes: String,
    limits: String,
    error_message: String,
    created: i64,
    modified: i64,
    consumer_reviewed_at: Option<i64>,
    provider_reviewed_at: Option<i64>,
    completed_at: Option<i64>,
    resource_id: Option<i64>,
    resource_uuid: Option<String>,
    resource_name: Option<String>,
    project_id: i64,
    project_uuid: String,
    project_name: String,
    customer_id: i64,
    customer_uuid: String,
    customer_name: String,
    offering_uuid: String,
    offering_name: String,
    offering_type: String,
    provider_customer_id: i64,
    provider_uuid: String,
    provider_name: String,
    plan_uuid: Option<String>,
    plan_name: Option<String>,
    created_by_username: Option<String>,
    created_by_first_name: Option<String>,
    created_by_last_name: Option<String>,
    consumer_reviewed_by_username: Option<String>,
    provider_reviewed_by_username: Option<String>,
}

impl TryFrom<OrderRow> for Order {
    type Error = sqlx::Error;

    fn try_from(row: OrderRow) -> Result<Self> {
        let uuid = |column, text: &str| decoded(column, text, |s| s.parse().ok());
        let optional_uuid = |column, text: Option<String>| text.map(|t| uuid(column, &t)).transpose();
        Ok(Order {
            id: row.id,
            uuid: uuid("orders.uuid", &row.uuid)?,
            kind: decoded("orders.type", &row.r#type, OrderType::parse)?,
            state: decoded("orders.state", &row.state, OrderState::parse)?,
            attributes: row.attributes,
            limits: row.limits,
            error_message: row.error_message,
            created: row.created,
            modified: row.modified,
            consumer_reviewed_at: row.consumer_reviewed_at,
            provider_reviewed_at: row.provider_reviewed_at,
            completed_at: row.completed_at,
            resource_id: row.resource_id,
            resource_uuid: optional_uuid("resources.uuid", row.resource_uuid)?,
            resource_name: row.resource_name,
            project_id: row.project_id,
            project_uuid: uuid("projects.uuid", &row.project_uuid)?,
            project_name: row.project_name,
            customer_id: row.customer_id,
            customer_uuid: uuid("customers.uuid", &row.customer_uuid)?,
            customer_name: row.customer_name,
            offering_uuid: uuid("offerings.uuid", &row.offering_uuid)?,
            offering_name: row.offering_name,
            offering_type: row.offering_type,
            provider_customer_id: row.provider_customer_id,
            provider_uuid: uuid("customers.uuid", &row.provider_uuid)?,
            provider_name: row.provider_name,
            plan_uuid: optional_uuid("plans.uuid", row.plan_uuid)?,
            plan_name: row.plan_name,
            created_by_username: row.created_by_username,
            created_by_first_name: row.created_by_first_name,
            created_by_last_name: row.created_by_last_name,
            consumer_reviewed_by_username: row.consumer_reviewed_by_username,
            provider_reviewed_by_username: row.provider_reviewed_by_username,
        })
    }
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
    pub kind: OrderType,
    pub state: OrderState,
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
    .bind(o.kind.as_str())
    .bind(o.state.as_str())
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

/// Moves the order from one of `from` to `to`, stamping `completed_at` when `to` finishes it;
/// false when another request moved it first.
pub async fn transition(tx: &mut Tx, id: i64, from: &[OrderState], to: OrderState, now: i64) -> Result<bool> {
    // States are our own constants, never client text.
    let states: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
    let completed = if to.is_finished() { ", completed_at = $2" } else { "" };
    let sql = format!(
        "UPDATE orders SET state = $1, modified = $2{completed} WHERE id = $3 AND state IN ({})",
        states.join(", ")
    );
    let result = sqlx::query(&sql)
        .bind(to.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
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

pub async fn by_id_tx(tx: &mut Tx, id: i64) -> Result<Option<Order>> {
    let row: Option<OrderRow> = sqlx::query_as(&format!("{SELECT} WHERE x.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(Order::try_from).transpose()
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<Order>> {
    let row: Option<OrderRow> = sqlx::query_as(&format!("{SELECT} WHERE x.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(Order::try_from).transpose()
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

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<Order>> {
    let (user, now) = vis.binds();
    let row: Option<OrderRow> = sqlx::query_as(&format!("{SELECT} WHERE x.uuid = $1 AND {}", visible(vis, "$2", "$3")))
        .bind(uuid.to_string())
        .bind(user)
        .bind(now)
        .fetch_optional(pool)
        .await?;
    row.map(Order::try_from).transpose()
}

const FILTER: &str = "($3 IS NULL OR c.uuid = $3) AND ($4 IS NULL OR p.uuid = $4) \
     AND ($5 IS NULL OR r.uuid = $5) AND ($6 IS NULL OR $6 LIKE '%,' || x.state || ',%') \
     AND ($7 IS NULL OR $7 LIKE '%,' || x.type || ',%') AND ($8 IS NULL OR o.uuid = $8) \
     AND ($9 IS NULL OR pc.uuid = $9)";

/// The filter's states and types, as `any_of` lists.
fn choices(f: &OrderFilter) -> (Option<String>, Option<String>) {
    let states: Vec<String> = f.states.iter().map(|s| s.as_str().to_string()).collect();
    let kinds: Vec<String> = f.kinds.iter().map(|k| k.as_str().to_string()).collect();
    (any_of(&states), any_of(&kinds))
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &OrderFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    let (states, kinds) = choices(f);
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
    .bind(states)
    .bind(kinds)
    .bind(f.offering_uuid.clone())
    .bind(f.provider_uuid.clone())
    .fetch_one(pool)
    .await
}

pub async fn list(pool: &AnyPool, vis: Visibility, f: &OrderFilter, limit: i64, offset: i64) -> Result<Vec<Order>> {
    let (user, now) = vis.binds();
    let (states, kinds) = choices(f);
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE {} AND {FILTER} ORDER BY x.created DESC, x.id DESC LIMIT $10 OFFSET $11",
        visible(vis, "$1", "$2")
    ))
    .bind(user)
    .bind(now)
    .bind(f.customer_uuid.clone())
    .bind(f.project_uuid.clone())
    .bind(f.resource_uuid.clone())
    .bind(states)
    .bind(kinds)
    .bind(f.offering_uuid.clone())
    .bind(f.provider_uuid.clone())
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(Order::try_from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_states_are_the_unfinished_ones() {
        use OrderState::*;
        let open: Vec<String> = [
            PendingConsumer,
            PendingProvider,
            Executing,
            Done,
            Erred,
            Canceled,
            Rejected,
        ]
        .into_iter()
        .filter(|s| !s.is_finished())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
        assert_eq!(OPEN_STATES, format!("({})", open.join(", ")));
    }
}
