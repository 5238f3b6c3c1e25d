//! `marketplace-provider-resources`: resources as the provider and its site agent see and
//! maintain them (docs/site-agent.md). Visible to the offering's customer roles and to staff and
//! support; written by staff and the provider's owners and managers. None of these writes is a
//! modification a policy blocks: they record what the cluster did.

use super::checked::{verdict, Checked};
use super::{access, ServiceError, ServiceResult};
use crate::authz::{Principal, Visibility};
use crate::domain::marketplace::ResourceState;
use crate::domain::page::{Listed, PageRequest};
use crate::domain::provider_resource::{ProviderResource, SyncReportResult, SyncStatus, TeamMember};
use crate::domain::resource::{Resource, ResourceFilter};
use crate::domain::{ResourceLimits, Uuid32};
use crate::store::{self, Db, Tx};

pub const NOT_FOUND: &str = "No Resource matches the given query.";
const STATE_NOT_ALLOWED: &str = "Resource state does not allow this action.";

/// What a provider action answers, as upstream's `{"status": ...}`.
pub type Status = &'static str;

async fn with_sync(db: &Db, resources: Vec<Resource>) -> ServiceResult<Vec<ProviderResource>> {
    let ids: Vec<i64> = resources.iter().map(|r| r.id).collect();
    let mut sync = store::resource_sync::of_resources(db.reader(), &ids).await?;
    Ok(resources
        .into_iter()
        .map(|resource| ProviderResource {
            sync: sync.remove(&resource.id).unwrap_or_default(),
            resource,
        })
        .collect())
}

pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &ResourceFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<ProviderResource>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::resources::provider_count(db.reader(), vis, filter).await?)?;
    let found = store::resources::provider_list(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed {
        items: with_sync(db, found).await?,
        page,
    })
}

async fn visible(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<Resource> {
    store::resources::provider_visible_by_uuid(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<ProviderResource> {
    let resource = visible(db, caller, uuid, now).await?;
    let mut one = with_sync(db, vec![resource]).await?;
    one.pop().ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// The resource, if the caller sees it (404) and acts for its provider (403), locked in a
/// transaction for the write; then the body's verdict.
async fn writable<T>(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    body: Checked<T>,
    now: i64,
) -> ServiceResult<(Tx, Resource, T)> {
    let resource = visible(db, caller, uuid, now).await?;
    if !access::may_act_for_provider(db, caller, resource.provider_customer_id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let body = verdict(body)?;
    let mut tx = db.begin().await?;
    let locked = store::resources::by_id_tx(&mut tx, resource.id)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))?;
    Ok((tx, locked, body))
}

pub async fn set_backend_id(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    backend_id: Checked<String>,
    now: i64,
) -> ServiceResult<Status> {
    let (mut tx, resource, backend_id) = writable(db, caller, uuid, backend_id, now).await?;
    if resource.backend_id == backend_id {
        return Ok("Resource backend_id is not changed.");
    }
    store::resources::set_backend_id(&mut tx, resource.id, &backend_id, now).await?;
    tx.commit().await?;
    Ok("Resource backend_id has been changed.")
}

/// The limits the cluster enforces, replacing the resource's (no order: the provider reports).
pub async fn set_limits(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    limits: Checked<ResourceLimits>,
    now: i64,
) -> ServiceResult<Status> {
    let (mut tx, resource, limits) = writable(db, caller, uuid, limits, now).await?;
    store::resources::set_limits(&mut tx, resource.id, &limits.to_json().to_string(), now).await?;
    tx.commit().await?;
    Ok("Resource limits have been updated.")
}

/// `metadata`: a JSON object, as text.
pub async fn set_backend_metadata(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    metadata: Checked<String>,
    now: i64,
) -> ServiceResult<Status> {
    let (mut tx, resource, metadata) = writable(db, caller, uuid, metadata, now).await?;
    store::resource_sync::set_backend_metadata(&mut tx, resource.id, &metadata).await?;
    tx.commit().await?;
    Ok("Resource backend metadata has been updated.")
}

/// Back to OK from Erred (an OK resource stays OK), clearing the error.
pub async fn set_as_ok(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<Status> {
    let (mut tx, resource, ()) = writable(db, caller, uuid, Ok(()), now).await?;
    match resource.state {
        ResourceState::Erred => store::resources::set_state(&mut tx, resource.id, ResourceState::Ok, now).await?,
        ResourceState::Ok => {}
        _ => return Err(ServiceError::Conflict(STATE_NOT_ALLOWED.into())),
    }
    store::resource_sync::set_error(&mut tx, resource.id, "", "").await?;
    tx.commit().await?;
    Ok("Resource state has been changed to OK.")
}

/// To Erred from OK (an Erred resource stays Erred), with the agent's error.
pub async fn set_as_erred(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    error: Checked<(String, String)>,
    now: i64,
) -> ServiceResult<Status> {
    let (mut tx, resource, (message, traceback)) = writable(db, caller, uuid, error, now).await?;
    match resource.state {
        ResourceState::Ok => store::resources::set_state(&mut tx, resource.id, ResourceState::Erred, now).await?,
        ResourceState::Erred => {}
        _ => return Err(ServiceError::Conflict(STATE_NOT_ALLOWED.into())),
    }
    store::resource_sync::set_error(&mut tx, resource.id, &message, &traceback).await?;
    tx.commit().await?;
    Ok("Resource state has been changed to Erred.")
}

/// Records that the agent synced the resource now.
pub async fn refresh_last_sync(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<Status> {
    let (mut tx, resource, ()) = writable(db, caller, uuid, Ok(()), now).await?;
    store::resource_sync::set_last_sync(&mut tx, resource.id, now).await?;
    tx.commit().await?;
    Ok("Resource last sync has been refreshed.")
}

/// The members of the resource's project, with their accounts on its offering.
pub async fn team(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<TeamMember>> {
    let resource = visible(db, caller, uuid, now).await?;
    let page = request.resolve(store::resource_sync::count_team(db.reader(), resource.id, now).await?)?;
    let items = store::resource_sync::team(db.reader(), resource.id, now, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

/// Stores the agent's report of which role grants landed on the cluster; an entry naming no
/// known user is skipped and listed.
pub async fn set_membership_sync_statuses(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    statuses: Checked<Vec<SyncStatus>>,
    now: i64,
) -> ServiceResult<SyncReportResult> {
    let (mut tx, resource, statuses) = writable(db, caller, uuid, statuses, now).await?;
    let mut result = SyncReportResult::default();
    for status in &statuses {
        match store::resource_sync::user_id(db.reader(), status).await? {
            Some(user_id) => {
                store::resource_sync::store_status(&mut tx, resource.id, user_id, status, now).await?;
                result.stored += 1;
            }
            None => result.skipped.push(
                status
                    .username
                    .clone()
                    .or_else(|| status.user_uuid.map(|u| u.to_string()))
                    .unwrap_or_default(),
            ),
        }
    }
    tx.commit().await?;
    Ok(result)
}
