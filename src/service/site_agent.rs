//! The site agent's registrations (docs/site-agent.md): identities per offering, the services
//! an identity runs, the processors a service runs. Visible to the offering's provider (its
//! customer roles) and to staff and support; written by staff and the provider's owners and
//! managers, the token an agent runs with.

use super::checked::{verdict, Checked};
use super::{access, ServiceError, ServiceResult};
use crate::authz::{Principal, Visibility};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::site_agent::{
    AgentIdentity, AgentProcessor, AgentService, IdentityFields, IdentityFilter, ProcessorFields, ServiceFilter,
};
use crate::domain::Uuid32;
use crate::store::offerings::Catalog;
use crate::store::{self, Db};

pub const IDENTITY_NOT_FOUND: &str = "No AgentIdentity matches the given query.";
pub const SERVICE_NOT_FOUND: &str = "No AgentService matches the given query.";
const NAME_TAKEN: &str = "Agent identity with this offering and name already exists.";

/// DRF's message for a uuid that names no object the caller may see.
pub fn no_such_object(uuid: &Uuid32) -> String {
    format!("Object with uuid={} does not exist.", uuid.hyphenated())
}

pub async fn list_identities(
    db: &Db,
    caller: &Principal,
    filter: &IdentityFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<AgentIdentity>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::site_agent::count_identities(db.reader(), vis, filter).await?)?;
    let items = store::site_agent::list_identities(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

pub async fn retrieve_identity(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<AgentIdentity> {
    store::site_agent::visible_identity(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(IDENTITY_NOT_FOUND))
}

/// Acts for the provider of the object the caller sees, or 403.
async fn acting_for(db: &Db, caller: &Principal, provider_customer_id: i64, now: i64) -> ServiceResult<()> {
    if access::may_act_for_provider(db, caller, provider_customer_id, now).await? {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// The offering an identity names: one the caller sees as its provider, which it may act for.
async fn agent_offering(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<i64> {
    let catalog = Catalog::Provider(Visibility::of(caller, now));
    let Some(offering) = store::offerings::visible_by_uuid(db.reader(), uuid, catalog).await? else {
        return Err(ServiceError::Field("offering", no_such_object(uuid)));
    };
    acting_for(db, caller, offering.customer_id, now).await?;
    Ok(offering.id)
}

/// An identity as a request gives it: its offering's uuid and its own fields.
#[derive(Debug, Clone)]
pub struct IdentityRequest {
    pub offering: Uuid32,
    pub fields: IdentityFields,
}

pub async fn create_identity(
    db: &Db,
    caller: &Principal,
    request: IdentityRequest,
    now: i64,
) -> ServiceResult<AgentIdentity> {
    let offering_id = agent_offering(db, caller, &request.offering, now).await?;
    let uuid = Uuid32::new_v4();
    let mut tx = db.begin().await?;
    match store::site_agent::insert_identity(&mut tx, &uuid, offering_id, &request.fields, caller.id, now).await {
        // The name is unique within the offering (the table's index says so).
        Err(e) if store::is_unique_violation(&e) => return Err(ServiceError::Rejected(NAME_TAKEN.into())),
        other => other?,
    }
    tx.commit().await?;
    retrieve_identity(db, caller, &uuid, now).await
}

/// Replaces an identity's fields (the agent does at each start). The identity must be visible
/// (404) and the caller act for its provider (403) before the body's errors are reported.
pub async fn update_identity(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    request: Checked<IdentityRequest>,
    now: i64,
) -> ServiceResult<AgentIdentity> {
    let identity = retrieve_identity(db, caller, uuid, now).await?;
    acting_for(db, caller, identity.provider_customer_id, now).await?;
    let request = verdict(request)?;
    let offering_id = agent_offering(db, caller, &request.offering, now).await?;
    let mut tx = db.begin().await?;
    match store::site_agent::update_identity(&mut tx, identity.id, offering_id, &request.fields, now).await {
        Err(e) if store::is_unique_violation(&e) => return Err(ServiceError::Rejected(NAME_TAKEN.into())),
        other => other?,
    }
    tx.commit().await?;
    retrieve_identity(db, caller, uuid, now).await
}

pub async fn delete_identity(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<()> {
    let identity = retrieve_identity(db, caller, uuid, now).await?;
    acting_for(db, caller, identity.provider_customer_id, now).await?;
    let mut tx = db.begin().await?;
    store::site_agent::delete_identity(&mut tx, identity.id).await?;
    tx.commit().await?;
    Ok(())
}

/// A service's registration: its name and mode.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    pub name: String,
    pub mode: Option<String>,
}

/// Registers a service under the identity, or refreshes the one of that name; answers it and
/// whether it is new.
pub async fn register_service(
    db: &Db,
    caller: &Principal,
    identity: &Uuid32,
    request: Checked<ServiceRequest>,
    now: i64,
) -> ServiceResult<(AgentService, bool)> {
    let identity = retrieve_identity(db, caller, identity, now).await?;
    acting_for(db, caller, identity.provider_customer_id, now).await?;
    let request = verdict(request)?;
    let mut tx = db.begin().await?;
    let (uuid, created) =
        store::site_agent::upsert_service(&mut tx, identity.id, &request.name, request.mode.as_deref(), now).await?;
    tx.commit().await?;
    Ok((retrieve_service(db, caller, &uuid, now).await?, created))
}

pub async fn list_services(
    db: &Db,
    caller: &Principal,
    filter: &ServiceFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<AgentService>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::site_agent::count_services(db.reader(), vis, filter).await?)?;
    let items = store::site_agent::list_services(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

pub async fn retrieve_service(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<AgentService> {
    store::site_agent::visible_service(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(SERVICE_NOT_FOUND))
}

/// Registers a processor under the service, or refreshes the one of that name, and records that
/// it runs now; answers it, the service's name, and whether it is new.
pub async fn register_processor(
    db: &Db,
    caller: &Principal,
    service: &Uuid32,
    request: Checked<ProcessorFields>,
    now: i64,
) -> ServiceResult<(AgentProcessor, AgentService, bool)> {
    let service = retrieve_service(db, caller, service, now).await?;
    acting_for(db, caller, service.provider_customer_id, now).await?;
    let fields = verdict(request)?;
    let mut tx = db.begin().await?;
    let (uuid, created) = store::site_agent::upsert_processor(&mut tx, service.id, &fields, now).await?;
    tx.commit().await?;
    let processor = store::site_agent::processor_by_uuid(db.reader(), &uuid)
        .await?
        .ok_or(ServiceError::NotFound(SERVICE_NOT_FOUND))?;
    Ok((processor, service, created))
}
