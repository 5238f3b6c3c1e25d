//! Marketplace resources: their rows, read back decoded into `domain::resource::Resource`, the
//! policy flags on them, and the holds that say which fired policy keeps a flag set.

use super::rows::{decoded, flag, uuid};
use super::visibility as sql;
use super::{any_of, Result, RowLock, Tx};
use crate::authz::Visibility;
use crate::domain::marketplace::ResourceState;
use crate::domain::resource::{Resource, ResourceFilter};
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

/// A resource's row as the query returns it; `Resource` is what leaves the store.
#[derive(FromRow)]
struct ResourceRow {
    id: i64,
    uuid: String,
    name: String,
    description: String,
    state: String,
    limits: String,
    attributes: String,
    backend_id: String,
    end_date: Option<String>,
    paused: i64,
    downscaled: i64,
    restrict_member_access: i64,
    created: i64,
    modified: i64,
    project_id: i64,
    project_uuid: String,
    project_name: String,
    customer_id: i64,
    customer_uuid: String,
    customer_name: String,
    offering_id: i64,
    offering_uuid: String,
    offering_name: String,
    offering_type: String,
    offering_plugin_options: String,
    provider_customer_id: i64,
    provider_uuid: String,
    provider_name: String,
    plan_id: Option<i64>,
    plan_uuid: Option<String>,
    plan_name: Option<String>,
}

impl TryFrom<ResourceRow> for Resource {
    type Error = sqlx::Error;

    fn try_from(row: ResourceRow) -> Result<Self> {
        Ok(Resource {
            id: row.id,
            uuid: uuid("resources.uuid", &row.uuid)?,
            name: row.name,
            description: row.description,
            state: decoded("resources.state", &row.state, ResourceState::parse)?,
            limits: row.limits,
            attributes: row.attributes,
            backend_id: row.backend_id,
            end_date: row.end_date,
            paused: flag("resources.paused", row.paused)?,
            downscaled: flag("resources.downscaled", row.downscaled)?,
            restrict_member_access: flag("resources.restrict_member_access", row.restrict_member_access)?,
            created: row.created,
            modified: row.modified,
            project_id: row.project_id,
            project_uuid: uuid("projects.uuid", &row.project_uuid)?,
            project_name: row.project_name,
            customer_id: row.customer_id,
            customer_uuid: uuid("customers.uuid", &row.customer_uuid)?,
            customer_name: row.customer_name,
            offering_id: row.offering_id,
            offering_uuid: uuid("offerings.uuid", &row.offering_uuid)?,
            offering_name: row.offering_name,
            offering_type: row.offering_type,
            offering_plugin_options: row.offering_plugin_options,
            provider_customer_id: row.provider_customer_id,
            provider_uuid: uuid("customers.uuid", &row.provider_uuid)?,
            provider_name: row.provider_name,
            plan_id: row.plan_id,
            plan_uuid: row.plan_uuid.map(|t| uuid("plans.uuid", &t)).transpose()?,
            plan_name: row.plan_name,
            restrictions: Vec::new(),
        })
    }
}

const SELECT: &str = "SELECT r.id, r.uuid, r.name, r.description, r.state, r.limits, r.attributes, \
     r.backend_id, r.end_date, r.paused, r.downscaled, r.restrict_member_access, r.created, \
     r.modified, p.id AS project_id, p.uuid AS project_uuid, p.name AS project_name, \
     c.id AS customer_id, c.uuid AS customer_uuid, c.name AS customer_name, \
     o.id AS offering_id, o.uuid AS offering_uuid, o.name AS offering_name, o.type AS offering_type, \
     o.plugin_options AS offering_plugin_options, pc.id AS provider_customer_id, \
     pc.uuid AS provider_uuid, pc.name AS provider_name, \
     pl.id AS plan_id, pl.uuid AS plan_uuid, pl.name AS plan_name \
     FROM resources r JOIN projects p ON p.id = r.project_id JOIN customers c ON c.id = p.customer_id \
     JOIN offerings o ON o.id = r.offering_id JOIN customers pc ON pc.id = o.customer_id \
     LEFT JOIN plans pl ON pl.id = r.plan_id";

pub struct NewResource<'a> {
    pub project_id: i64,
    pub offering_id: i64,
    pub plan_id: Option<i64>,
    pub name: &'a str,
    pub description: &'a str,
    pub limits: &'a str,
    pub attributes: &'a str,
}

pub async fn insert(tx: &mut Tx, uuid: &Uuid32, r: &NewResource<'_>, state: ResourceState, now: i64) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO resources (uuid, project_id, offering_id, plan_id, name, description, state, \
         limits, attributes, created, modified) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
         RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(r.project_id)
    .bind(r.offering_id)
    .bind(r.plan_id)
    .bind(r.name)
    .bind(r.description)
    .bind(state.as_str())
    .bind(r.limits)
    .bind(r.attributes)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn set_state(tx: &mut Tx, id: i64, state: ResourceState, now: i64) -> Result<()> {
    sqlx::query("UPDATE resources SET state = $1, modified = $2 WHERE id = $3")
        .bind(state.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_limits(tx: &mut Tx, id: i64, limits: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE resources SET limits = $1, modified = $2 WHERE id = $3")
        .bind(limits)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn update_details(
    tx: &mut Tx,
    id: i64,
    name: &str,
    description: &str,
    end_date: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE resources SET name = $1, description = $2, end_date = $3, modified = $4 WHERE id = $5")
        .bind(name)
        .bind(description)
        .bind(end_date)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<Resource>> {
    let row: Option<ResourceRow> = sqlx::query_as(&format!("{SELECT} WHERE r.uuid = $1"))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await?;
    row.map(Resource::try_from).transpose()
}

pub async fn by_id(pool: &AnyPool, id: i64) -> Result<Option<Resource>> {
    let row: Option<ResourceRow> = sqlx::query_as(&format!("{SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(Resource::try_from).transpose()
}

/// The resource as it is inside the transaction, locked for the rest of it on PostgreSQL.
pub async fn by_id_tx(tx: &mut Tx, id: i64) -> Result<Option<Resource>> {
    let lock = RowLock::Update.of(tx, "r");
    let row: Option<ResourceRow> = sqlx::query_as(&format!("{SELECT} WHERE r.id = $1 {lock}"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(Resource::try_from).transpose()
}

/// Locks the resource's row for the rest of the transaction (nothing on SQLite).
pub async fn lock(tx: &mut Tx, id: i64) -> Result<()> {
    let lock = RowLock::Update.clause(tx);
    if !lock.is_empty() {
        sqlx::query(&format!("SELECT id FROM resources WHERE id = $1 {lock}"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    }
    Ok(())
}

fn visible(vis: Visibility, v: (&str, &str)) -> String {
    sql::project_member(vis, "r.project_id", "p.customer_id", v.0, v.1)
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<Resource>> {
    by_uuid_seen(pool, uuid, vis, visible).await
}

/// Whose side sees a resource: `visible` (the consumer's project and customer roles) or
/// `provider_visible` (the offering's provider roles); the rest of a read is the same.
type Seen = fn(Visibility, (&str, &str)) -> String;

async fn by_uuid_seen(pool: &AnyPool, uuid: &Uuid32, vis: Visibility, seen: Seen) -> Result<Option<Resource>> {
    let (user, now) = vis.binds();
    let row: Option<ResourceRow> =
        sqlx::query_as(&format!("{SELECT} WHERE r.uuid = $1 AND {}", seen(vis, ("$2", "$3"))))
            .bind(uuid.to_string())
            .bind(user)
            .bind(now)
            .fetch_optional(pool)
            .await?;
    row.map(Resource::try_from).transpose()
}

/// The filter's states as an `any_of` list.
fn states(f: &ResourceFilter) -> Option<String> {
    let names: Vec<String> = f.states.iter().map(|s| s.as_str().to_string()).collect();
    any_of(&names)
}

const FILTER: &str = "($3 IS NULL OR c.uuid = $3) AND ($4 IS NULL OR p.uuid = $4) \
     AND ($5 IS NULL OR o.uuid = $5) AND ($6 IS NULL OR $6 LIKE '%,' || r.state || ',%')";

pub async fn count(pool: &AnyPool, vis: Visibility, f: &ResourceFilter) -> Result<i64> {
    count_seen(pool, vis, f, visible).await
}

pub async fn list(
    pool: &AnyPool,
    vis: Visibility,
    f: &ResourceFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<Resource>> {
    list_seen(pool, vis, f, visible, (limit, offset)).await
}

async fn count_seen(pool: &AnyPool, vis: Visibility, f: &ResourceFilter, seen: Seen) -> Result<i64> {
    let (user, now) = vis.binds();
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM resources r JOIN projects p ON p.id = r.project_id \
         JOIN customers c ON c.id = p.customer_id JOIN offerings o ON o.id = r.offering_id \
         WHERE {} AND {FILTER}",
        seen(vis, ("$1", "$2"))
    ))
    .bind(user)
    .bind(now)
    .bind(f.customer_uuid.clone())
    .bind(f.project_uuid.clone())
    .bind(f.offering_uuid.clone())
    .bind(states(f))
    .fetch_one(pool)
    .await
}

/// A page of `(limit, offset)`, newest first.
async fn list_seen(
    pool: &AnyPool,
    vis: Visibility,
    f: &ResourceFilter,
    seen: Seen,
    (limit, offset): (i64, i64),
) -> Result<Vec<Resource>> {
    let (user, now) = vis.binds();
    let rows: Vec<ResourceRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE {} AND {FILTER} ORDER BY r.created DESC, r.id DESC LIMIT $7 OFFSET $8",
        seen(vis, ("$1", "$2"))
    ))
    .bind(user)
    .bind(now)
    .bind(f.customer_uuid.clone())
    .bind(f.project_uuid.clone())
    .bind(f.offering_uuid.clone())
    .bind(states(f))
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(Resource::try_from).collect()
}

/// Whether the resource has an order that is not finished yet.
pub async fn has_open_order(tx: &mut Tx, resource_id: i64) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM orders WHERE resource_id = $1 AND state IN {}",
        super::orders::OPEN_STATES
    ))
    .bind(resource_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// What policy actions need to know about a customer's resource.
#[derive(Debug, Clone)]
pub struct ActionTarget {
    pub id: i64,
    pub uuid: Uuid32,
    pub name: String,
    pub state: ResourceState,
    pub paused: bool,
    pub downscaled: bool,
    pub restrict_member_access: bool,
    pub project_id: i64,
    pub offering_id: i64,
    pub offering_type: String,
    /// The offering's `plugin_options`, as stored JSON.
    pub plugin_options: String,
}

#[derive(FromRow)]
struct ActionTargetRow {
    id: i64,
    uuid: String,
    name: String,
    state: String,
    paused: i64,
    downscaled: i64,
    restrict_member_access: i64,
    project_id: i64,
    offering_id: i64,
    offering_type: String,
    plugin_options: String,
}

impl TryFrom<ActionTargetRow> for ActionTarget {
    type Error = sqlx::Error;

    fn try_from(row: ActionTargetRow) -> Result<Self> {
        Ok(ActionTarget {
            id: row.id,
            uuid: uuid("resources.uuid", &row.uuid)?,
            name: row.name,
            state: decoded("resources.state", &row.state, ResourceState::parse)?,
            paused: flag("resources.paused", row.paused)?,
            downscaled: flag("resources.downscaled", row.downscaled)?,
            restrict_member_access: flag("resources.restrict_member_access", row.restrict_member_access)?,
            project_id: row.project_id,
            offering_id: row.offering_id,
            offering_type: row.offering_type,
            plugin_options: row.plugin_options,
        })
    }
}

/// The customer's resources in id order, optionally only those visible to a user.
pub async fn of_customer(pool: &AnyPool, customer_id: i64, vis: Visibility) -> Result<Vec<ActionTarget>> {
    action_targets(pool, customer_id, vis, "").await
}

/// The customer's resources in id order, locked (PostgreSQL) for the rest of the transaction:
/// what a policy's actions rewrite.
pub async fn of_customer_for_update(tx: &mut Tx, customer_id: i64) -> Result<Vec<ActionTarget>> {
    let lock = RowLock::Update.of(tx, "r");
    action_targets(&mut **tx, customer_id, Visibility::All, &lock).await
}

async fn action_targets<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    ex: E,
    customer_id: i64,
    vis: Visibility,
    lock: &str,
) -> Result<Vec<ActionTarget>> {
    let (user, now) = vis.binds();
    let rows: Vec<ActionTargetRow> = sqlx::query_as(&format!(
        "SELECT r.id, r.uuid, r.name, r.state, r.paused, r.downscaled, r.restrict_member_access, \
         r.project_id, r.offering_id, o.type AS offering_type, o.plugin_options \
         FROM resources r JOIN projects p ON p.id = r.project_id JOIN offerings o ON o.id = r.offering_id \
         WHERE p.customer_id = $1 AND {} ORDER BY r.id {lock}",
        sql::project_member(vis, "r.project_id", "p.customer_id", "$2", "$3")
    ))
    .bind(customer_id)
    .bind(user)
    .bind(now)
    .fetch_all(ex)
    .await?;
    rows.into_iter().map(ActionTarget::try_from).collect()
}

/// A policy flag column of resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Paused,
    Downscaled,
    RestrictMemberAccess,
}

impl Flag {
    pub fn column(self) -> &'static str {
        match self {
            Flag::Paused => "paused",
            Flag::Downscaled => "downscaled",
            Flag::RestrictMemberAccess => "restrict_member_access",
        }
    }
}

pub async fn set_flag(tx: &mut Tx, id: i64, flag: Flag, value: bool, now: i64) -> Result<()> {
    sqlx::query(&format!(
        "UPDATE resources SET {} = $1, modified = $2 WHERE id = $3",
        flag.column()
    ))
    .bind(super::rows::int(value))
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records that the policy holds the resource's flag (kept apart from the client-written
/// `attributes`); a hold it already has keeps its first `since`.
pub async fn hold(tx: &mut Tx, resource_id: i64, flag: Flag, policy_id: i64, since: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO resource_restrictions (resource_id, flag, policy_id, since) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (resource_id, flag, policy_id) DO NOTHING",
    )
    .bind(resource_id)
    .bind(flag.column())
    .bind(policy_id)
    .bind(since)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Drops the policy's holds on the flag, on whichever resources.
pub async fn release_policy(tx: &mut Tx, policy_id: i64, flag: Flag) -> Result<()> {
    sqlx::query("DELETE FROM resource_restrictions WHERE policy_id = $1 AND flag = $2")
        .bind(policy_id)
        .bind(flag.column())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The provider view (docs/site-agent.md): resources of offerings whose customer the caller holds
/// a role in (staff and support: all).
fn provider_visible(vis: Visibility, v: (&str, &str)) -> String {
    sql::customer_role(vis, "o.customer_id", v.0, v.1)
}

pub async fn provider_visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<Resource>> {
    by_uuid_seen(pool, uuid, vis, provider_visible).await
}

pub async fn provider_count(pool: &AnyPool, vis: Visibility, f: &ResourceFilter) -> Result<i64> {
    count_seen(pool, vis, f, provider_visible).await
}

pub async fn provider_list(
    pool: &AnyPool,
    vis: Visibility,
    f: &ResourceFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<Resource>> {
    list_seen(pool, vis, f, provider_visible, (limit, offset)).await
}

pub async fn set_backend_id(tx: &mut Tx, id: i64, backend_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE resources SET backend_id = $1, modified = $2 WHERE id = $3")
        .bind(backend_id)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_value_that_does_not_decode_fails_the_read() {
        assert_eq!(
            decoded("resources.state", "OK", ResourceState::parse).ok(),
            Some(ResourceState::Ok)
        );
        let err = decoded("resources.state", "Gone", ResourceState::parse).unwrap_err();
        assert!(matches!(err, sqlx::Error::Decode(_)), "{err}");
        assert!(err.to_string().contains("resources.state"), "{err}");
        assert!(uuid("resources.uuid", "not-a-uuid").is_err());
    }
}
