//! Grants (docs/grants.md): staff create and delete them; whoever sees their policy reads them.
//! Creating or deleting one re-evaluates its policy at once, in the same transaction and under
//! its customer's lock, as a policy write does; its start and expiry are the scheduler's
//! (`grant_boundaries`).

use super::access::require_staff;
use super::checked::DOES_NOT_EXIST;
use super::parsed::Parsed;
use super::policies::{lock_policy, Locked};
use super::{evaluation, ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::authz::{Principal, Visibility};
use crate::domain::evaluation::PolicyState;
use crate::domain::grant::{ComponentGrant, GrantAmount, GrantFilter, GrantReason, GrantWindow};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::time::{self, Micros};
use crate::domain::Uuid32;
use crate::store::{self, events::NewEvent, Db, Tx};
use chrono::{DateTime, Utc};
use serde_json::json;

pub const NOT_FOUND: &str = "No ComponentUsageGrant matches the given query.";
pub const NOT_LIMITED: &str = "The policy has no limit on this component.";

/// A create body as the API parsed it; a field is `None` when absent or refused (its error is
/// in the `Parsed`).
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub policy: Option<Uuid32>,
    pub component: Option<Uuid32>,
    pub amount: Option<GrantAmount>,
    pub window: Option<GrantWindow>,
    pub reason: Option<GrantReason>,
}

pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &GrantFilter,
    request: PageRequest,
    now: Micros,
) -> ServiceResult<Listed<ComponentGrant>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::grants::count(db.reader(), vis, filter, now).await?)?;
    let items = store::grants::list(db.reader(), vis, filter, now, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32, now: Micros) -> ServiceResult<ComponentGrant> {
    store::grants::visible_by_uuid(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// Creates a grant and re-evaluates its policy with it (a fired policy may reset); answers it.
pub async fn create(
    db: &Db,
    cfg: &ActionsConfig,
    caller: &Principal,
    mut request: Parsed<GrantRequest>,
    now: DateTime<Utc>,
) -> ServiceResult<ComponentGrant> {
    require_staff(caller)?;
    let (mut tx, policy) = loop {
        let mut tx = db.begin().await?;
        let Some(uuid) = request.value().policy else {
            break (tx, None);
        };
        match lock_policy(&mut tx, &uuid, None).await? {
            Locked::Held(policy) => break (tx, Some((policy.id, policy.customer_id))),
            Locked::Gone => {
                request.refuse_first("policy", DOES_NOT_EXIST);
                break (tx, None);
            }
            Locked::Moved => continue,
        }
    };
    let component = match (policy, request.value().component) {
        (Some((policy_id, _)), Some(component)) => {
            let found = store::grants::limited_component(&mut tx, policy_id, &component).await?;
            if found.is_none() {
                request.refuse("component", NOT_LIMITED);
            }
            found
        }
        _ => None,
    };
    let body = request.accept()?;
    let (Some((policy_id, customer_id)), Some((component_id, _)), Some(amount), Some(window), Some(reason)) =
        (policy, component, body.amount, body.window, body.reason)
    else {
        return Err(ServiceError::Rejected("A grant needs every field.".into()));
    };
    let uuid = Uuid32::new_v4();
    let new = store::grants::NewGrant {
        uuid: &uuid,
        policy_id,
        component_id,
        amount: amount.amount(),
        window,
        reason: &reason,
        created_by: caller.id,
        created: now.timestamp_micros(),
    };
    let id = store::grants::insert(&mut tx, &new).await?;
    record(&mut tx, policy_id, id, GrantEvent::Created, now.timestamp_micros()).await?;
    let transitions = evaluation::policy(&mut tx, db, cfg, customer_id, policy_id, now).await?;
    tx.commit().await?;
    cfg.after_commit(transitions);
    // Its boundaries may come before the scheduler's next wake.
    cfg.pending_added.notify_one();
    retrieve(db, caller, &uuid, now.timestamp_micros()).await
}

/// Deletes a grant and re-evaluates its policy without it (a policy may fire).
pub async fn delete(
    db: &Db,
    cfg: &ActionsConfig,
    caller: &Principal,
    uuid: &Uuid32,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    require_staff(caller)?;
    loop {
        let mut tx = db.begin().await?;
        let Some(seen) = store::grants::locate(&mut tx, uuid).await? else {
            return Err(ServiceError::NotFound(NOT_FOUND));
        };
        evaluation::lock_customers(&mut tx, &[seen.customer_id]).await?;
        let grant = match store::grants::locate(&mut tx, uuid).await? {
            None => return Err(ServiceError::NotFound(NOT_FOUND)),
            Some(g) if g.customer_id == seen.customer_id => g,
            Some(_) => continue,
        };
        record(
            &mut tx,
            grant.policy_id,
            grant.id,
            GrantEvent::Deleted,
            now.timestamp_micros(),
        )
        .await?;
        store::grants::delete(&mut tx, grant.id).await?;
        let transitions = evaluation::policy(&mut tx, db, cfg, grant.customer_id, grant.policy_id, now).await?;
        tx.commit().await?;
        cfg.after_commit(transitions);
        return Ok(());
    }
}

/// What happened to a grant, as its event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantEvent {
    Created,
    Expired,
    Deleted,
}

impl GrantEvent {
    fn name(self) -> &'static str {
        match self {
            GrantEvent::Created => "grant_created",
            GrantEvent::Expired => "grant_expired",
            GrantEvent::Deleted => "grant_deleted",
        }
    }

    fn message(self, grant: &ComponentGrant, policy: &PolicyState) -> String {
        let what = match self {
            GrantEvent::Created => format!(
                "adds {} to its {} limit until {}",
                grant.amount,
                grant.component_type,
                time::render(grant.expires_at)
            ),
            GrantEvent::Expired => "expired".to_string(),
            GrantEvent::Deleted => "was deleted".to_string(),
        };
        format!(
            "Grant {} of usage policy {} of {} {what}.",
            grant.uuid, policy.uuid, policy.customer_name
        )
    }
}

/// Writes a grant's event, visible as its policy's events are (docs/grants.md §4).
pub(super) async fn record(
    tx: &mut Tx,
    policy_id: i64,
    grant_id: i64,
    event: GrantEvent,
    at: Micros,
) -> store::Result<()> {
    let (Some(policy), Some(grant)) = (
        store::evaluation::policy(tx, policy_id).await?,
        store::grants::by_id(tx, grant_id).await?,
    ) else {
        return Ok(());
    };
    let context = json!({
        "policy_uuid": policy.uuid.to_string(),
        "customer_uuid": policy.customer_uuid.to_string(),
        "customer_name": policy.customer_name,
        "grant_uuid": grant.uuid.to_string(),
        "type": grant.component_type,
        "amount": grant.amount.to_string(),
        "starts_at": time::render(grant.starts_at),
        "expires_at": time::render(grant.expires_at),
        "reason": grant.reason,
    });
    let policy_uuid = policy.uuid.to_string();
    let e = NewEvent {
        event_type: event.name(),
        message: &event.message(&grant, &policy),
        context: &context,
        customer_id: Some(policy.customer_id),
        policy_uuid: Some(&policy_uuid),
    };
    store::events::insert(tx, &e, at).await
}
