//! Grants (docs/grants.md): written and deleted by staff, listed to whoever sees their policy,
//! summed into every evaluation's limits (`granted_at`), and their boundaries handed to the
//! scheduler, each claimed by one transaction.

use super::rows;
use super::visibility as sql;
use super::{Result, Tx};
use crate::authz::Visibility;
use crate::domain::grant::{ComponentGrant, GrantBoundary, GrantFilter, GrantReason, GrantSpan, GrantWindow};
use crate::domain::time::Micros;
use crate::domain::{Amount, Uuid32};
use sqlx::{AnyConnection, AnyPool, FromRow};

/// The Σ of the amounts of the grants of policy `policy` on component `component` active at
/// `now` (each an SQL expression), as a BIGINT: a correlated subquery, so the reads that take it
/// make no extra round trip.
pub(super) fn granted_at(policy: &str, component: &str, now: &str) -> String {
    format!(
        "CAST(COALESCE((SELECT SUM(g.amount) FROM component_grants g WHERE g.policy_id = {policy} \
         AND g.component_id = {component} AND g.starts_at <= {now} AND g.expires_at > {now}), 0) AS BIGINT)"
    )
}

/// The Σ of the active grants at `$1` of every (policy, component) that has any, as
/// `policy_id, component_id, granted`.
pub(super) const ACTIVE_GRANTS: &str = "SELECT policy_id, component_id, CAST(SUM(amount) AS BIGINT) AS granted \
     FROM component_grants WHERE starts_at <= $1 AND expires_at > $1 GROUP BY policy_id, component_id";

/// A grant to store; its component is one of its policy's limit rows.
pub struct NewGrant<'a> {
    pub uuid: &'a Uuid32,
    pub policy_id: i64,
    pub component_id: i64,
    pub amount: Amount,
    pub window: GrantWindow,
    pub reason: &'a GrantReason,
    pub created_by: i64,
    pub created: Micros,
}

pub async fn insert(tx: &mut Tx, g: &NewGrant<'_>) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO component_grants (uuid, policy_id, component_id, amount, starts_at, expires_at, reason, \
         created_by_id, created, next_boundary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(g.uuid.to_string())
    .bind(g.policy_id)
    .bind(g.component_id)
    .bind(g.amount.hundredths())
    .bind(g.window.starts_at())
    .bind(g.window.expires_at())
    .bind(g.reason.as_str())
    .bind(g.created_by)
    .bind(g.created)
    .bind(g.window.first_boundary(g.created))
    .fetch_one(&mut **tx)
    .await
}

/// The id and type of the component `component` if the policy has a limit row on it.
pub async fn limited_component(tx: &mut Tx, policy_id: i64, component: &Uuid32) -> Result<Option<(i64, String)>> {
    sqlx::query_as(
        "SELECT oc.id, oc.type FROM policy_limits l JOIN offering_components oc ON oc.id = l.component_id \
         WHERE l.policy_id = $1 AND oc.uuid = $2 LIMIT 1",
    )
    .bind(policy_id)
    .bind(component.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// A grant as a delete finds it: its id and whose it is.
#[derive(Debug, Clone, Copy, FromRow)]
pub struct Located {
    pub id: i64,
    pub policy_id: i64,
    pub customer_id: i64,
}

pub async fn locate(tx: &mut Tx, uuid: &Uuid32) -> Result<Option<Located>> {
    sqlx::query_as(
        "SELECT g.id, g.policy_id, p.customer_id FROM component_grants g JOIN policies p ON p.id = g.policy_id \
         WHERE g.uuid = $1",
    )
    .bind(uuid.to_string())
    .fetch_optional(&mut **tx)
    .await
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM component_grants WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(FromRow)]
struct GrantRow {
    uuid: String,
    policy_uuid: String,
    component_uuid: String,
    component_type: String,
    amount: i64,
    starts_at: i64,
    expires_at: i64,
    reason: String,
    created_by_username: Option<String>,
    created: i64,
}

impl TryFrom<GrantRow> for ComponentGrant {
    type Error = sqlx::Error;

    fn try_from(row: GrantRow) -> Result<Self> {
        Ok(ComponentGrant {
            uuid: rows::uuid("component_grants.uuid", &row.uuid)?,
            policy_uuid: rows::uuid("policies.uuid", &row.policy_uuid)?,
            component_uuid: rows::uuid("offering_components.uuid", &row.component_uuid)?,
            component_type: row.component_type,
            amount: Amount::from_hundredths(row.amount),
            starts_at: row.starts_at,
            expires_at: row.expires_at,
            reason: row.reason,
            created_by_username: row.created_by_username,
            created: row.created,
        })
    }
}

const SELECT: &str = "SELECT g.uuid, p.uuid AS policy_uuid, oc.uuid AS component_uuid, oc.type AS component_type, \
     g.amount, g.starts_at, g.expires_at, g.reason, u.username AS created_by_username, g.created";

const FROM: &str = "FROM component_grants g JOIN policies p ON p.id = g.policy_id \
     JOIN customers c ON c.id = p.customer_id JOIN offering_components oc ON oc.id = g.component_id \
     LEFT JOIN users u ON u.id = g.created_by_id";

/// Whoever sees the policy sees its grants: staff and support, and its customer's role holders.
fn visible(vis: Visibility) -> String {
    sql::customer_role(vis, "p.customer_id", "$1", "$2")
}

/// The grant with this id, for the events that name it.
pub async fn by_id(tx: &mut Tx, id: i64) -> Result<Option<ComponentGrant>> {
    sqlx::query_as::<_, GrantRow>(&format!("{SELECT} {FROM} WHERE g.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(ComponentGrant::try_from)
        .transpose()
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<ComponentGrant>> {
    let (user, now) = vis.binds();
    sqlx::query_as::<_, GrantRow>(&format!("{SELECT} {FROM} WHERE {} AND g.uuid = $3", visible(vis)))
        .bind(user)
        .bind(now)
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await?
        .map(ComponentGrant::try_from)
        .transpose()
}

const FILTER: &str = "($3 IS NULL OR p.uuid = $3) AND ($4 IS NULL OR c.uuid = $4) AND ($5 IS NULL OR oc.uuid = $5) \
     AND ($6 IS NULL OR (CASE WHEN g.starts_at <= $7 AND g.expires_at > $7 THEN 1 ELSE 0 END) = $6)";

macro_rules! bind_filter {
    ($q:expr, $vis:expr, $f:expr, $now:expr) => {{
        let (user, vis_now) = $vis.binds();
        $q.bind(user)
            .bind(vis_now)
            .bind($f.policy_uuid.clone())
            .bind($f.customer_uuid.clone())
            .bind($f.component_uuid.clone())
            .bind($f.active.map(rows::int))
            .bind($now)
    }};
}

/// `now`: the instant `active` is judged at.
pub async fn count(pool: &AnyPool, vis: Visibility, f: &GrantFilter, now: Micros) -> Result<i64> {
    let sql = format!("SELECT COUNT(*) {FROM} WHERE {} AND {FILTER}", visible(vis));
    bind_filter!(sqlx::query_scalar(&sql), vis, f, now)
        .fetch_one(pool)
        .await
}

/// A page of the grants, newest first.
pub async fn list(
    pool: &AnyPool,
    vis: Visibility,
    f: &GrantFilter,
    now: Micros,
    limit: i64,
    offset: i64,
) -> Result<Vec<ComponentGrant>> {
    let sql = format!(
        "{SELECT} {FROM} WHERE {} AND {FILTER} ORDER BY g.created DESC, g.id DESC LIMIT $8 OFFSET $9",
        visible(vis)
    );
    bind_filter!(sqlx::query_as::<_, GrantRow>(&sql), vis, f, now)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(ComponentGrant::try_from)
        .collect()
}

/// Every grant of the policy, any time, in the order they start.
pub async fn spans_of_policy(conn: &mut AnyConnection, policy_id: i64) -> Result<Vec<GrantSpan>> {
    let read: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT uuid, component_id, amount, starts_at, expires_at FROM component_grants WHERE policy_id = $1 \
         ORDER BY starts_at, id",
    )
    .bind(policy_id)
    .fetch_all(conn)
    .await?;
    read.into_iter()
        .map(|(uuid, component_id, amount, starts_at, expires_at)| {
            Ok(GrantSpan {
                uuid: rows::uuid("component_grants.uuid", &uuid)?,
                component_id,
                amount: Amount::from_hundredths(amount),
                starts_at,
                expires_at,
            })
        })
        .collect()
}

#[derive(FromRow)]
struct BoundaryRow {
    id: i64,
    policy_id: i64,
    customer_id: i64,
    next_boundary: i64,
    starts_at: i64,
    expires_at: i64,
}

impl TryFrom<BoundaryRow> for GrantBoundary {
    type Error = sqlx::Error;

    fn try_from(row: BoundaryRow) -> Result<Self> {
        let window = GrantWindow::stored(row.starts_at, row.expires_at)
            .ok_or_else(|| rows::undecodable("component_grants.expires_at", row.expires_at))?;
        Ok(GrantBoundary {
            grant_id: row.id,
            policy_id: row.policy_id,
            customer_id: row.customer_id,
            at: row.next_boundary,
            window,
        })
    }
}

/// Up to `limit` boundaries due at `now`, the earliest first.
pub async fn due(conn: &mut AnyConnection, now: Micros, limit: i64) -> Result<Vec<GrantBoundary>> {
    sqlx::query_as::<_, BoundaryRow>(
        "SELECT g.id, g.policy_id, p.customer_id, g.next_boundary, g.starts_at, g.expires_at \
         FROM component_grants g JOIN policies p ON p.id = g.policy_id \
         WHERE g.next_boundary IS NOT NULL AND g.next_boundary <= $1 ORDER BY g.next_boundary, g.id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(GrantBoundary::try_from)
    .collect()
}

/// When the next boundary is due, if one waits.
pub async fn next_due(conn: &mut AnyConnection) -> Result<Option<Micros>> {
    sqlx::query_scalar("SELECT MIN(next_boundary) FROM component_grants WHERE next_boundary IS NOT NULL")
        .fetch_one(conn)
        .await
}

/// Takes a due boundary to evaluate its policy in this transaction, moving the grant on to its
/// next one: true for the one transaction whose conditional update wins (a concurrent one waits
/// for the row, then finds it moved on), false when it was processed already, the grant is gone,
/// or its policy has moved to another customer than the one locked for it.
pub async fn claim(tx: &mut Tx, b: &GrantBoundary) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE component_grants SET next_boundary = $1 WHERE id = $2 AND next_boundary = $3 \
         AND policy_id IN (SELECT id FROM policies WHERE customer_id = $4)",
    )
    .bind(b.window.boundary_after(b.at))
    .bind(b.grant_id)
    .bind(b.at)
    .bind(b.customer_id)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}
