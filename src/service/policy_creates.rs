//! Creating policies (docs/api.md §4): a create is checked in the request, then written in a
//! group commit with the creates that queue beside it (`group_commit`, docs/evaluation.md §4.4).
//! A batch finds and locks the customers its scopes name, reads the components its limits name
//! and inserts its policies in one statement each, and evaluates them together; a create whose
//! scope or limits name nothing is answered 400 and leaves the others' batch untouched.

use super::access::require_staff;
use super::group_commit::{Batch, Queue};
use super::policies::{
    accepted, match_components, new_limits, read_back, scope_not_found, take, written, NewPolicy, PolicyBody,
};
use super::{evaluation, ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::authz::Principal;
use crate::domain::ladder::WarningThresholds;
use crate::domain::options::PolicyOptions;
use crate::domain::policy::{Policy, PolicyView};
use crate::domain::Uuid32;
use crate::store::policies::{NewLimit, NewPolicyRow};
use crate::store::{self, Db};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// A create to write: the policy, who sent it and when.
pub struct Queued {
    new: NewPolicy,
    created_by: i64,
    now: DateTime<Utc>,
}

/// The queue in front of the policy creates' writer.
pub type CreateQueue = Queue<Creates>;

/// The creates' writer, one an instance.
pub struct Creates {
    pub db: Db,
    pub cfg: ActionsConfig,
}

/// Creates a policy with its limits, then evaluates it (docs/evaluation.md §4.4).
pub async fn create(
    db: &Db,
    queue: &CreateQueue,
    caller: &Principal,
    request: PolicyBody<NewPolicy>,
    now: DateTime<Utc>,
) -> ServiceResult<PolicyView> {
    require_staff(caller)?;
    let new = accepted(db, request).await?;
    let queued = Queued {
        new,
        created_by: caller.id,
        now,
    };
    let policy = queue.submit(queued).await?;
    written(db, caller, policy, now).await
}

impl Batch for Creates {
    type Job = Queued;
    type Done = Policy;
    const TASK: &'static str = "policy_create_writer";
    const SIZE_METRIC: &'static str = "meterguard_policy_create_batch_size";
    const DURATION_METRIC: &'static str = "meterguard_policy_create_batch_duration_seconds";

    async fn commit(&self, batch: &[Queued]) -> store::Result<Vec<ServiceResult<Policy>>> {
        let (db, cfg) = (&self.db, &self.cfg);
        let mut tx = db.begin().await?;
        // The scopes are found where they are locked: no lookup of its own for each request.
        let scopes: Vec<Uuid32> = batch.iter().map(|q| q.new.customer).collect();
        let customers: HashMap<Uuid32, i64> = store::evaluation::lock_customers_named(&mut tx, &scopes)
            .await?
            .into_iter()
            .collect();
        let named: Vec<Uuid32> = batch
            .iter()
            .flat_map(|q| q.new.limits.iter().map(|l| l.component))
            .collect();
        let components = store::offerings::components_by_uuids(&mut tx, &named).await?;
        // Each create's customer and limits, or why it is refused; only accepted ones are written.
        let checked: Vec<ServiceResult<(i64, Vec<NewLimit>)>> = batch
            .iter()
            .map(|q| {
                let customer_id = *customers.get(&q.new.customer).ok_or_else(scope_not_found)?;
                Ok((customer_id, new_limits(match_components(&q.new.limits, &components)?)))
            })
            .collect();
        let uuids: Vec<Uuid32> = batch.iter().map(|_| Uuid32::new_v4()).collect();
        // What a create that sends no options or thresholds saves: `{}`, and upstream's ladder.
        let (no_options, no_thresholds) = (PolicyOptions::default(), WarningThresholds::default());
        let rows: Vec<NewPolicyRow> = (0..batch.len())
            .filter_map(|i| {
                let (q, (customer_id, limits)) = (&batch[i], checked[i].as_ref().ok()?);
                Some(NewPolicyRow {
                    uuid: &uuids[i],
                    customer_id: *customer_id,
                    actions: &q.new.actions,
                    options: q.new.options.as_ref().unwrap_or(&no_options),
                    thresholds: q.new.thresholds.as_ref().unwrap_or(&no_thresholds),
                    reset_below: q.new.reset_below.unwrap_or_default(),
                    created_by: q.created_by,
                    now: q.now.timestamp_micros(),
                    limits,
                })
            })
            .collect();
        let ids = store::policies::insert(&mut tx, &rows).await?;
        let created: Vec<(i64, &NewPolicyRow)> = ids.iter().copied().zip(&rows).collect();
        // The batch is one moment: its last request's.
        let now = batch.iter().map(|q| q.now).max().unwrap_or_else(Utc::now);
        let transitions = evaluation::created(&mut tx, db, cfg, &created, now).await?;
        let mut read = read_back(&mut tx, &ids).await?;
        tx.commit().await?;
        // Inserts grow SQLite's WAL as reports do (docs/configuration.md §2.1).
        db.checkpoint_soon();
        cfg.after_commit(transitions);
        let mut ids = ids.into_iter();
        Ok(checked
            .into_iter()
            .map(|outcome| {
                outcome?;
                // One id was inserted for each accepted create, in their order.
                let id = ids.next().ok_or(ServiceError::Database(sqlx::Error::RowNotFound))?;
                take(&mut read, id)
            })
            .collect())
    }
}
