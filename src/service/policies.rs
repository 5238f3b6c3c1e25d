//! Saving and deleting customer component usage policies. The checks that need the database
//! (upstream's "phase B") run inside the write transaction, so a failure leaves nothing behind.

use super::{evaluation, ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::domain::options::PolicyOptions;
use crate::domain::{ActionSet, BillingType, Period, Uuid32};
use crate::engine::TransitionCount;
use crate::store::policies::{Current, NewLimit};
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// One limit row as the client submitted it, already well-formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitDraft {
    pub component: Uuid32,
    pub limit: i64,
    pub period: Period,
}

/// A policy's writable fields; `None` leaves a field as it is (PATCH).
#[derive(Debug, Clone, Default)]
pub struct PolicyChanges {
    pub customer_id: Option<i64>,
    pub actions: Option<ActionSet>,
    pub options: Option<PolicyOptions>,
    pub limits: Option<Vec<LimitDraft>>,
}

/// Creates a policy with its limits from a complete set of fields; returns its id.
pub async fn create(
    db: &Db,
    cfg: &ActionsConfig,
    created_by: i64,
    fields: PolicyChanges,
    now: DateTime<Utc>,
) -> ServiceResult<i64> {
    let (Some(customer_id), Some(actions), Some(limits)) = (fields.customer_id, fields.actions, fields.limits) else {
        return Err(ServiceError::Rejected(
            "A policy needs a scope, actions and component limits.".into(),
        ));
    };
    let mut tx = db.begin().await?;
    evaluation::lock_customers(&mut tx, &[customer_id]).await?;
    let uuid = Uuid32::new_v4();
    let options = fields.options.unwrap_or_default().to_value().to_string();
    let id = store::policies::insert(
        &mut tx,
        &uuid,
        customer_id,
        &actions.to_string(),
        &options,
        created_by,
        now.timestamp_micros(),
    )
    .await?;
    let rows = resolve_limits(&mut tx, &limits).await?;
    store::policies::replace_limits(&mut tx, id, &rows).await?;
    let transitions = evaluation::policy(&mut tx, db, cfg, customer_id, id, now).await?;
    tx.commit().await?;
    cfg.after_commit(transitions);
    Ok(id)
}

/// Applies `changes` to the policy; `Ok(None)` when it does not exist.
pub async fn update(
    db: &Db,
    cfg: &ActionsConfig,
    uuid: &Uuid32,
    changes: PolicyChanges,
    now: DateTime<Utc>,
) -> ServiceResult<Option<i64>> {
    loop {
        let mut tx = db.begin().await?;
        let current = match lock_policy(&mut tx, uuid, changes.customer_id).await? {
            Locked::Held(current) => current,
            Locked::Gone => return Ok(None),
            Locked::Moved => continue,
        };
        let id = current.id;
        let mut transitions = TransitionCount::default();
        // Its fire was the old customer's: what its actions did there is undone there, and
        // whether it fires again is the new customer's usage to decide.
        if changes.customer_id.is_some_and(|to| to != current.customer_id) {
            transitions += evaluation::reset_fired(&mut tx, db, cfg, id, now).await?;
        }
        if let Some(limits) = &changes.limits {
            let rows = resolve_limits(&mut tx, limits).await?;
            store::policies::replace_limits(&mut tx, id, &rows).await?;
        }
        let customer_id = changes.customer_id.unwrap_or(current.customer_id);
        let actions = changes.actions.map(|a| a.to_string()).unwrap_or(current.actions);
        let options = changes
            .options
            .map(|o| o.to_value().to_string())
            .unwrap_or(current.options);
        store::policies::update(&mut tx, id, customer_id, &actions, &options, now.timestamp_micros()).await?;
        transitions += evaluation::policy(&mut tx, db, cfg, customer_id, id, now).await?;
        tx.commit().await?;
        cfg.after_commit(transitions);
        return Ok(Some(id));
    }
}

/// Deletes the policy, resetting it first if it is fired; `false` when it does not exist.
pub async fn delete(db: &Db, cfg: &ActionsConfig, uuid: &Uuid32, now: DateTime<Utc>) -> ServiceResult<bool> {
    loop {
        let mut tx = db.begin().await?;
        let id = match lock_policy(&mut tx, uuid, None).await? {
            Locked::Held(current) => current.id,
            Locked::Gone => return Ok(false),
            Locked::Moved => continue,
        };
        let transitions = evaluation::reset_fired(&mut tx, db, cfg, id, now).await?;
        store::policies::delete(&mut tx, id).await?;
        tx.commit().await?;
        cfg.after_commit(transitions);
        return Ok(true);
    }
}

/// A policy read again once its customer's row is locked.
enum Locked {
    Held(Current),
    Gone,
    /// It moved to another customer before the lock was granted. Locking that one as well could
    /// break the id order the locks are taken in, so the caller starts a new transaction.
    Moved,
}

/// Locks the policy's customer's row (and that of `moving_to`, a customer it is about to move
/// to, in the same id-ordered statement), as every path does before it writes a policy, then
/// reads the policy again: nobody moves a policy away from a customer whose row is held.
async fn lock_policy(tx: &mut Tx, uuid: &Uuid32, moving_to: Option<i64>) -> ServiceResult<Locked> {
    let Some(seen) = store::policies::current(tx, uuid).await? else {
        return Ok(Locked::Gone);
    };
    let customers: Vec<i64> = std::iter::once(seen.customer_id).chain(moving_to).collect();
    evaluation::lock_customers(tx, &customers).await?;
    Ok(match store::policies::current(tx, uuid).await? {
        None => Locked::Gone,
        Some(current) if current.customer_id == seen.customer_id => Locked::Held(current),
        Some(_) => Locked::Moved,
    })
}

/// Checks the submitted limits against the catalogue, in upstream's order: duplicates first,
/// then each item's component, stopping at the first failure.
async fn resolve_limits(tx: &mut Tx, limits: &[LimitDraft]) -> ServiceResult<Vec<NewLimit>> {
    let mut seen = HashSet::new();
    if !limits.iter().all(|l| seen.insert((l.component, l.period))) {
        return Err(ServiceError::Rejected(
            "Duplicate component limits for the same component and period.".into(),
        ));
    }
    let mut rows = Vec::with_capacity(limits.len());
    for draft in limits {
        let component = store::offerings::component_by_uuid(tx, &draft.component)
            .await?
            .ok_or_else(|| {
                ServiceError::Rejected(format!(
                    "Component with uuid {} does not exist.",
                    draft.component.hyphenated()
                ))
            })?;
        let metered = BillingType::parse(&component.billing_type).is_some_and(BillingType::is_metered);
        if !metered {
            return Err(ServiceError::Rejected(format!(
                "Component {} has billing type {} which is not supported for usage policies. \
                 Only USAGE and LIMIT billing types are supported.",
                component.r#type, component.billing_type
            )));
        }
        rows.push(NewLimit {
            component_id: component.id,
            limit: draft.limit,
            period: draft.period.code(),
        });
    }
    Ok(rows)
}

/// How many of the customer's resources this fired policy's actions affect, among those the
/// viewer can see; 0 for a policy that has not fired.
pub async fn affected_resources(
    db: &Db,
    customer_id: i64,
    actions: &str,
    has_fired: bool,
    vis: crate::authz::Visibility,
) -> ServiceResult<i64> {
    let Some(actions) = ActionSet::parse(actions).ok().filter(|_| has_fired) else {
        return Ok(0);
    };
    let targets = store::resources::of_customer(db.reader(), customer_id, vis).await?;
    Ok(targets
        .iter()
        .filter(|r| crate::actions::flags::affects(&actions, r))
        .count() as i64)
}
