use super::packed::{Bind, Select};
use super::visibility as sql;
use super::{Result, Tx};
use crate::authz::Visibility;
use crate::domain::Uuid32;
use serde::Deserialize;
use sqlx::{AnyPool, FromRow};

/// A policy as a view reads it, joined with one of its limit rows (none for a policy without
/// limits) and, on a page, the list's total; `group` folds these into `PolicyView`s.
#[derive(Debug, Clone, FromRow, Deserialize)]
pub struct PolicyRow {
    pub id: i64,
    pub uuid: String,
    pub customer_id: i64,
    pub customer_uuid: String,
    pub customer_name: String,
    pub actions: String,
    pub options: String,
    pub has_fired: i64,
    pub fired_datetime: Option<i64>,
    pub created: i64,
    pub created_by_username: Option<String>,
    pub created_by_first_name: Option<String>,
    pub created_by_last_name: Option<String>,
    component_uuid: Option<String>,
    component_type: Option<String>,
    limit_value: Option<i64>,
    period: Option<i64>,
    total: Option<i64>,
}

impl PolicyRow {
    /// Takes the joined limit row out, if there is one.
    fn take_limit(&mut self) -> Option<LimitRow> {
        match (
            self.component_uuid.take(),
            self.component_type.take(),
            self.limit_value.take(),
            self.period.take(),
        ) {
            (Some(component_uuid), Some(component_type), Some(limit_value), Some(period)) => Some(LimitRow {
                component_uuid,
                component_type,
                limit_value,
                period,
            }),
            _ => None,
        }
    }
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

#[derive(Debug, Clone)]
pub struct LimitRow {
    pub component_uuid: String,
    pub component_type: String,
    pub limit_value: i64,
    pub period: i64,
}

/// A limit row to store, its component already resolved.
#[derive(Debug, Clone, Copy)]
pub struct NewLimit {
    pub component_id: i64,
    pub limit: i64,
    pub period: i64,
}

pub async fn insert(
    tx: &mut Tx,
    uuid: &Uuid32,
    customer_id: i64,
    actions: &str,
    options: &str,
    created_by: i64,
    now: i64,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO policies (uuid, customer_id, actions, options, has_fired, created_by_id, \
         created, modified) VALUES ($1, $2, $3, $4, 0, $5, $6, $6) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(customer_id)
    .bind(actions)
    .bind(options)
    .bind(created_by)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn update(tx: &mut Tx, id: i64, customer_id: i64, actions: &str, options: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE policies SET customer_id = $1, actions = $2, options = $3, modified = $4 WHERE id = $5")
        .bind(customer_id)
        .bind(actions)
        .bind(options)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
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
    for l in limits {
        sqlx::query(
            "INSERT INTO policy_limits (policy_id, component_id, limit_value, period) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(policy_id)
        .bind(l.component_id)
        .bind(l.limit)
        .bind(l.period)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// What an update keeps of a policy it does not change.
#[derive(Debug, Clone, FromRow)]
pub struct Current {
    pub id: i64,
    pub customer_id: i64,
    pub actions: String,
    pub options: String,
}

pub async fn current(tx: &mut Tx, uuid: &Uuid32) -> Result<Option<Current>> {
    sqlx::query_as("SELECT id, customer_id, actions, options FROM policies WHERE uuid = $1")
        .bind(uuid.to_string())
        .fetch_optional(&mut **tx)
        .await
}

/// A policy as the API shows it: its row and its limit rows in insertion order.
#[derive(Debug, Clone)]
pub struct PolicyView {
    pub row: PolicyRow,
    pub limits: Vec<LimitRow>,
}

/// Folds view rows, ordered by policy, into views in that order.
fn group(rows: Vec<PolicyRow>) -> Vec<PolicyView> {
    let mut views: Vec<PolicyView> = Vec::new();
    for mut row in rows {
        let limit = row.take_limit();
        match views.last_mut() {
            Some(view) if view.row.id == row.id => view.limits.extend(limit),
            _ => views.push(PolicyView {
                row,
                limits: limit.into_iter().collect(),
            }),
        }
    }
    views
}

/// The rows of the policies that `from` (all that follows FROM, the policy named `p`) selects,
/// with `total` as each row's total.
async fn view_rows(
    pool: &AnyPool,
    from: &str,
    total: &str,
    binds: &[Bind<'_>],
    persistent: bool,
) -> Result<Vec<PolicyRow>> {
    let total = format!("{total} AS total");
    let columns = [COLUMNS, &[total.as_str()]].concat();
    let mut conn = pool.acquire().await?;
    Select::new(&columns, &format!("FROM {from}"))
        .order_by(ORDER)
        .persistent(persistent)
        .fetch_all(&mut conn, binds)
        .await
}

/// One policy with its limit rows, selected by `condition`.
async fn one(pool: &AnyPool, condition: &str, binds: &[Bind<'_>]) -> Result<Option<PolicyView>> {
    let from = format!("policies p {JOINS} WHERE {condition}");
    let rows = view_rows(pool, &from, "CAST(NULL AS BIGINT)", binds, true).await?;
    Ok(group(rows).pop())
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<PolicyView>> {
    one(pool, "p.id = $1", &[id.into()]).await
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<PolicyView>> {
    let (user, now) = vis.binds();
    let condition = format!(
        "p.uuid = $1 AND {}",
        sql::customer_role(vis, "p.customer_id", "$2", "$3")
    );
    let uuid = uuid.to_string();
    one(pool, &condition, &[Bind::Text(&uuid), Bind::Int(user), now.into()]).await
}

/// List filters; every one narrows to a customer uuid (hex), or to nothing at all.
#[derive(Debug, Clone, Default)]
pub struct PolicyFilter {
    pub customer_uuids: Vec<String>,
    pub matches_nothing: bool,
}

impl PolicyFilter {
    fn sql(&self, alias: &str, first_param: usize) -> String {
        if self.matches_nothing {
            return "1 = 0".into();
        }
        let params: Vec<String> = (0..self.customer_uuids.len())
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

    fn is_empty(&self) -> bool {
        self.customer_uuids.is_empty() && !self.matches_nothing
    }

    /// The uuids its SQL binds: none when it matches nothing, as that SQL names no parameter (and
    /// PostgreSQL refuses more binds than a statement has parameters).
    fn bound_uuids(&self) -> &[String] {
        if self.matches_nothing {
            &[]
        } else {
            &self.customer_uuids
        }
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
        f.sql("q", 3)
    )
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &PolicyFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    let sql = count_sql(vis, f);
    let mut q = sqlx::query_scalar(&sql).bind(user).bind(now);
    for uuid in f.bound_uuids() {
        q = q.bind(uuid.clone());
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
) -> Result<(Vec<PolicyView>, Option<i64>)> {
    let (user, now) = vis.binds();
    let from = format!(
        "(SELECT p.id FROM policies p WHERE {} AND {} \
          ORDER BY p.created DESC, p.id DESC LIMIT {limit} OFFSET {offset}) page \
         JOIN policies p ON p.id = page.id {JOINS}",
        sql::customer_role(vis, "p.customer_id", "$1", "$2"),
        f.sql("p", 3),
    );
    let binds: Vec<Bind> = [Bind::Int(user), now.into()]
        .into_iter()
        .chain(f.bound_uuids().iter().map(|uuid| Bind::Text(uuid)))
        .collect();
    let rows = view_rows(pool, &from, &format!("({})", count_sql(vis, f)), &binds, offset == 0).await?;
    let total = rows.first().and_then(|r| r.total);
    Ok((group(rows), total))
}

/// A fired policy that blocks an action for its customer.
#[derive(Debug, Clone, FromRow)]
pub struct Blocking {
    pub policy_uuid: String,
    pub customer_uuid: String,
    pub customer_name: String,
    pub actions: String,
}

/// The first fired policy of the customer whose actions include `action`, if any.
pub async fn blocking<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    ex: E,
    customer_id: i64,
    action: &str,
) -> Result<Option<Blocking>> {
    let fired: Vec<Blocking> = sqlx::query_as(
        "SELECT p.uuid AS policy_uuid, c.uuid AS customer_uuid, c.name AS customer_name, p.actions \
         FROM policies p JOIN customers c ON c.id = p.customer_id \
         WHERE p.customer_id = $1 AND p.has_fired = 1 ORDER BY p.id",
    )
    .bind(customer_id)
    .fetch_all(ex)
    .await?;
    Ok(fired.into_iter().find(|b| b.actions.split(',').any(|a| a == action)))
}
