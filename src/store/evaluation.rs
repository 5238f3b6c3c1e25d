//! What evaluating policies reads and writes: policy states, limit rows, monthly totals, and
//! the conditional updates that make each transition happen once.

use super::packed::{Select, NO_BINDS};
use super::{in_list, placeholders, Result, Tx};
use serde::Deserialize;
use sqlx::{Any, AnyConnection, Executor, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct PolicyState {
    pub id: i64,
    pub uuid: String,
    pub customer_id: i64,
    pub customer_uuid: String,
    pub customer_name: String,
    pub actions: String,
    pub options: String,
    pub has_fired: i64,
}

const STATE_COLUMNS: &str = "p.id, p.uuid, p.customer_id, c.uuid AS customer_uuid, c.name AS customer_name, \
     p.actions, p.options, p.has_fired";
const STATE_FROM: &str = "FROM policies p JOIN customers c ON c.id = p.customer_id";

/// Locks the customers' rows, in id order, with `lock` (PostgreSQL; nothing on SQLite, whose one
/// writer connection already serialises write transactions).
pub async fn lock_customers(tx: &mut Tx, customer_ids: &[i64], lock: &str) -> Result<()> {
    if customer_ids.is_empty() || lock.is_empty() {
        return Ok(());
    }
    let ids = in_list(customer_ids);
    let sql = format!(
        "SELECT id FROM customers WHERE id IN ({}) ORDER BY id {lock}",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query_scalar::<_, i64>(&sql);
    for id in &ids {
        q = q.bind(*id);
    }
    q.fetch_all(&mut **tx).await?;
    Ok(())
}

pub async fn policy(tx: &mut Tx, policy_id: i64) -> Result<Option<PolicyState>> {
    Ok(policies(tx, &[policy_id]).await?.pop())
}

/// The policies that still exist among `policy_ids`, in id order.
pub async fn policies(tx: &mut Tx, policy_ids: &[i64]) -> Result<Vec<PolicyState>> {
    if policy_ids.is_empty() {
        return Ok(vec![]);
    }
    let ids = in_list(policy_ids);
    let sql = format!(
        "SELECT {STATE_COLUMNS} {STATE_FROM} WHERE p.id IN ({}) ORDER BY p.id",
        placeholders(1, ids.len()),
    );
    let mut q = sqlx::query_as(&sql);
    for id in &ids {
        q = q.bind(*id);
    }
    q.fetch_all(&mut **tx).await
}

#[derive(Debug, Clone, FromRow)]
pub struct LimitFact {
    pub policy_id: i64,
    pub component_id: i64,
    pub component_uuid: String,
    pub component_type: String,
    pub component_name: String,
    pub measured_unit: String,
    pub limit_value: i64,
    pub period: i64,
}

const LIMIT_COLUMNS: &str = "l.policy_id, l.component_id, oc.uuid AS component_uuid, oc.type AS component_type, \
     oc.name AS component_name, oc.measured_unit, l.limit_value, l.period";
const LIMIT_JOIN: &str = "JOIN offering_components oc ON oc.id = l.component_id";

const RULE_COLUMNS: &[&str] = &[
    "p.id AS policy_id",
    "p.customer_id",
    "p.has_fired",
    "l.component_id",
    "l.limit_value",
    "l.period",
];

/// A limit row with what deciding its policy's transition needs of the policy.
#[derive(Debug, Clone, FromRow, Deserialize)]
pub struct RuleFact {
    pub policy_id: i64,
    pub customer_id: i64,
    pub has_fired: i64,
    pub component_id: i64,
    pub limit_value: i64,
    pub period: i64,
}

/// The limit rows of the customers' policies that limit any of `component_ids`, in policy
/// order. Only what a decision needs: a transition reads the rest.
pub async fn rules_limiting(tx: &mut Tx, customer_ids: &[i64], component_ids: &[i64]) -> Result<Vec<RuleFact>> {
    if customer_ids.is_empty() || component_ids.is_empty() {
        return Ok(vec![]);
    }
    let (customers, components) = (in_list(customer_ids), in_list(component_ids));
    let from = format!(
        "FROM policies p JOIN policy_limits l ON l.policy_id = p.id \
         WHERE p.customer_id IN ({}) AND EXISTS (SELECT 1 FROM policy_limits x \
         WHERE x.policy_id = p.id AND x.component_id IN ({}))",
        placeholders(1, customers.len()),
        placeholders(1 + customers.len(), components.len()),
    );
    Select::new(RULE_COLUMNS, &from)
        .order_by("p.id, l.id")
        .fetch_all(tx, &[customers, components].concat())
        .await
}

/// Components about to go, with the policy limits on them.
#[derive(Debug, Clone, Copy)]
pub enum Components {
    One(i64),
    OfOffering(i64),
    /// Of every offering of this provider customer.
    OfProvider(i64),
}

/// (customer, policy) of the policies with a limit on any of the components, by customer.
pub async fn policies_limiting(tx: &mut Tx, components: Components) -> Result<Vec<(i64, i64)>> {
    let (condition, id) = match components {
        Components::One(id) => ("oc.id = $1", id),
        Components::OfOffering(id) => ("oc.offering_id = $1", id),
        Components::OfProvider(id) => (
            "oc.offering_id IN (SELECT id FROM offerings WHERE customer_id = $1)",
            id,
        ),
    };
    sqlx::query_as(&format!(
        "SELECT DISTINCT p.customer_id, p.id FROM policies p JOIN policy_limits l ON l.policy_id = p.id \
         JOIN offering_components oc ON oc.id = l.component_id WHERE {condition} ORDER BY p.customer_id, p.id"
    ))
    .bind(id)
    .fetch_all(&mut **tx)
    .await
}

pub async fn limits_of<'c, E: Executor<'c, Database = Any>>(ex: E, policy_ids: &[i64]) -> Result<Vec<LimitFact>> {
    if policy_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {LIMIT_COLUMNS} FROM policy_limits l {LIMIT_JOIN} WHERE l.policy_id IN ({}) ORDER BY l.id",
        placeholders(1, policy_ids.len())
    );
    let mut q = sqlx::query_as(&sql);
    for id in policy_ids {
        q = q.bind(*id);
    }
    q.fetch_all(ex).await
}

#[derive(Debug, Clone, Copy, FromRow, Deserialize)]
pub struct TotalFact {
    pub customer_id: i64,
    pub component_id: i64,
    pub billing_month: i64,
    pub usage: i64,
}

/// The customers' monthly totals of the given components from `from_month` (`None`: from the
/// first) up to `until_month`, both inclusive.
pub async fn totals_of(
    conn: &mut AnyConnection,
    customer_ids: &[i64],
    component_ids: &[i64],
    from_month: Option<i64>,
    until_month: i64,
) -> Result<Vec<TotalFact>> {
    if customer_ids.is_empty() || component_ids.is_empty() {
        return Ok(vec![]);
    }
    let (customers, components) = (in_list(customer_ids), in_list(component_ids));
    let from = format!(
        "FROM usage_totals WHERE billing_month >= $1 AND billing_month <= $2 \
         AND customer_id IN ({}) AND component_id IN ({})",
        placeholders(3, customers.len()),
        placeholders(3 + customers.len(), components.len())
    );
    let months = [from_month.unwrap_or(i64::MIN), until_month];
    let binds = [&months[..], &customers, &components].concat();
    Select::new(TOTAL_COLUMNS, &from).fetch_all(conn, &binds).await
}

/// Not fired → fired; false when the policy was already fired (another writer won).
pub async fn mark_fired(tx: &mut Tx, policy_id: i64, now: i64) -> Result<bool> {
    let r = sqlx::query("UPDATE policies SET has_fired = 1, fired_datetime = $1 WHERE id = $2 AND has_fired = 0")
        .bind(now)
        .bind(policy_id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Fired → not fired; `fired_datetime` keeps the last crossing (docs/evaluation.md §5.4).
pub async fn mark_reset(tx: &mut Tx, policy_id: i64) -> Result<bool> {
    let r = sqlx::query("UPDATE policies SET has_fired = 0 WHERE id = $1 AND has_fired = 1")
        .bind(policy_id)
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected() == 1)
}

const TOTAL_COLUMNS: &[&str] = &["customer_id", "component_id", "billing_month", "usage"];

/// Everything a full sweep needs, read in three queries.
pub async fn all_states(conn: &mut AnyConnection) -> Result<Vec<(i64, i64, i64)>> {
    Select::new(&["id", "customer_id", "has_fired"], "FROM policies")
        .fetch_all(conn, NO_BINDS)
        .await
}

pub async fn all_limits(conn: &mut AnyConnection) -> Result<Vec<(i64, i64, i64, i64)>> {
    Select::new(
        &["policy_id", "component_id", "limit_value", "period"],
        "FROM policy_limits",
    )
    .fetch_all(conn, NO_BINDS)
    .await
}

/// Every customer's totals from `from_month` (`None`: from the first) up to `until_month`.
pub async fn all_totals(conn: &mut AnyConnection, from_month: Option<i64>, until_month: i64) -> Result<Vec<TotalFact>> {
    Select::new(
        TOTAL_COLUMNS,
        "FROM usage_totals WHERE billing_month >= $1 AND billing_month <= $2",
    )
    .fetch_all(conn, &[from_month.unwrap_or(i64::MIN), until_month])
    .await
}
