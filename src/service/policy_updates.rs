//! Changing policies, by `PUT` or `PATCH` (docs/api.md §4): a change is checked in the request,
//! then written in a group commit with the changes that queue beside it (`group_commit`,
//! docs/evaluation.md §4.4). A batch locks the customers of its policies (and those they move
//! to) in one statement, reads its policies, checks every change against what it read before it
//! writes any, writes the changes that only set fields in one statement, and evaluates the changed
//! policies together.

use super::access::require_staff;
use super::group_commit::{Batch, Queue};
use super::policies::{
    match_components, new_limits, read_back, scoped, take, written, PolicyBody, PolicyChanges, NOT_FOUND,
};
use super::{evaluation, ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::authz::Principal;
use crate::domain::policy::{Policy, PolicyView};
use crate::domain::Uuid32;
use crate::engine::TransitionCount;
use crate::store::policies::{Current, NewLimit, PolicyUpdate};
use crate::store::{self, Db};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// A change to write: the policy's uuid, its changes, the id of the customer it moves to (if it
/// does) and when it was sent.
#[derive(Clone)]
pub struct Queued {
    uuid: Uuid32,
    changes: PolicyChanges,
    moving_to: Option<i64>,
    now: DateTime<Utc>,
}

/// What a batch did with a change.
pub enum Written<P = Policy> {
    /// The policy, changed (`P`: as read back, or while the batch runs, its id).
    Policy(P),
    /// Nothing: the change is sent again, to the next batch. Its policy moved to a customer the
    /// batch did not lock while the batch took its locks (locking that one as well could break
    /// the id order the locks are taken in), or another change to the same policy is in this batch.
    Again,
}

/// The queue in front of the policy changes' writer.
pub type UpdateQueue = Queue<Updates>;

/// The changes' writer, one an instance.
pub struct Updates {
    pub db: Db,
    pub cfg: ActionsConfig,
}

/// Applies `changes` to the policy, then evaluates it (docs/evaluation.md §6.2).
pub async fn update(
    db: &Db,
    queue: &UpdateQueue,
    caller: &Principal,
    uuid: &Uuid32,
    request: PolicyBody<PolicyChanges>,
    now: DateTime<Utc>,
) -> ServiceResult<PolicyView> {
    require_staff(caller)?;
    // DRF looks the object up before it checks the body, so a refused body for a policy that
    // does not exist answers 404; a change that passes learns that in its batch.
    let (changes, moving_to) = match scoped(db, request, |changes| changes.customer).await {
        Ok(checked) => checked,
        Err(_) if !store::policies::exists(db.reader(), uuid).await? => return Err(ServiceError::NotFound(NOT_FOUND)),
        Err(refused) => return Err(refused),
    };
    let queued = Queued {
        uuid: *uuid,
        changes,
        moving_to,
        now,
    };
    let policy = loop {
        match queue.submit(queued.clone()).await? {
            Written::Policy(policy) => break policy,
            Written::Again => continue,
        }
    };
    written(db, caller, policy, now).await
}

/// A change that its batch accepted: the policy as read under its customer's lock, and the limit
/// rows that replace its own, if it sends limits.
struct Accepted<'a> {
    queued: &'a Queued,
    current: Current,
    limits: Option<Vec<NewLimit>>,
}

impl Batch for Updates {
    type Job = Queued;
    type Done = Written;
    const TASK: &'static str = "policy_update_writer";
    const SIZE_METRIC: &'static str = "meterguard_policy_update_batch_size";
    const DURATION_METRIC: &'static str = "meterguard_policy_update_batch_duration_seconds";

    async fn commit(&self, batch: &[Queued]) -> store::Result<Vec<ServiceResult<Written>>> {
        let (db, cfg) = (&self.db, &self.cfg);
        let mut tx = db.begin().await?;
        let uuids: Vec<Uuid32> = batch.iter().map(|q| q.uuid).collect();
        let moving: Vec<i64> = batch.iter().filter_map(|q| q.moving_to).collect();
        // Locked, then read: nobody moves a policy away from a customer whose row is held.
        let locked = store::evaluation::lock_customers_of_policies(&mut tx, &uuids, &moving).await?;
        let held = |customer_id: i64| locked.as_ref().is_none_or(|ids| ids.contains(&customer_id));
        let current = store::policies::current_of(&mut tx, &uuids).await?;
        let named: Vec<Uuid32> = batch
            .iter()
            .flat_map(|q| q.changes.limits.iter().flatten().map(|l| l.component))
            .collect();
        let components = store::offerings::components_by_uuids(&mut tx, &named).await?;

        // Every change is checked before any is written, so a refused one writes nothing.
        let mut outcomes: Vec<ServiceResult<Written<i64>>> = Vec::with_capacity(batch.len());
        let mut accepted = Vec::with_capacity(batch.len());
        let mut in_batch = HashSet::new();
        for queued in batch {
            let uuid = queued.uuid.to_string();
            let Some(current) = current.iter().find(|c| c.uuid == uuid).cloned() else {
                outcomes.push(Err(ServiceError::NotFound(NOT_FOUND)));
                continue;
            };
            if !held(current.customer_id) || !in_batch.insert(current.id) {
                outcomes.push(Ok(Written::Again));
                continue;
            }
            let limits = match &queued.changes.limits {
                Some(limits) => match match_components(limits, &components) {
                    Ok(matched) => Some(new_limits(matched)),
                    Err(refused) => {
                        outcomes.push(Err(refused));
                        continue;
                    }
                },
                None => None,
            };
            outcomes.push(Ok(Written::Policy(current.id)));
            accepted.push(Accepted {
                queued,
                current,
                limits,
            });
        }

        let mut transitions = TransitionCount::default();
        let mut changed = Vec::with_capacity(accepted.len());
        // Changes that only set fields are written together at the end: what they set (a policy
        // that has not fired, or fields other than its actions) touches no other policy's work.
        let mut plain = Vec::with_capacity(accepted.len());
        for Accepted {
            queued,
            current,
            limits,
        } in &accepted
        {
            let (id, changes, now) = (current.id, &queued.changes, queued.now);
            let customer_id = queued.moving_to.unwrap_or(current.customer_id);
            let update = PolicyUpdate {
                customer_id,
                actions: changes.actions.as_ref(),
                options: changes.options.as_ref(),
                thresholds: changes.thresholds.as_ref(),
                reset_below: changes.reset_below,
                now: now.timestamp_micros(),
            };
            changed.push((customer_id, id));
            let moves = queued.moving_to.is_some_and(|to| to != current.customer_id);
            let drops = changes.actions.as_ref().filter(|_| current.has_fired());
            if !moves && limits.is_none() && drops.is_none() {
                plain.push((id, update));
                continue;
            }
            // Its fire was the old customer's: what its actions did there is undone there, and
            // whether it fires again is the new customer's usage to decide.
            if moves {
                transitions += evaluation::reset_fired(&mut tx, db, cfg, id, now).await?;
            }
            if let Some(rows) = limits {
                store::policies::replace_limits(&mut tx, id, rows).await?;
            }
            // Actions it no longer names let go of what they hold or wait for (docs/ladder.md
            // §5); a policy that has not fired holds and waits for nothing.
            if let Some(actions) = drops {
                evaluation::drop_actions(&mut tx, db, cfg, id, actions, now).await?;
            }
            store::policies::update(&mut tx, &[(id, update)]).await?;
        }
        store::policies::update(&mut tx, &plain).await?;
        // The batch is one moment: its last request's.
        let now = batch.iter().map(|q| q.now).max().unwrap_or_else(Utc::now);
        transitions += evaluation::policies_locked(&mut tx, db, cfg, &changed, now).await?;
        let ids: Vec<i64> = changed.iter().map(|&(_, id)| id).collect();
        let mut read = read_back(&mut tx, &ids).await?;
        tx.commit().await?;
        cfg.after_commit(transitions);
        Ok(outcomes
            .into_iter()
            .map(|outcome| match outcome? {
                Written::Policy(id) => take(&mut read, id).map(Written::Policy),
                Written::Again => Ok(Written::Again),
            })
            .collect())
    }
}
