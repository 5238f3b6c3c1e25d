//! Customer component usage policies: reading them as the API shows them, and saving and deleting
//! them (docs/api.md §4). The checks that need the database (upstream's "phase B") run inside the
//! write transaction, so a failure leaves nothing behind.

use super::access::require_staff;
use super::{checked, evaluation, ServiceError, ServiceResult};
use crate::actions::{flags, ActionsConfig};
use crate::authz::{Principal, Visibility};
use crate::domain::ladder::{ResetBelow, WarningThresholds};
use crate::domain::offering::Component;
use crate::domain::options::PolicyOptions;
use crate::domain::page::{Listed, PageRequest};
use crate::domain::policy::{Policy, PolicyFilter, PolicyView};
use crate::domain::{ActionSet, Period, Uuid32};
use crate::store::policies::{Current, NewLimit};
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// The 404 detail for a policy that does not exist or that the caller may not see.
pub const NOT_FOUND: &str = "No CustomerComponentUsagePolicy matches the given query.";

/// One limit row as the client submitted it, already well-formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitDraft {
    pub component: Uuid32,
    pub limit: i64,
    pub period: Period,
}

/// A policy to create, every field well-formed; `customer` is the uuid its `scope` names.
#[derive(Debug, Clone)]
pub struct NewPolicy {
    pub customer: Uuid32,
    pub actions: ActionSet,
    /// `None` saves `{}`.
    pub options: Option<PolicyOptions>,
    pub limits: Vec<LimitDraft>,
    /// `None` saves upstream's behaviour: no thresholds, a reset at 100 %.
    pub thresholds: Option<WarningThresholds>,
    pub reset_below: Option<ResetBelow>,
}

/// A policy's writable fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PolicyChanges {
    pub customer: Option<Uuid32>,
    pub actions: Option<ActionSet>,
    pub options: Option<PolicyOptions>,
    pub limits: Option<Vec<LimitDraft>>,
    pub thresholds: Option<WarningThresholds>,
    pub reset_below: Option<ResetBelow>,
}

/// A body that failed DRF's field checks: its field errors in the order they were found, and the
/// customer its `scope` names when that parsed. DRF looks a hyperlink's object up while it checks
/// the fields, so a scope naming no customer is reported with the other errors; the lookup is
/// the service's, so the service adds that error.
#[derive(Debug, Clone)]
pub struct InvalidBody {
    pub scope: Option<Uuid32>,
    pub errors: Map<String, Value>,
}

impl InvalidBody {
    /// The 400: the scope's error first (it is the first field checked), then the others.
    fn refused(self, scope_not_found: bool) -> ServiceError {
        let mut errors = Map::new();
        if scope_not_found {
            errors.insert("scope".into(), json!([checked::DOES_NOT_EXIST]));
        }
        errors.extend(self.errors);
        ServiceError::Invalid(Value::Object(errors))
    }
}

/// A request body as the API parsed it: the request, or why its fields were refused.
pub type PolicyBody<T> = Result<T, InvalidBody>;

/// A page of the policies the caller may see that `filter` selects, newest first.
pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &PolicyFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<PolicyView>> {
    let vis = Visibility::of(caller, now);
    let pool = db.reader();
    // A numbered page inside the list is one query, its total included; "last" needs the count
    // first, and a page past the end (no rows, so no total) needs it to say so.
    let (policies, total) = match request.offset() {
        Some(offset) => store::policies::page(pool, vis, filter, request.size, offset).await?,
        None => {
            let total = store::policies::count(pool, vis, filter).await?;
            let last = request.resolve(total)?;
            let (policies, _) = store::policies::page(pool, vis, filter, last.limit(), last.offset()).await?;
            (policies, Some(total))
        }
    };
    let total = match total {
        Some(total) => total,
        None => store::policies::count(pool, vis, filter).await?,
    };
    let page = request.resolve(total)?;
    let mut items = Vec::with_capacity(policies.len());
    for policy in policies {
        items.push(view(db, policy, vis).await?);
    }
    Ok(Listed { items, page })
}

/// One policy the caller may see.
pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<PolicyView> {
    let vis = Visibility::of(caller, now);
    let policy = store::policies::visible_by_uuid(db.reader(), uuid, vis)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))?;
    view(db, policy, vis).await
}

/// The policy as the API shows it: fired ones count the resources their actions affect.
async fn view(db: &Db, policy: Policy, vis: Visibility) -> ServiceResult<PolicyView> {
    let affected_resources = affected_resources(db, &policy, vis).await?;
    Ok(PolicyView {
        policy,
        affected_resources,
    })
}

/// How many of the customer's resources this fired policy's actions affect, among those the
/// viewer can see; 0 for a policy that has not fired (docs/actions.md §4.4).
async fn affected_resources(db: &Db, policy: &Policy, vis: Visibility) -> ServiceResult<i64> {
    if !policy.has_fired {
        return Ok(0);
    }
    let targets = store::resources::of_customer(db.reader(), policy.customer.id, vis).await?;
    Ok(targets.iter().filter(|r| flags::affects(&policy.actions, r)).count() as i64)
}

/// The policy just written, as its writer sees it.
pub(super) async fn written(
    db: &Db,
    caller: &Principal,
    policy: Policy,
    now: DateTime<Utc>,
) -> ServiceResult<PolicyView> {
    view(db, policy, Visibility::of(caller, now.timestamp_micros())).await
}

/// The policies a batch of writes changed, read back in its transaction, by id.
pub(super) async fn read_back(tx: &mut Tx, ids: &[i64]) -> store::Result<HashMap<i64, Policy>> {
    let read = store::policies::by_ids(tx, ids).await?;
    Ok(read.into_iter().map(|p| (p.id, p)).collect())
}

/// The policy that a batch wrote for one request, out of those it read back.
pub(super) fn take(read: &mut HashMap<i64, Policy>, id: i64) -> ServiceResult<Policy> {
    read.remove(&id).ok_or(ServiceError::Database(sqlx::Error::RowNotFound))
}

/// The id of the customer a scope names; `None` when it names none (or no scope was given).
async fn customer_named(db: &Db, scope: Option<Uuid32>) -> ServiceResult<Option<i64>> {
    let Some(uuid) = scope else {
        return Ok(None);
    };
    Ok(store::customers::id_by_uuid(db.reader(), &uuid)
        .await?
        .map(|(id, _)| id))
}

pub(super) fn scope_not_found() -> ServiceError {
    ServiceError::Field("scope", checked::DOES_NOT_EXIST.into())
}

/// A create or update body with the id of the customer its scope names (`None` when it names
/// none), or the 400 it gets: its field errors, with the scope's first when that names no
/// customer. Update and the dry run check a body the same way here; a create finds its scope in
/// its batch (`policy_creates`).
pub(super) async fn scoped<T>(
    db: &Db,
    request: PolicyBody<T>,
    scope_of: impl Fn(&T) -> Option<Uuid32>,
) -> ServiceResult<(T, Option<i64>)> {
    let body = accepted(db, request).await?;
    let scope = scope_of(&body);
    let customer_id = customer_named(db, scope).await?;
    if scope.is_some() && customer_id.is_none() {
        return Err(scope_not_found());
    }
    Ok((body, customer_id))
}

/// The body, or the 400 of a refused one: its field errors, with the scope's first when that
/// names no customer (the only case that reads the database).
pub(super) async fn accepted<T>(db: &Db, request: PolicyBody<T>) -> ServiceResult<T> {
    match request {
        Ok(body) => Ok(body),
        Err(invalid) => {
            let scope_not_found = invalid.scope.is_some() && customer_named(db, invalid.scope).await?.is_none();
            Err(invalid.refused(scope_not_found))
        }
    }
}

/// Deletes the policy, resetting it first if it is fired (docs/evaluation.md §6.1).
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
        let id = match lock_policy(&mut tx, uuid, None).await? {
            Locked::Held(current) => current.id,
            Locked::Gone => return Err(ServiceError::NotFound(NOT_FOUND)),
            Locked::Moved => continue,
        };
        let transitions = evaluation::reset_fired(&mut tx, db, cfg, id, now).await?;
        store::policies::delete(&mut tx, id).await?;
        tx.commit().await?;
        cfg.after_commit(transitions);
        return Ok(());
    }
}

/// A policy read again once its customer's row is locked.
pub(super) enum Locked {
    Held(Current),
    Gone,
    /// It moved to another customer before the lock was granted. Locking that one as well could
    /// break the id order the locks are taken in, so the caller starts a new transaction.
    Moved,
}

/// Locks the policy's customer's row (and that of `moving_to`, a customer it is about to move
/// to, in the same id-ordered statement), as every path does before it writes a policy, then
/// reads the policy again: nobody moves a policy away from a customer whose row is held.
pub(super) async fn lock_policy(tx: &mut Tx, uuid: &Uuid32, moving_to: Option<i64>) -> ServiceResult<Locked> {
    let Some(seen) = store::policies::current(tx, uuid).await? else {
        return Ok(Locked::Gone);
    };
    // No other writer runs until this transaction ends: what it read stands.
    if store::writes_serialised(tx) {
        return Ok(Locked::Held(seen));
    }
    let customers: Vec<i64> = std::iter::once(seen.customer_id).chain(moving_to).collect();
    evaluation::lock_customers(tx, &customers).await?;
    Ok(match store::policies::current(tx, uuid).await? {
        None => Locked::Gone,
        Some(current) if current.customer_id == seen.customer_id => Locked::Held(current),
        Some(_) => Locked::Moved,
    })
}

/// Checks the submitted limits against the catalogue (`match_components`), as the dry run needs
/// them: each limit with its component.
pub(super) async fn resolve_components(
    tx: &mut Tx,
    limits: &[LimitDraft],
) -> ServiceResult<Vec<(LimitDraft, Component)>> {
    let uuids: Vec<Uuid32> = limits.iter().map(|l| l.component).collect();
    let found = store::offerings::components_by_uuids(tx, &uuids).await?;
    match_components(limits, &found)
}

/// Checks the submitted limits against the components `found` among those they name, in
/// upstream's order: duplicates first, then each item's component, stopping at the first
/// failure. Each limit with its component.
pub(super) fn match_components(
    limits: &[LimitDraft],
    found: &[Component],
) -> ServiceResult<Vec<(LimitDraft, Component)>> {
    let mut seen = HashSet::new();
    if !limits.iter().all(|l| seen.insert((l.component, l.period))) {
        return Err(ServiceError::Rejected(
            "Duplicate component limits for the same component and period.".into(),
        ));
    }
    let mut rows = Vec::with_capacity(limits.len());
    for draft in limits {
        let component = found.iter().find(|c| c.uuid == draft.component).ok_or_else(|| {
            ServiceError::Rejected(format!(
                "Component with uuid {} does not exist.",
                draft.component.hyphenated()
            ))
        })?;
        if !component.fields.billing_type.is_metered() {
            return Err(ServiceError::Rejected(format!(
                "Component {} has billing type {} which is not supported for usage policies. \
                 Only USAGE and LIMIT billing types are supported.",
                component.fields.r#type, component.fields.billing_type
            )));
        }
        rows.push((*draft, component.clone()));
    }
    Ok(rows)
}

/// The limit rows to save for limits that `match_components` accepted.
pub(super) fn new_limits(matched: Vec<(LimitDraft, Component)>) -> Vec<NewLimit> {
    matched
        .into_iter()
        .map(|(draft, component)| NewLimit {
            component_id: component.id,
            limit: draft.limit,
            period: draft.period,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_naming_no_customer_is_reported_first_with_the_other_field_errors() {
        let mut errors = Map::new();
        errors.insert("actions".into(), json!(["This field may not be blank."]));
        let invalid = InvalidBody { scope: None, errors };
        let ServiceError::Invalid(body) = invalid.clone().refused(true) else {
            panic!("not a 400");
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"scope":["Invalid hyperlink - Object does not exist."],"actions":["This field may not be blank."]}"#
        );
        let ServiceError::Invalid(body) = invalid.refused(false) else {
            panic!("not a 400");
        };
        assert_eq!(body, json!({"actions": ["This field may not be blank."]}));
    }
}
