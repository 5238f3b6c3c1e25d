//! Site agent identities, their services and processors, decoded here into
//! `domain::site_agent` records. Each is visible as its offering is to its provider.

use super::rows::uuid;
use super::visibility as sql;
use super::{placeholders, Result, Tx};
use crate::authz::Visibility;
use crate::domain::site_agent::{
    AgentIdentity, AgentProcessor, AgentService, Dependency, IdentityFields, IdentityFilter, ProcessorFields,
    ServiceFilter,
};
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

#[derive(FromRow)]
struct IdentityRow {
    id: i64,
    uuid: String,
    offering_uuid: String,
    provider_customer_id: i64,
    name: String,
    version: Option<String>,
    dependencies: String,
    config_file_path: Option<String>,
    config_file_content: Option<String>,
    last_restarted: Option<i64>,
    created_by_uuid: Option<String>,
    created: i64,
    modified: i64,
}

impl TryFrom<IdentityRow> for AgentIdentity {
    type Error = sqlx::Error;

    fn try_from(r: IdentityRow) -> Result<Self> {
        let dependencies: Vec<Dependency> = serde_json::from_str(&r.dependencies)
            .map_err(|_| super::rows::undecodable("site_agent_identities.dependencies", &r.dependencies))?;
        Ok(Self {
            id: r.id,
            uuid: uuid("site_agent_identities.uuid", &r.uuid)?,
            offering_uuid: uuid("offerings.uuid", &r.offering_uuid)?,
            provider_customer_id: r.provider_customer_id,
            name: r.name,
            version: r.version,
            dependencies,
            config_file_path: r.config_file_path,
            config_file_content: r.config_file_content,
            last_restarted: r.last_restarted,
            created_by_uuid: r.created_by_uuid.map(|t| uuid("users.uuid", &t)).transpose()?,
            created: r.created,
            modified: r.modified,
            services: Vec::new(),
        })
    }
}

const IDENTITY: &str = "SELECT i.id, i.uuid, o.uuid AS offering_uuid, o.customer_id AS provider_customer_id, \
     i.name, i.version, i.dependencies, i.config_file_path, i.config_file_content, i.last_restarted, \
     u.uuid AS created_by_uuid, i.created, i.modified \
     FROM site_agent_identities i JOIN offerings o ON o.id = i.offering_id \
     LEFT JOIN users u ON u.id = i.created_by_id";

/// Visible to staff and support, and to the customer roles of the offering's provider.
fn visible(vis: Visibility, u: &str, n: &str) -> String {
    sql::customer_role(vis, "o.customer_id", u, n)
}

const IDENTITY_FILTER: &str = "($3 IS NULL OR i.name = $3) AND ($4 IS NULL OR o.uuid = $4)";

pub async fn count_identities(pool: &AnyPool, vis: Visibility, f: &IdentityFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM site_agent_identities i JOIN offerings o ON o.id = i.offering_id \
         WHERE {} AND {IDENTITY_FILTER}",
        visible(vis, "$1", "$2")
    ))
    .bind(user)
    .bind(now)
    .bind(f.name.clone())
    .bind(f.offering_uuid.clone())
    .fetch_one(pool)
    .await
}

/// One page of identities, newest first, each with its services and their processors.
pub async fn list_identities(
    pool: &AnyPool,
    vis: Visibility,
    f: &IdentityFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<AgentIdentity>> {
    let (user, now) = vis.binds();
    let rows: Vec<IdentityRow> = sqlx::query_as(&format!(
        "{IDENTITY} WHERE {} AND {IDENTITY_FILTER} ORDER BY i.created DESC, i.id DESC LIMIT $5 OFFSET $6",
        visible(vis, "$1", "$2")
    ))
    .bind(user)
    .bind(now)
    .bind(f.name.clone())
    .bind(f.offering_uuid.clone())
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let mut identities = rows
        .into_iter()
        .map(AgentIdentity::try_from)
        .collect::<Result<Vec<_>>>()?;
    attach_services(pool, &mut identities).await?;
    Ok(identities)
}

pub async fn visible_identity(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<AgentIdentity>> {
    let (user, now) = vis.binds();
    let row: Option<IdentityRow> = sqlx::query_as(&format!(
        "{IDENTITY} WHERE i.uuid = $3 AND {}",
        visible(vis, "$1", "$2")
    ))
    .bind(user)
    .bind(now)
    .bind(uuid.to_string())
    .fetch_optional(pool)
    .await?;
    let Some(identity) = row.map(AgentIdentity::try_from).transpose()? else {
        return Ok(None);
    };
    let mut one = vec![identity];
    attach_services(pool, &mut one).await?;
    Ok(one.pop())
}

async fn attach_services(pool: &AnyPool, identities: &mut [AgentIdentity]) -> Result<()> {
    if identities.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = identities.iter().map(|i| i.id).collect();
    let mut services = services_where(
        pool,
        &format!("s.identity_id IN ({})", placeholders(1, ids.len())),
        &ids,
    )
    .await?;
    for identity in identities.iter_mut() {
        let (mine, rest): (Vec<_>, Vec<_>) = services.into_iter().partition(|s| s.identity_uuid == identity.uuid);
        identity.services = mine;
        services = rest;
    }
    Ok(())
}

pub async fn insert_identity(
    tx: &mut Tx,
    uuid: &Uuid32,
    offering_id: i64,
    f: &IdentityFields,
    created_by: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO site_agent_identities (uuid, offering_id, name, version, dependencies, config_file_path, \
         config_file_content, last_restarted, created_by_id, created, modified) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(uuid.to_string())
    .bind(offering_id)
    .bind(&f.name)
    .bind(f.version.clone())
    .bind(dependencies(f))
    .bind(f.config_file_path.clone())
    .bind(f.config_file_content.clone())
    .bind(f.last_restarted)
    .bind(created_by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn dependencies(f: &IdentityFields) -> String {
    serde_json::to_string(&f.dependencies).unwrap_or_else(|_| "[]".into())
}

pub async fn update_identity(tx: &mut Tx, id: i64, offering_id: i64, f: &IdentityFields, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE site_agent_identities SET offering_id = $1, name = $2, version = $3, dependencies = $4, \
         config_file_path = $5, config_file_content = $6, last_restarted = $7, modified = $8 WHERE id = $9",
    )
    .bind(offering_id)
    .bind(&f.name)
    .bind(f.version.clone())
    .bind(dependencies(f))
    .bind(f.config_file_path.clone())
    .bind(f.config_file_content.clone())
    .bind(f.last_restarted)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_identity(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM site_agent_identities WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(FromRow)]
struct ServiceRow {
    id: i64,
    uuid: String,
    identity_uuid: String,
    identity_name: String,
    provider_customer_id: i64,
    name: String,
    mode: Option<String>,
    created: i64,
    modified: i64,
}

impl TryFrom<ServiceRow> for AgentService {
    type Error = sqlx::Error;

    fn try_from(r: ServiceRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            uuid: uuid("site_agent_services.uuid", &r.uuid)?,
            identity_uuid: uuid("site_agent_identities.uuid", &r.identity_uuid)?,
            identity_name: r.identity_name,
            provider_customer_id: r.provider_customer_id,
            name: r.name,
            mode: r.mode,
            created: r.created,
            modified: r.modified,
            processors: Vec::new(),
        })
    }
}

const SERVICE: &str = "SELECT s.id, s.uuid, i.uuid AS identity_uuid, i.name AS identity_name, \
     o.customer_id AS provider_customer_id, s.name, s.mode, s.created, s.modified \
     FROM site_agent_services s JOIN site_agent_identities i ON i.id = s.identity_id \
     JOIN offerings o ON o.id = i.offering_id";

/// The services matching `condition` (over `s`, its ids bound from $1), with their processors.
async fn services_where(pool: &AnyPool, condition: &str, ids: &[i64]) -> Result<Vec<AgentService>> {
    let sql = format!("{SERVICE} WHERE {condition} ORDER BY s.created, s.id");
    let mut q = sqlx::query_as::<_, ServiceRow>(&sql);
    for id in ids {
        q = q.bind(*id);
    }
    let mut services = q
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(AgentService::try_from)
        .collect::<Result<Vec<_>>>()?;
    attach_processors(pool, &mut services).await?;
    Ok(services)
}

const SERVICE_FILTER: &str = "($3 IS NULL OR i.uuid = $3) AND ($4 IS NULL OR o.uuid = $4)";

pub async fn count_services(pool: &AnyPool, vis: Visibility, f: &ServiceFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM site_agent_services s JOIN site_agent_identities i ON i.id = s.identity_id \
         JOIN offerings o ON o.id = i.offering_id WHERE {} AND {SERVICE_FILTER}",
        visible(vis, "$1", "$2")
    ))
    .bind(user)
    .bind(now)
    .bind(f.identity_uuid.clone())
    .bind(f.offering_uuid.clone())
    .fetch_one(pool)
    .await
}

/// One page of services, the most recently registered first, with their processors.
pub async fn list_services(
    pool: &AnyPool,
    vis: Visibility,
    f: &ServiceFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<AgentService>> {
    let (user, now) = vis.binds();
    let rows: Vec<ServiceRow> = sqlx::query_as(&format!(
        "{SERVICE} WHERE {} AND {SERVICE_FILTER} ORDER BY s.modified DESC, s.id DESC LIMIT $5 OFFSET $6",
        visible(vis, "$1", "$2")
    ))
    .bind(user)
    .bind(now)
    .bind(f.identity_uuid.clone())
    .bind(f.offering_uuid.clone())
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let mut services = rows
        .into_iter()
        .map(AgentService::try_from)
        .collect::<Result<Vec<_>>>()?;
    attach_processors(pool, &mut services).await?;
    Ok(services)
}

pub async fn visible_service(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<AgentService>> {
    let (user, now) = vis.binds();
    let row: Option<ServiceRow> =
        sqlx::query_as(&format!("{SERVICE} WHERE s.uuid = $3 AND {}", visible(vis, "$1", "$2")))
            .bind(user)
            .bind(now)
            .bind(uuid.to_string())
            .fetch_optional(pool)
            .await?;
    let Some(service) = row.map(AgentService::try_from).transpose()? else {
        return Ok(None);
    };
    let mut one = vec![service];
    attach_processors(pool, &mut one).await?;
    Ok(one.pop())
}

/// Registers the service under the identity, or refreshes the one of that name; answers its
/// uuid and whether it is new. One statement, so two agents registering at once both succeed.
pub async fn upsert_service(
    tx: &mut Tx,
    identity_id: i64,
    name: &str,
    mode: Option<&str>,
    now: i64,
) -> Result<(Uuid32, bool)> {
    let new = Uuid32::new_v4();
    let stored: String = sqlx::query_scalar(
        "INSERT INTO site_agent_services (uuid, identity_id, name, mode, created, modified) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (identity_id, name) \
         DO UPDATE SET mode = excluded.mode, modified = excluded.modified RETURNING uuid",
    )
    .bind(new.to_string())
    .bind(identity_id)
    .bind(name)
    .bind(mode)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let stored = uuid("site_agent_services.uuid", &stored)?;
    Ok((stored, stored == new))
}

#[derive(FromRow)]
struct ProcessorRow {
    uuid: String,
    service_id: i64,
    name: String,
    backend_type: String,
    backend_version: Option<String>,
    last_run: Option<i64>,
    created: i64,
    modified: i64,
}

impl TryFrom<ProcessorRow> for AgentProcessor {
    type Error = sqlx::Error;

    fn try_from(r: ProcessorRow) -> Result<Self> {
        Ok(Self {
            uuid: uuid("site_agent_processors.uuid", &r.uuid)?,
            service_id: r.service_id,
            name: r.name,
            backend_type: r.backend_type,
            backend_version: r.backend_version,
            last_run: r.last_run,
            created: r.created,
            modified: r.modified,
        })
    }
}

async fn attach_processors(pool: &AnyPool, services: &mut [AgentService]) -> Result<()> {
    if services.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT uuid, service_id, name, backend_type, backend_version, last_run, created, modified \
         FROM site_agent_processors WHERE service_id IN ({}) ORDER BY created, id",
        placeholders(1, services.len())
    );
    let mut q = sqlx::query_as::<_, ProcessorRow>(&sql);
    for s in services.iter() {
        q = q.bind(s.id);
    }
    let mut processors = q
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(AgentProcessor::try_from)
        .collect::<Result<Vec<_>>>()?;
    for service in services.iter_mut() {
        let (mine, rest): (Vec<_>, Vec<_>) = processors.into_iter().partition(|p| p.service_id == service.id);
        service.processors = mine;
        processors = rest;
    }
    Ok(())
}

/// Registers the processor under the service, or refreshes the one of that name; either way it
/// has just run. Answers its uuid and whether it is new, in one statement as services.
pub async fn upsert_processor(tx: &mut Tx, service_id: i64, f: &ProcessorFields, now: i64) -> Result<(Uuid32, bool)> {
    let new = Uuid32::new_v4();
    let stored: String = sqlx::query_scalar(
        "INSERT INTO site_agent_processors (uuid, service_id, name, backend_type, backend_version, last_run, \
         created, modified) VALUES ($1, $2, $3, $4, $5, $6, $6, $6) ON CONFLICT (service_id, name) \
         DO UPDATE SET backend_type = excluded.backend_type, backend_version = excluded.backend_version, \
         last_run = excluded.last_run, modified = excluded.modified RETURNING uuid",
    )
    .bind(new.to_string())
    .bind(service_id)
    .bind(&f.name)
    .bind(&f.backend_type)
    .bind(f.backend_version.clone())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let stored = uuid("site_agent_processors.uuid", &stored)?;
    Ok((stored, stored == new))
}

/// The processor as stored, for the answer to its registration.
pub async fn processor_by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<AgentProcessor>> {
    sqlx::query_as::<_, ProcessorRow>(
        "SELECT uuid, service_id, name, backend_type, backend_version, last_run, created, modified \
         FROM site_agent_processors WHERE uuid = $1",
    )
    .bind(uuid.to_string())
    .fetch_optional(pool)
    .await?
    .map(AgentProcessor::try_from)
    .transpose()
}
