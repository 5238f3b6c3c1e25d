//! What evaluating policies reads and writes: policy states, limit rows, monthly totals, and
//! the conditional updates that make each transition happen once. Rows are decoded here into
//! `domain::evaluation`'s types.

use super::grants::{granted_at, ACTIVE_GRANTS};
use super::packed::{Select, NO_BINDS};
use super::rows::{self, undecodable};
use super::{in_list, ladder, placeholders, Result, RowLock, Tx};
use crate::domain::evaluation::{ComponentLimit, CustomerTotal, Firing, LimitRow, PolicyState};
use crate::domain::options::PolicyOptions;
use crate::domain::time::Micros;
use crate::domain::{ActionSet, Amount, Month, Uuid32};
use serde::Deserialize;
use sqlx::{Any, AnyConnection, Executor, FromRow};

#[derive(FromRow)]
struct StateRow {
    id: i64,
    uuid: String,
    customer_id: i64,
    customer_uuid: String,
    customer_name: String,
    actions: String,
    options: String,
    has_fired: i64,
    fired_datetime: Option<i64>,
    warning_thresholds: String,
    reset_below_percent: i64,
    warning_level: Option<i64>,
}

impl TryFrom<StateRow> for PolicyState {
    type Error = sqlx::Error;

    fn try_from(row: StateRow) -> Result<Self> {
        Ok(PolicyState {
            id: row.id,
            uuid: rows::uuid("policies.uuid", &row.uuid)?,
            customer_id: row.customer_id,
            customer_uuid: rows::uuid("customers.uuid", &row.customer_uuid)?,
            customer_name: row.customer_name,
            actions: ActionSet::parse(&row.actions).map_err(|_| undecodable("policies.actions", &row.actions))?,
            options: PolicyOptions::from_stored(&row.options)
                .ok_or_else(|| undecodable("policies.options", &row.options))?,
            has_fired: rows::flag("has_fired", row.has_fired)?,
            fired_at: row.fired_datetime,
            ladder: ladder::decode(&row.warning_thresholds, row.reset_below_percent, row.warning_level)?,
        })
    }
}

const STATE_COLUMNS: &str = "p.id, p.uuid, p.customer_id, c.uuid AS customer_uuid, c.name AS customer_name, \
     p.actions, p.options, p.has_fired, p.fired_datetime, p.warning_thresholds, p.reset_below_percent, \
     p.warning_level";
const STATE_FROM: &str = "FROM policies p JOIN customers c ON c.id = p.customer_id";

/// Locks the customers' rows, in id order, as every path does before it writes or evaluates
/// their policies (PostgreSQL; nothing on SQLite, whose one writer connection already serialises
/// write transactions).
pub async fn lock_customers(tx: &mut Tx, customer_ids: &[i64]) -> Result<()> {
    lock_customer_rows(tx, customer_ids, RowLock::Update).await
}

/// Share-locks the customers' rows, in id order: a policy of theirs that fires (which locks
/// them first) has either committed or waits until this transaction ends.
pub async fn share_lock_customers(tx: &mut Tx, customer_ids: &[i64]) -> Result<()> {
    lock_customer_rows(tx, customer_ids, RowLock::Share).await
}

/// Locks the rows of the customers that the policies among `policy_uuids` belong to, and those
/// of `also`, in id order, and returns their ids; `None` on SQLite, which locks nothing (its one
/// writer connection already serialises write transactions, so what one reads stands).
pub async fn lock_customers_of_policies(
    tx: &mut Tx,
    policy_uuids: &[Uuid32],
    also: &[i64],
) -> Result<Option<Vec<i64>>> {
    let lock = RowLock::Update.clause(tx);
    if lock.is_empty() {
        return Ok(None);
    }
    let (uuids, also) = (in_list(policy_uuids), in_list(also));
    let mut condition = format!(
        "id IN (SELECT customer_id FROM policies WHERE uuid IN ({}))",
        placeholders(1, uuids.len())
    );
    if !also.is_empty() {
        condition += &format!(" OR id IN ({})", placeholders(1 + uuids.len(), also.len()));
    }
    let sql = format!("SELECT id FROM customers WHERE {condition} ORDER BY id {lock}");
    let mut q = sqlx::query_scalar::<_, i64>(&sql);
    for uuid in &uuids {
        q = q.bind(uuid.to_string());
    }
    for id in &also {
        q = q.bind(*id);
    }
    Ok(Some(q.fetch_all(&mut **tx).await?))
}

/// Finds the customers that `uuids` name and locks their rows, in id order (PostgreSQL; SQLite
/// only finds them): one statement for what would otherwise be a lookup and then a lock. The
/// found ones, as (uuid, id); a uuid that names no customer is missing.
pub async fn lock_customers_named(tx: &mut Tx, uuids: &[Uuid32]) -> Result<Vec<(Uuid32, i64)>> {
    if uuids.is_empty() {
        return Ok(Vec::new());
    }
    let lock = RowLock::Update.clause(tx);
    let uuids = in_list(uuids);
    let sql = format!(
        "SELECT uuid, id FROM customers WHERE uuid IN ({}) ORDER BY id {lock}",
        placeholders(1, uuids.len())
    );
    let mut q = sqlx::query_as::<_, (String, i64)>(&sql);
    for uuid in &uuids {
        q = q.bind(uuid.to_string());
    }
    q.fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|(uuid, id)| Ok((rows::uuid("customers.uuid", &uuid)?, id)))
        .collect()
}

async fn lock_customer_rows(tx: &mut Tx, customer_ids: &[i64], lock: RowLock) -> Result<()> {
    let lock = lock.clause(tx);
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
    let mut q = sqlx::query_as::<_, StateRow>(&sql);
    for id in &ids {
        q = q.bind(*id);
    }
    q.fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(PolicyState::try_from)
        .collect()
}

#[derive(FromRow)]
struct ComponentLimitRow {
    policy_id: i64,
    component_id: i64,
    component_uuid: String,
    component_type: String,
    component_name: String,
    measured_unit: String,
    limit_value: i64,
    period: i64,
    granted: i64,
}

impl TryFrom<ComponentLimitRow> for ComponentLimit {
    type Error = sqlx::Error;

    fn try_from(row: ComponentLimitRow) -> Result<Self> {
        Ok(ComponentLimit {
            policy_id: row.policy_id,
            component_id: row.component_id,
            component_uuid: rows::uuid("offering_components.uuid", &row.component_uuid)?,
            component_type: row.component_type,
            component_name: row.component_name,
            measured_unit: row.measured_unit,
            limit: row.limit_value,
            period: rows::period("policy_limits.period", row.period)?,
            granted: Amount::from_hundredths(row.granted),
        })
    }
}

const LIMIT_COLUMNS: &str = "l.policy_id, l.component_id, oc.uuid AS component_uuid, oc.type AS component_type, \
     oc.name AS component_name, oc.measured_unit, l.limit_value, l.period";
const LIMIT_JOIN: &str = "JOIN offering_components oc ON oc.id = l.component_id";

/// What a decision reads of each limit row; `granted` sums the grants active at `$1`.
fn rule_columns() -> Vec<String> {
    let mut columns: Vec<String> = [
        "p.id AS policy_id",
        "p.customer_id",
        "p.has_fired",
        "p.warning_thresholds",
        "p.reset_below_percent",
        "p.warning_level",
        "l.component_id",
        "l.limit_value",
        "l.period",
    ]
    .map(String::from)
    .to_vec();
    columns.push(format!("{} AS granted", granted_at("p.id", "l.component_id", "$1")));
    columns
}

/// A limit row with what deciding its policy's transition needs of the policy.
#[derive(FromRow, Deserialize)]
struct FiringLimitRow {
    policy_id: i64,
    customer_id: i64,
    has_fired: i64,
    warning_thresholds: String,
    reset_below_percent: i64,
    warning_level: Option<i64>,
    /// `None` (with the two below) for a policy without limit rows, which `rules_of` reads too.
    component_id: Option<i64>,
    limit_value: Option<i64>,
    period: Option<i64>,
    granted: i64,
}

impl TryFrom<FiringLimitRow> for (Firing, Option<LimitRow>) {
    type Error = sqlx::Error;

    fn try_from(row: FiringLimitRow) -> Result<Self> {
        let firing = Firing {
            policy_id: row.policy_id,
            customer_id: row.customer_id,
            has_fired: rows::flag("has_fired", row.has_fired)?,
            ladder: ladder::decode(&row.warning_thresholds, row.reset_below_percent, row.warning_level)?,
        };
        let limit = match (row.component_id, row.limit_value, row.period) {
            (Some(component_id), Some(limit), Some(period)) => Some(LimitRow {
                policy_id: row.policy_id,
                component_id,
                limit,
                period: rows::period("policy_limits.period", period)?,
                granted: Amount::from_hundredths(row.granted),
            }),
            _ => None,
        };
        Ok((firing, limit))
    }
}

/// The limit rows of the customers' policies, each with its policy's firing state and what the
/// grants active at `now` add to it, in policy order. Only what a decision needs: a transition
/// reads the rest. Every row of the customers' policies, not only those on the components a
/// write moved: filtering them here took a second probe of `policy_limits` for each policy, and
/// a customer's policies are few. The rows are found by their own customer, one index range per
/// customer, and the policies by theirs: found through their policies, one probe each, they
/// were most of the buffers a report touched (docs/postgres-tuning.md §1).
pub async fn rules_of_customers(
    tx: &mut Tx,
    customer_ids: &[i64],
    now: Micros,
) -> Result<Vec<(Firing, Option<LimitRow>)>> {
    if customer_ids.is_empty() {
        return Ok(vec![]);
    }
    let customers = in_list(customer_ids);
    let from = format!(
        "FROM policy_limits l JOIN policies p ON p.id = l.policy_id \
         WHERE l.customer_id IN ({list}) AND p.customer_id IN ({list})",
        list = placeholders(2, customers.len()),
    );
    rules(tx, &from, &[&[now][..], &customers].concat()).await
}

/// The policies' firing states, each with its limit rows as `rules_of_customers` reads them, in
/// policy order; a policy without limit rows comes once, with `None`. The policies that no
/// longer exist are left out.
pub async fn rules_of(tx: &mut Tx, policy_ids: &[i64], now: Micros) -> Result<Vec<(Firing, Option<LimitRow>)>> {
    if policy_ids.is_empty() {
        return Ok(vec![]);
    }
    let ids = in_list(policy_ids);
    let from = format!(
        "FROM policies p LEFT JOIN policy_limits l ON l.policy_id = p.id WHERE p.id IN ({})",
        placeholders(2, ids.len()),
    );
    rules(tx, &from, &[&[now][..], &ids].concat()).await
}

/// Rule rows `from` a join of `policies p` and `policy_limits l`; `$1` is the grants' instant.
async fn rules(tx: &mut Tx, from: &str, binds: &[i64]) -> Result<Vec<(Firing, Option<LimitRow>)>> {
    let columns = rule_columns();
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    let read: Vec<FiringLimitRow> = Select::new(&columns, from)
        .order_by("p.id, l.id")
        .fetch_all(tx, binds)
        .await?;
    read.into_iter().map(TryFrom::try_from).collect()
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

/// The limit rows of the policies with their components and what the grants active at `now` add
/// to them, in row order.
pub async fn limits_of<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    policy_ids: &[i64],
    now: Micros,
) -> Result<Vec<ComponentLimit>> {
    if policy_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {LIMIT_COLUMNS}, {} AS granted FROM policy_limits l {LIMIT_JOIN} WHERE l.policy_id IN ({}) \
         ORDER BY l.id",
        granted_at("l.policy_id", "l.component_id", "$1"),
        placeholders(2, policy_ids.len())
    );
    let mut q = sqlx::query_as::<_, ComponentLimitRow>(&sql).bind(now);
    for id in policy_ids {
        q = q.bind(*id);
    }
    q.fetch_all(ex)
        .await?
        .into_iter()
        .map(ComponentLimit::try_from)
        .collect()
}

/// A monthly total as stored, in `TOTAL_COLUMNS`' order.
#[derive(FromRow, Deserialize)]
pub(super) struct TotalRow {
    pub(super) customer_id: i64,
    pub(super) component_id: i64,
    pub(super) billing_month: i64,
    pub(super) usage: i64,
}

impl From<TotalRow> for CustomerTotal {
    fn from(row: TotalRow) -> Self {
        CustomerTotal {
            customer_id: row.customer_id,
            component_id: row.component_id,
            month: Month::from_index(row.billing_month),
            usage: Amount::from_hundredths(row.usage),
        }
    }
}

/// Which monthly totals to read: the customers' totals of the components from `from` (`None`:
/// from the first month) up to `until`, both inclusive.
#[derive(Debug, Clone)]
pub struct TotalsWanted {
    customers: Vec<i64>,
    components: Vec<i64>,
    from: Option<Month>,
    until: Month,
}

impl TotalsWanted {
    /// `None` when there is nothing to read.
    pub fn new(customer_ids: &[i64], component_ids: &[i64], from: Option<Month>, until: Month) -> Option<Self> {
        (!customer_ids.is_empty() && !component_ids.is_empty()).then(|| Self {
            customers: in_list(customer_ids),
            components: in_list(component_ids),
            from,
            until,
        })
    }

    /// `FROM usage_totals WHERE …`, its placeholders from `$first`.
    pub(super) fn where_sql(&self, first: usize) -> String {
        format!(
            "FROM usage_totals WHERE billing_month >= ${first} AND billing_month <= ${} \
             AND customer_id IN ({}) AND component_id IN ({})",
            first + 1,
            placeholders(first + 2, self.customers.len()),
            placeholders(first + 2 + self.customers.len(), self.components.len())
        )
    }

    /// What `where_sql`'s placeholders take, in order.
    pub(super) fn binds(&self) -> Vec<i64> {
        let months = [self.from.map_or(i64::MIN, Month::index), self.until.index()];
        [&months[..], &self.customers, &self.components].concat()
    }
}

/// The monthly totals `wanted` names.
pub async fn totals(conn: &mut AnyConnection, wanted: &TotalsWanted) -> Result<Vec<CustomerTotal>> {
    let from = wanted.where_sql(1);
    let read: Vec<TotalRow> = Select::new(TOTAL_COLUMNS, &from)
        .fetch_all(conn, &wanted.binds())
        .await?;
    Ok(read.into_iter().map(CustomerTotal::from).collect())
}

/// The customers' monthly totals of the given components from `from_month` (`None`: from the
/// first) up to `until_month`, both inclusive.
pub async fn totals_of(
    conn: &mut AnyConnection,
    customer_ids: &[i64],
    component_ids: &[i64],
    from_month: Option<Month>,
    until_month: Month,
) -> Result<Vec<CustomerTotal>> {
    match TotalsWanted::new(customer_ids, component_ids, from_month, until_month) {
        Some(wanted) => totals(conn, &wanted).await,
        None => Ok(vec![]),
    }
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

pub(super) const TOTAL_COLUMNS: &[&str] = &["customer_id", "component_id", "billing_month", "usage"];

/// Everything a full sweep needs, read in three queries: every policy's firing state,
pub async fn all_firings(conn: &mut AnyConnection) -> Result<Vec<Firing>> {
    type Read = (i64, i64, i64, String, i64, Option<i64>);
    let read: Vec<Read> = Select::new(
        &[
            "id",
            "customer_id",
            "has_fired",
            "warning_thresholds",
            "reset_below_percent",
            "warning_level",
        ],
        "FROM policies",
    )
    .fetch_all(conn, NO_BINDS)
    .await?;
    read.into_iter()
        .map(|(policy_id, customer_id, has_fired, thresholds, reset_below, level)| {
            Ok(Firing {
                policy_id,
                customer_id,
                has_fired: rows::flag("policies.has_fired", has_fired)?,
                ladder: ladder::decode(&thresholds, reset_below, level)?,
            })
        })
        .collect()
}

/// every limit row with what the grants active at `now` add to it (joined once, grouped, rather
/// than summed row by row: the sweep reads every row),
pub async fn all_limits(conn: &mut AnyConnection, now: Micros) -> Result<Vec<LimitRow>> {
    let read: Vec<(i64, i64, i64, i64, i64)> = Select::new(
        &[
            "l.policy_id",
            "l.component_id",
            "l.limit_value",
            "l.period",
            "COALESCE(g.granted, 0) AS granted",
        ],
        &format!("FROM policy_limits l LEFT JOIN ({ACTIVE_GRANTS}) g ON g.policy_id = l.policy_id AND g.component_id = l.component_id"),
    )
    .fetch_all(conn, &[now])
    .await?;
    read.into_iter()
        .map(|(policy_id, component_id, limit, period, granted)| {
            Ok(LimitRow {
                policy_id,
                component_id,
                limit,
                period: rows::period("policy_limits.period", period)?,
                granted: Amount::from_hundredths(granted),
            })
        })
        .collect()
}

/// and every customer's totals from `from_month` (`None`: from the first) up to `until_month`.
pub async fn all_totals(
    conn: &mut AnyConnection,
    from_month: Option<Month>,
    until_month: Month,
) -> Result<Vec<CustomerTotal>> {
    let read: Vec<TotalRow> = Select::new(
        TOTAL_COLUMNS,
        "FROM usage_totals WHERE billing_month >= $1 AND billing_month <= $2",
    )
    .fetch_all(conn, &[from_month.map_or(i64::MIN, Month::index), until_month.index()])
    .await?;
    Ok(read.into_iter().map(CustomerTotal::from).collect())
}
