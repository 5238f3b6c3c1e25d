//! Policies and their limit rows. Reads decode every column into `domain::policy` types; a value
//! the domain refuses is a decode error, never a default.

use super::packed::{Bind, Select};
use super::rows::{flag, undecodable, uuid};
use super::visibility as sql;
use super::{in_list, placeholders, Backend, Result, Tx};
use crate::authz::Visibility;
use crate::domain::ladder::{ResetBelow, WarningThresholds};
use crate::domain::options::PolicyOptions;
use crate::domain::policy::{Author, Policy, PolicyCustomer, PolicyFilter, PolicyLimit};
use crate::domain::{ActionSet, Period, Uuid32};
use serde::Deserialize;
use serde_json::Value;
use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;
use sqlx::{Any, AnyConnection, AnyPool, FromRow};

/// A policy as a read selects it, joined with one of its limit rows (none for a policy without
/// limits) and, on a page, the list's total; `decode` folds these into `Policy`s. The fields are
/// in `COLUMNS`' order, as a packed read hands each row over as an array.
#[derive(Debug, FromRow, Deserialize)]
struct PolicyRow {
    id: i64,
    uuid: String,
    customer_id: i64,
    customer_uuid: String,
    customer_name: String,
    actions: String,
    options: String,
    has_fired: i64,
    fired_datetime: Option<i64>,
    created: i64,
    warning_thresholds: String,
    reset_below_percent: i64,
    warning_level: Option<i64>,
    created_by_username: Option<String>,
    created_by_first_name: Option<String>,
    created_by_last_name: Option<String>,
    component_uuid: Option<String>,
    component_type: Option<String>,
    limit_value: Option<i64>,
    period: Option<i64>,
    total: Option<i64>,
}

const COLUMNS: &[&str] = &[
    "p.id",
    "p.uuid",
    "p.customer_id",
    "c.uuid AS customer_uuid",
    "c.name AS customer_name",
    "p.actions",
    "p.options",
    "p.has_fired",
    "p.fired_datetime",
    "p.created",
    "p.warning_thresholds",
    "p.reset_below_percent",
    "p.warning_level",
    "u.username AS created_by_username",
    "u.first_name AS created_by_first_name",
    "u.last_name AS created_by_last_name",
    "oc.uuid AS component_uuid",
    "oc.type AS component_type",
    "l.limit_value",
    "l.period",
];

const JOINS: &str = "JOIN customers c ON c.id = p.customer_id LEFT JOIN users u ON u.id = p.created_by_id \
     LEFT JOIN policy_limits l ON l.policy_id = p.id LEFT JOIN offering_components oc ON oc.id = l.component_id";

/// Policies in the view's order, each with its limit rows in insertion order.
const ORDER: &str = "p.created DESC, p.id DESC, l.id";

/// Takes the joined limit row out of `row`, decoded, if there is one.
fn decode_limit(row: &mut PolicyRow) -> Result<Option<PolicyLimit>> {
    match (
        row.component_uuid.take(),
        row.component_type.take(),
        row.limit_value.take(),
        row.period.take(),
    ) {
        (Some(component_uuid), Some(component_type), Some(limit), Some(period)) => Ok(Some(PolicyLimit {
            component_uuid: uuid("component uuid", &component_uuid)?,
            component_type,
            limit,
            period: Period::from_code(period).ok_or_else(|| undecodable("period", period))?,
        })),
        (None, None, None, None) => Ok(None),
        _ => Err(undecodable("limit row", "a partial join")),
    }
}

impl TryFrom<PolicyRow> for Policy {
    type Error = sqlx::Error;

    /// The policy's own columns; its limits are added by `decode`.
    fn try_from(row: PolicyRow) -> Result<Self> {
        let created_by = match (
            row.created_by_username,
            row.created_by_first_name,
            row.created_by_last_name,
        ) {
            (Some(username), Some(first_name), Some(last_name)) => Some(Author {
                username,
                first_name,
                last_name,
            }),
            (None, None, None) => None,
            _ => return Err(undecodable("created_by", "a partial user")),
        };
        let options = match serde_json::from_str(&row.options) {
            Ok(Value::Object(options)) => options,
            _ => return Err(undecodable("options", &row.options)),
        };
        Ok(Policy {
            id: row.id,
            uuid: uuid("uuid", &row.uuid)?,
            customer: PolicyCustomer {
                id: row.customer_id,
                uuid: uuid("customer uuid", &row.customer_uuid)?,
                name: row.customer_name,
            },
            actions: ActionSet::parse(&row.actions).map_err(|_| undecodable("actions", &row.actions))?,
            options,
            has_fired: flag("has_fired", row.has_fired)?,
            fired_at: row.fired_datetime,
            ladder: super::ladder::decode(&row.warning_thresholds, row.reset_below_percent, row.warning_level)?,
            created: row.created,
            created_by,
            limits: Vec::new(),
        })
    }
}

/// Folds rows, ordered by policy, into policies in that order.
fn decode(rows: Vec<PolicyRow>) -> Result<Vec<Policy>> {
    let mut policies: Vec<Policy> = Vec::new();
    for mut row in rows {
        let limit = decode_limit(&mut row)?;
        match policies.last_mut() {
            Some(policy) if policy.id == row.id => policy.limits.extend(limit),
            _ => {
                let mut policy = Policy::try_from(row)?;
                policy.limits.extend(limit);
                policies.push(policy);
            }
        }
    }
    Ok(policies)
}

/// A limit row to store, its component already resolved.
#[derive(Debug, Clone, Copy)]
pub struct NewLimit {
    pub component_id: i64,
    pub limit: i64,
    pub period: Period,
}

/// A policy as created, with its ladder settings and its limit rows in their order.
pub struct NewPolicyRow<'a> {
    pub uuid: &'a Uuid32,
    pub customer_id: i64,
    pub actions: &'a ActionSet,
    pub options: &'a PolicyOptions,
    pub thresholds: &'a WarningThresholds,
    pub reset_below: ResetBelow,
    pub created_by: i64,
    pub now: i64,
    pub limits: &'a [NewLimit],
}

/// Inserts the policies and their limit rows in one round trip (on SQLite, one hop to the
/// writer's thread), and returns their ids in the order of `new`.
pub async fn insert(tx: &mut Tx, new: &[NewPolicyRow<'_>]) -> Result<Vec<i64>> {
    if new.is_empty() {
        return Ok(vec![]);
    }
    // Each policy's values from $1 + 8k; its uuid is that first one, which its limit rows name.
    let policies: Vec<String> = (0..new.len())
        .map(|k| {
            let p = 1 + 8 * k;
            format!(
                "(${p}, ${}, ${}, ${}, ${}, ${}, 0, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 7
            )
        })
        .collect();
    let policy = format!(
        "INSERT INTO policies (uuid, customer_id, actions, options, warning_thresholds, \
         reset_below_percent, has_fired, created_by_id, created, modified) VALUES {} RETURNING id, uuid",
        policies.join(", ")
    );
    // The limit rows' INSERT takes each policy's customer from what this one returns.
    let policy_and_customer = format!("{policy}, customer_id");
    let keys: Vec<usize> = new
        .iter()
        .enumerate()
        .flat_map(|(k, row)| std::iter::repeat_n(1 + 8 * k, row.limits.len()))
        .collect();
    let first = 1 + 8 * new.len();
    let sql = match (keys.len(), Backend::of(tx)) {
        (0, _) => policy,
        // One statement: the limits' INSERT takes the policies' ids from a data-modifying WITH.
        (_, Backend::Postgres) => format!(
            "WITH inserted AS ({policy_and_customer}), limits AS ({}) SELECT id, uuid FROM inserted",
            limits_sql("inserted", "uuid", &keys, first)
        ),
        // Two statements, run one after the other; the second finds each policy by its uuid.
        (_, Backend::Sqlite) => format!("{policy}; {}", limits_sql("policies", "uuid", &keys, first)),
    };
    let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
    for row in new {
        q = q
            .bind(row.uuid.to_string())
            .bind(row.customer_id)
            .bind(row.actions.to_string())
            .bind(row.options.to_value().to_string())
            .bind(row.thresholds.to_stored())
            .bind(i64::from(row.reset_below.percent()))
            .bind(row.created_by)
            .bind(row.now);
    }
    let limits: Vec<NewLimit> = new.iter().flat_map(|row| row.limits.iter().copied()).collect();
    // All rows, not the first: a fetch of one row would stop SQLite before the second statement.
    // RETURNING's order is not the VALUES' order: each id is matched to its uuid.
    let inserted = bind_limits(q, &limits).fetch_all(&mut **tx).await?;
    new.iter()
        .map(|row| {
            let uuid = row.uuid.to_string();
            inserted
                .iter()
                .find(|(_, u)| *u == uuid)
                .map(|&(id, _)| id)
                .ok_or(sqlx::Error::RowNotFound)
        })
        .collect()
}

/// The INSERT of limit rows, the i-th one of the policy whose `key` column of `policies` (a
/// relation with the policies' `id` and `customer_id`) is bound at placeholder `keys[i]`, their
/// values bound from placeholder `first` on (`bind_limits`). Rows keep their order: limits are
/// read back in id order, and the fifth value numbers them. A row carries its policy's customer
/// for the report batch's read of its customers' rules (`store::evaluation::rules_of_customers`).
fn limits_sql(policies: &str, key: &str, keys: &[usize], first: usize) -> String {
    let values: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| format!("(${key}, {}, {i})", placeholders(first + 3 * i, 3)))
        .collect();
    format!(
        "INSERT INTO policy_limits (policy_id, customer_id, component_id, limit_value, period) \
         SELECT p.id, p.customer_id, v.column2, v.column3, v.column4 FROM (VALUES {}) AS v \
         JOIN {policies} p ON p.{key} = v.column1 ORDER BY v.column5",
        values.join(", ")
    )
}

/// A statement whose rows are read as `O`.
type RowsQuery<'q, O> = QueryAs<'q, Any, O, AnyArguments<'q>>;

/// Binds the limit rows' values, as `limits_sql` places them.
fn bind_limits<'q, O>(mut q: RowsQuery<'q, O>, limits: &[NewLimit]) -> RowsQuery<'q, O> {
    for l in limits {
        q = q.bind(l.component_id).bind(l.limit).bind(l.period.code());
    }
    q
}

/// What an update writes of a policy: its customer, and each setting given (`None` keeps it).
pub struct PolicyUpdate<'a> {
    pub customer_id: i64,
    pub actions: Option<&'a ActionSet>,
    pub options: Option<&'a PolicyOptions>,
    pub thresholds: Option<&'a WarningThresholds>,
    pub reset_below: Option<ResetBelow>,
    pub now: i64,
}

/// Applies each (policy id, update) pair, in one statement; each policy at most once.
pub async fn update(tx: &mut Tx, updates: &[(i64, PolicyUpdate<'_>)]) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..updates.len())
        .map(|k| format!("({})", placeholders(1 + 7 * k, 7)))
        .collect();
    let sql = format!(
        "UPDATE policies SET customer_id = v.column2, actions = COALESCE(v.column3, policies.actions), \
         options = COALESCE(v.column4, policies.options), \
         warning_thresholds = COALESCE(v.column5, policies.warning_thresholds), \
         reset_below_percent = COALESCE(v.column6, policies.reset_below_percent), modified = v.column7 \
         FROM (VALUES {}) AS v WHERE policies.id = v.column1",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for (id, update) in updates {
        q = q
            .bind(*id)
            .bind(update.customer_id)
            .bind(update.actions.map(ActionSet::to_string))
            .bind(update.options.map(|o| o.to_value().to_string()))
            .bind(update.thresholds.map(WarningThresholds::to_stored))
            .bind(update.reset_below.map(|r| i64::from(r.percent())))
            .bind(update.now);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM policies WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replaces a policy's limits wholesale.
pub async fn replace_limits(tx: &mut Tx, policy_id: i64, limits: &[NewLimit]) -> Result<()> {
    sqlx::query("DELETE FROM policy_limits WHERE policy_id = $1")
        .bind(policy_id)
        .execute(&mut **tx)
        .await?;
    insert_limits(tx, policy_id, limits).await
}

/// The limit rows of a policy that has none yet, in one statement, in their order.
async fn insert_limits(tx: &mut Tx, policy_id: i64, limits: &[NewLimit]) -> Result<()> {
    if limits.is_empty() {
        return Ok(());
    }
    let sql = limits_sql("policies", "id", &vec![1; limits.len()], 2);
    let q = sqlx::query_as::<_, (i64,)>(&sql).bind(policy_id);
    bind_limits(q, limits).fetch_all(&mut **tx).await?;
    Ok(())
}

/// Where a policy stands, as a write that is about to lock its customer reads it.
#[derive(Debug, Clone, FromRow)]
pub struct Current {
    pub id: i64,
    pub uuid: String,
    pub customer_id: i64,
    /// 1 when fired; read with the lock, so a write knows whether a fire's effects need undoing.
    has_fired: i64,
}

impl Current {
    pub fn has_fired(&self) -> bool {
        self.has_fired != 0
    }
}

pub async fn current(tx: &mut Tx, uuid: &Uuid32) -> Result<Option<Current>> {
    Ok(current_of(tx, std::slice::from_ref(uuid)).await?.pop())
}

/// Where the policies among `uuids` that exist stand, in no particular order.
pub async fn current_of(tx: &mut Tx, uuids: &[Uuid32]) -> Result<Vec<Current>> {
    if uuids.is_empty() {
        return Ok(vec![]);
    }
    let uuids = in_list(uuids);
    let sql = format!(
        "SELECT id, uuid, customer_id, has_fired FROM policies WHERE uuid IN ({})",
        placeholders(1, uuids.len())
    );
    let mut q = sqlx::query_as(&sql);
    for uuid in &uuids {
        q = q.bind(uuid.to_string());
    }
    q.fetch_all(&mut **tx).await
}

pub async fn exists(pool: &AnyPool, uuid: &Uuid32) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM policies WHERE uuid = $1")
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

/// The rows of the policies that `from` (all that follows FROM, the policy named `p`) selects,
/// with `total` as each row's total.
async fn view_rows(
    conn: &mut AnyConnection,
    from: &str,
    total: &str,
    binds: &[Bind<'_>],
    persistent: bool,
) -> Result<Vec<PolicyRow>> {
    let total = format!("{total} AS total");
    let columns = [COLUMNS, &[total.as_str()]].concat();
    Select::new(&columns, &format!("FROM {from}"))
        .order_by(ORDER)
        .persistent(persistent)
        .fetch_all(conn, binds)
        .await
}

/// One policy with its limit rows, selected by `condition`.
async fn one(pool: &AnyPool, condition: &str, binds: &[Bind<'_>]) -> Result<Option<Policy>> {
    let from = format!("policies p {JOINS} WHERE {condition}");
    let rows = view_rows(&mut *pool.acquire().await?, &from, "CAST(NULL AS BIGINT)", binds, true).await?;
    Ok(decode(rows)?.pop())
}

/// The policies among `ids` that exist, in the lists' order, read in the transaction that wrote
/// them (a batch of writes answers its requests from one read).
pub async fn by_ids(tx: &mut Tx, ids: &[i64]) -> Result<Vec<Policy>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let ids = in_list(ids);
    let from = format!("policies p {JOINS} WHERE p.id IN ({})", placeholders(1, ids.len()));
    let binds: Vec<Bind> = ids.iter().map(|&id| id.into()).collect();
    decode(view_rows(tx, &from, "CAST(NULL AS BIGINT)", &binds, true).await?)
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<Policy>> {
    let (user, now) = vis.binds();
    let condition = format!(
        "p.uuid = $1 AND {}",
        sql::customer_role(vis, "p.customer_id", "$2", "$3")
    );
    let uuid = uuid.to_string();
    one(pool, &condition, &[Bind::Text(&uuid), Bind::Int(user), now.into()]).await
}

/// The filter's SQL on the policy `alias`, its uuids bound from `first_param`; every uuid
/// narrows to that customer.
fn filter_sql(f: &PolicyFilter, alias: &str, first_param: usize) -> String {
    if f.matches_nothing {
        return "1 = 0".into();
    }
    let params: Vec<String> = (0..f.customer_uuids.len())
        .map(|i| {
            format!(
                "{alias}.customer_id = (SELECT id FROM customers WHERE uuid = ${})",
                first_param + i
            )
        })
        .collect();
    if params.is_empty() {
        "1 = 1".into()
    } else {
        params.join(" AND ")
    }
}

/// The uuids the filter's SQL binds: none when it matches nothing, as that SQL names no
/// parameter (and PostgreSQL refuses more binds than a statement has parameters).
fn bound_uuids(f: &PolicyFilter) -> Vec<String> {
    if f.matches_nothing {
        Vec::new()
    } else {
        f.customer_uuids.iter().map(Uuid32::to_string).collect()
    }
}

/// The SQL counting the policies `vis` and `f` select, binding the user as $1, the time as $2 and
/// the filter's uuids from $3. All policies are counted by the triggers of migration 0004, so an
/// unfiltered staff list does not scan the table.
fn count_sql(vis: Visibility, f: &PolicyFilter) -> String {
    if matches!(vis, Visibility::All) && f.is_empty() {
        return "SELECT CAST(SUM(n) AS BIGINT) FROM policy_count".into();
    }
    format!(
        "SELECT COUNT(*) FROM policies q WHERE {} AND {}",
        sql::customer_role(vis, "q.customer_id", "$1", "$2"),
        filter_sql(f, "q", 3)
    )
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &PolicyFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    let sql = count_sql(vis, f);
    let mut q = sqlx::query_scalar(&sql).bind(user).bind(now);
    for uuid in bound_uuids(f) {
        q = q.bind(uuid);
    }
    q.fetch_one(pool).await
}

/// A page of policies, newest first, with their limits and the total count, in one query. The
/// total is `None` when the page is empty (past the end): only `count` can tell it then.
///
/// LIMIT and OFFSET are literals (validated integers): with them as parameters PostgreSQL's
/// generic plan guesses a tenth of the table and hash-joins it, so it re-planned the statement on
/// every call (0.5 ms, more than running it). Only the first page, by far the most asked for,
/// stays in the prepared-statement cache; deeper pages would only churn it.
pub async fn page(
    pool: &AnyPool,
    vis: Visibility,
    f: &PolicyFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Policy>, Option<i64>)> {
    let (user, now) = vis.binds();
    let from = format!(
        "(SELECT p.id FROM policies p WHERE {} AND {} \
          ORDER BY p.created DESC, p.id DESC LIMIT {limit} OFFSET {offset}) page \
         JOIN policies p ON p.id = page.id {JOINS}",
        sql::customer_role(vis, "p.customer_id", "$1", "$2"),
        filter_sql(f, "p", 3),
    );
    let uuids = bound_uuids(f);
    let binds: Vec<Bind> = [Bind::Int(user), now.into()]
        .into_iter()
        .chain(uuids.iter().map(|uuid| Bind::Text(uuid)))
        .collect();
    let rows = view_rows(
        &mut *pool.acquire().await?,
        &from,
        &format!("({})", count_sql(vis, f)),
        &binds,
        offset == 0,
    )
    .await?;
    let total = rows.first().and_then(|r| r.total);
    Ok((decode(rows)?, total))
}

/// A fired policy that blocks an action for its customer.
#[derive(Debug, Clone, FromRow)]
pub struct Blocking {
    pub policy_uuid: String,
    pub customer_uuid: String,
    pub customer_name: String,
    pub actions: String,
}

/// The first fired policy of the customer whose actions include `action`, if any; a block still
/// waiting out its grace period does not hold yet (docs/ladder.md §4).
pub async fn blocking<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    ex: E,
    customer_id: i64,
    action: &str,
) -> Result<Option<Blocking>> {
    let fired: Vec<Blocking> = sqlx::query_as(
        "SELECT p.uuid AS policy_uuid, c.uuid AS customer_uuid, c.name AS customer_name, p.actions \
         FROM policies p JOIN customers c ON c.id = p.customer_id \
         WHERE p.customer_id = $1 AND p.has_fired = 1 AND NOT EXISTS (SELECT 1 FROM policy_pending_actions a \
         WHERE a.policy_id = p.id AND a.action = $2) ORDER BY p.id",
    )
    .bind(customer_id)
    .bind(action)
    .fetch_all(ex)
    .await?;
    Ok(fired.into_iter().find(|b| b.actions.split(',').any(|a| a == action)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "0123456789abcdef0123456789abcdef";
    const CUSTOMER: &str = "fedcba9876543210fedcba9876543210";
    const COMPONENT: &str = "00112233445566778899aabbccddeeff";

    fn row(id: i64, period: Option<i64>) -> PolicyRow {
        PolicyRow {
            id,
            uuid: POLICY.into(),
            customer_id: 7,
            customer_uuid: CUSTOMER.into(),
            customer_name: "Acme".into(),
            actions: "request_pausing".into(),
            options: "{}".into(),
            has_fired: 1,
            fired_datetime: Some(5),
            created: 3,
            warning_thresholds: String::new(),
            reset_below_percent: 100,
            warning_level: None,
            created_by_username: None,
            created_by_first_name: None,
            created_by_last_name: None,
            component_uuid: period.map(|_| COMPONENT.into()),
            component_type: period.map(|_| "cpu".into()),
            limit_value: period.map(|_| 10),
            period,
            total: None,
        }
    }

    #[test]
    fn rows_fold_into_policies_with_their_limits_in_order() {
        let policies = decode(vec![row(1, Some(2)), row(1, Some(1)), row(2, None)]).unwrap();
        assert_eq!(policies.len(), 2);
        let periods: Vec<Period> = policies[0].limits.iter().map(|l| l.period).collect();
        assert_eq!(periods, [Period::Month1, Period::Total]);
        assert!(policies[0].has_fired);
        assert!(policies[0].created_by.is_none());
        assert!(policies[1].limits.is_empty());
    }

    #[test]
    fn a_value_the_domain_refuses_is_a_decode_error() {
        let bad_period = row(1, Some(9));
        let mut bad_flag = row(1, None);
        bad_flag.has_fired = 2;
        let mut bad_actions = row(1, None);
        bad_actions.actions = "no_such_action".into();
        let mut bad_options = row(1, None);
        bad_options.options = "[]".into();
        for bad in [bad_period, bad_flag, bad_actions, bad_options] {
            assert!(matches!(decode(vec![bad]), Err(sqlx::Error::Decode(_))));
        }
    }
}
