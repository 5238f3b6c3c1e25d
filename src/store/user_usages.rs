//! Per-user usage under component usage rows, and per-user limits (docs/site-agent.md), decoded
//! here into `domain::user_usage` records. Both are visible as their component usage rows are:
//! to the consumer's members and the provider's customer roles (staff and support: all).

use super::rows::uuid;
use super::visibility as sql;
use super::{Result, Tx};
use crate::authz::Visibility;
use crate::domain::user_usage::{UserUsage, UserUsageFilter, UserUsageLimit, UserUsageLimitFilter};
use crate::domain::{Amount, Month, Uuid32};
use sqlx::{AnyPool, FromRow};

/// Whoever sees the resource's usage (store::visibility::resource_usage).
fn visible(vis: Visibility, u: &str, n: &str) -> String {
    sql::resource_usage(vis, "r.project_id", "p.customer_id", "o.customer_id", u, n)
}

/// A component usage row that user usages are reported under.
#[derive(Debug, Clone, Copy)]
pub struct UsageParent {
    pub id: i64,
    pub offering_id: i64,
    pub provider_customer_id: i64,
    pub date: i64,
    /// Whether the caller whose visibility was asked for may see the row.
    pub visible: bool,
}

pub async fn parent(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<UsageParent>> {
    let (user, now) = vis.binds();
    let found: Option<(i64, i64, i64, i64, i64)> = sqlx::query_as(&format!(
        "SELECT cu.id, r.offering_id, o.customer_id, cu.date, CASE WHEN {} THEN 1 ELSE 0 END \
         FROM component_usages cu JOIN resources r ON r.id = cu.resource_id \
         JOIN projects p ON p.id = r.project_id JOIN offerings o ON o.id = r.offering_id WHERE cu.uuid = $1",
        visible(vis, "$2", "$3")
    ))
    .bind(uuid.to_string())
    .bind(user)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    found
        .map(|(id, offering_id, provider_customer_id, date, visible)| {
            Ok(UsageParent {
                id,
                offering_id,
                provider_customer_id,
                date,
                visible: super::rows::flag("visible", visible)?,
            })
        })
        .transpose()
}

/// Replaces the user's amount under the component usage row (a first report creates it).
pub async fn upsert(
    tx: &mut Tx,
    parent_id: i64,
    username: &str,
    offering_user_id: Option<i64>,
    usage: Amount,
    date: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO component_user_usages (uuid, component_usage_id, username, offering_user_id, usage, date, \
         created, modified) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (component_usage_id, username) DO UPDATE SET offering_user_id = excluded.offering_user_id, \
         usage = excluded.usage, date = excluded.date, modified = excluded.modified",
    )
    .bind(Uuid32::new_v4().to_string())
    .bind(parent_id)
    .bind(username)
    .bind(offering_user_id)
    .bind(usage.hundredths())
    .bind(date)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct UserUsageRow {
    uuid: String,
    username: String,
    offering_user_uuid: Option<String>,
    component_usage_uuid: String,
    usage: i64,
    measured_unit: String,
    component_type: String,
    description: String,
    date: i64,
    billing_month: i64,
    created: i64,
    modified: i64,
    resource_uuid: String,
    resource_name: String,
    offering_uuid: String,
    offering_name: String,
    project_uuid: String,
    project_name: String,
    customer_uuid: String,
    customer_name: String,
}

impl TryFrom<UserUsageRow> for UserUsage {
    type Error = sqlx::Error;

    fn try_from(r: UserUsageRow) -> Result<Self> {
        Ok(Self {
            uuid: uuid("component_user_usages.uuid", &r.uuid)?,
            username: r.username,
            offering_user_uuid: r
                .offering_user_uuid
                .map(|t| uuid("offering_users.uuid", &t))
                .transpose()?,
            component_usage_uuid: uuid("component_usages.uuid", &r.component_usage_uuid)?,
            usage: Amount::from_hundredths(r.usage),
            measured_unit: r.measured_unit,
            component_type: r.component_type,
            description: r.description,
            date: r.date,
            billing_period: Month::from_index(r.billing_month),
            created: r.created,
            modified: r.modified,
            resource_uuid: uuid("resources.uuid", &r.resource_uuid)?,
            resource_name: r.resource_name,
            offering_uuid: uuid("offerings.uuid", &r.offering_uuid)?,
            offering_name: r.offering_name,
            project_uuid: uuid("projects.uuid", &r.project_uuid)?,
            project_name: r.project_name,
            customer_uuid: uuid("customers.uuid", &r.customer_uuid)?,
            customer_name: r.customer_name,
        })
    }
}

const SELECT: &str = "SELECT uu.uuid, uu.username, ou.uuid AS offering_user_uuid, cu.uuid AS component_usage_uuid, \
     uu.usage, oc.measured_unit, oc.type AS component_type, cu.description, uu.date, cu.billing_month, \
     uu.created, uu.modified, r.uuid AS resource_uuid, r.name AS resource_name, o.uuid AS offering_uuid, \
     o.name AS offering_name, p.uuid AS project_uuid, p.name AS project_name, c.uuid AS customer_uuid, \
     c.name AS customer_name";

const FROM: &str = "FROM component_user_usages uu JOIN component_usages cu ON cu.id = uu.component_usage_id \
     JOIN offering_components oc ON oc.id = cu.component_id JOIN resources r ON r.id = cu.resource_id \
     JOIN offerings o ON o.id = r.offering_id JOIN projects p ON p.id = r.project_id \
     JOIN customers c ON c.id = p.customer_id LEFT JOIN offering_users ou ON ou.id = uu.offering_user_id";

const FILTER: &str = "($3 IS NULL OR r.uuid = $3) AND ($4 IS NULL OR o.uuid = $4) AND ($5 IS NULL OR c.uuid = $5) \
     AND ($6 IS NULL OR p.uuid = $6) AND ($7 IS NULL OR cu.uuid = $7) AND ($8 IS NULL OR uu.username = $8) \
     AND ($9 IS NULL OR oc.type = $9) AND ($10 IS NULL OR cu.billing_month = $10)";

macro_rules! bind_filter {
    ($q:expr, $vis:expr, $f:expr) => {{
        let (user, now) = $vis.binds();
        $q.bind(user)
            .bind(now)
            .bind($f.resource_uuid.clone())
            .bind($f.offering_uuid.clone())
            .bind($f.customer_uuid.clone())
            .bind($f.project_uuid.clone())
            .bind($f.component_usage_uuid.clone())
            .bind($f.username.clone())
            .bind($f.component_type.clone())
            .bind($f.billing_month.map(Month::index))
    }};
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &UserUsageFilter) -> Result<i64> {
    let sql = format!("SELECT COUNT(*) {FROM} WHERE {} AND {FILTER}", visible(vis, "$1", "$2"));
    bind_filter!(sqlx::query_scalar(&sql), vis, f).fetch_one(pool).await
}

pub async fn list(
    pool: &AnyPool,
    vis: Visibility,
    f: &UserUsageFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<UserUsage>> {
    let sql = format!(
        "{SELECT} {FROM} WHERE {} AND {FILTER} ORDER BY uu.date DESC, uu.username, uu.id LIMIT $11 OFFSET $12",
        visible(vis, "$1", "$2")
    );
    bind_filter!(sqlx::query_as::<_, UserUsageRow>(&sql), vis, f)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(UserUsage::try_from)
        .collect()
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<UserUsage>> {
    let (user, now) = vis.binds();
    sqlx::query_as::<_, UserUsageRow>(&format!(
        "{SELECT} {FROM} WHERE uu.uuid = $1 AND {}",
        visible(vis, "$2", "$3")
    ))
    .bind(uuid.to_string())
    .bind(user)
    .bind(now)
    .fetch_optional(pool)
    .await?
    .map(UserUsage::try_from)
    .transpose()
}

#[derive(FromRow)]
struct LimitRow {
    id: i64,
    uuid: String,
    resource_uuid: String,
    provider_customer_id: i64,
    component_uuid: String,
    component_type: String,
    username: Option<String>,
    amount: i64,
}

impl TryFrom<LimitRow> for UserUsageLimit {
    type Error = sqlx::Error;

    fn try_from(r: LimitRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            uuid: uuid("component_user_usage_limits.uuid", &r.uuid)?,
            resource_uuid: uuid("resources.uuid", &r.resource_uuid)?,
            provider_customer_id: r.provider_customer_id,
            component_uuid: uuid("offering_components.uuid", &r.component_uuid)?,
            component_type: r.component_type,
            username: r.username.unwrap_or_default(),
            limit: Amount::from_hundredths(r.amount),
        })
    }
}

const LIMIT_SELECT: &str = "SELECT l.id, l.uuid, r.uuid AS resource_uuid, o.customer_id AS provider_customer_id, \
     oc.uuid AS component_uuid, oc.type AS component_type, ou.username, l.amount";

const LIMIT_FROM: &str = "FROM component_user_usage_limits l JOIN resources r ON r.id = l.resource_id \
     JOIN projects p ON p.id = r.project_id JOIN offerings o ON o.id = r.offering_id \
     JOIN offering_components oc ON oc.id = l.component_id JOIN offering_users ou ON ou.id = l.offering_user_id";

const LIMIT_FILTER: &str = "($3 IS NULL OR r.uuid = $3) AND ($4 IS NULL OR oc.type = $4)";

pub async fn count_limits(pool: &AnyPool, vis: Visibility, f: &UserUsageLimitFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) {LIMIT_FROM} WHERE {} AND {LIMIT_FILTER}",
        visible(vis, "$1", "$2")
    ))
    .bind(user)
    .bind(now)
    .bind(f.resource_uuid.clone())
    .bind(f.component_type.clone())
    .fetch_one(pool)
    .await
}

pub async fn list_limits(
    pool: &AnyPool,
    vis: Visibility,
    f: &UserUsageLimitFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<UserUsageLimit>> {
    let (user, now) = vis.binds();
    sqlx::query_as::<_, LimitRow>(&format!(
        "{LIMIT_SELECT} {LIMIT_FROM} WHERE {} AND {LIMIT_FILTER} ORDER BY l.created DESC, l.id DESC LIMIT $5 OFFSET $6",
        visible(vis, "$1", "$2")
    ))
    .bind(user)
    .bind(now)
    .bind(f.resource_uuid.clone())
    .bind(f.component_type.clone())
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(UserUsageLimit::try_from)
    .collect()
}

pub async fn visible_limit(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<UserUsageLimit>> {
    let (user, now) = vis.binds();
    sqlx::query_as::<_, LimitRow>(&format!(
        "{LIMIT_SELECT} {LIMIT_FROM} WHERE l.uuid = $1 AND {}",
        visible(vis, "$2", "$3")
    ))
    .bind(uuid.to_string())
    .bind(user)
    .bind(now)
    .fetch_optional(pool)
    .await?
    .map(UserUsageLimit::try_from)
    .transpose()
}

/// Sets the user's limit on the resource's component (a second one replaces the first).
pub async fn upsert_limit(
    tx: &mut Tx,
    uuid: &Uuid32,
    resource_id: i64,
    component_id: i64,
    offering_user_id: i64,
    amount: Amount,
    now: i64,
) -> Result<Uuid32> {
    let stored: String = sqlx::query_scalar(
        "INSERT INTO component_user_usage_limits (uuid, resource_id, component_id, offering_user_id, amount, created) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (resource_id, component_id, offering_user_id) \
         DO UPDATE SET amount = excluded.amount RETURNING uuid",
    )
    .bind(uuid.to_string())
    .bind(resource_id)
    .bind(component_id)
    .bind(offering_user_id)
    .bind(amount.hundredths())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    super::rows::uuid("component_user_usage_limits.uuid", &stored)
}

pub async fn delete_limit(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM component_user_usage_limits WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
