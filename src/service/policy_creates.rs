//! Creating policies (docs/api.md §4): a create is checked in the request, then written in a
//! group commit with the creates that queue beside it (`group_commit`, docs/evaluation.md §4.4).
//! A batch locks its customers, reads the components its limits name and inserts its policies
//! in one statement each, and evaluates them together; a create whose limits the catalogue
//! refuses is answered 400 and leaves the others' batch untouched.

use super::access::require_staff;
use super::group_commit::{Batch, Queue};
use super::policies::{
    match_components, new_limits, read_back, scope_not_found, scoped, take, written, NewPolicy, PolicyBody,
};
use super::{evaluation, ServiceResult};
use crate::actions::ActionsConfig;
use crate::authz::Principal;
use crate::domain::ladder::WarningThresholds;
use crate::domain::options::PolicyOptions;
use crate::domain::policy::{Policy, PolicyView};
use crate::domain::Uuid32;
use crate::store::policies::NewPolicyRow;
use crate::store::{self, Db};
use chrono::{DateTime, Utc};

/// A create to write: the policy, the id of the customer its scope names, who sent it and when.
pub struct Queued {
    new: NewPolicy,
    customer_id: i64,
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
    let (new, customer_id) = scoped(db, request, |new| Some(new.customer)).await?;
    let customer_id = customer_id.ok_or_else(scope_not_found)?;
    let queued = Queued {
        new,
        customer_id,
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
        let customers: Vec<i64> = batch.iter().map(|q| q.customer_id).collect();
        evaluation::lock_customers(&mut tx, &customers).await?;
        let named: Vec<Uuid32> = batch
            .iter()
            .flat_map(|q| q.new.limits.iter().map(|l| l.component))
            .collect();
        let components = store::offerings::components_by_uuids(&mut tx, &named).await?;
        // Each create's limits, or why the catalogue refuses them; only accepted ones are written.
        let checked: Vec<_> = batch
            .iter()
            .map(|q| match_components(&q.new.limits, &components).map(new_limits))
            .collect();
        let uuids: Vec<Uuid32> = batch.iter().map(|_| Uuid32::new_v4()).collect();
        // What a create that sends no options or thresholds saves: `{}`, and upstream's ladder.
        let (no_options, no_thresholds) = (PolicyOptions::default(), WarningThresholds::default());
        let accepted: Vec<usize> = (0..batch.len()).filter(|&i| checked[i].is_ok()).collect();
        let rows: Vec<NewPolicyRow> = accepted
            .iter()
            .map(|&i| {
                let (q, limits) = (&batch[i], checked[i].as_ref().map(Vec::as_slice).unwrap_or(&[]));
                NewPolicyRow {
                    uuid: &uuids[i],
                    customer_id: q.customer_id,
                    actions: &q.new.actions,
                    options: q.new.options.as_ref().unwrap_or(&no_options),
                    thresholds: q.new.thresholds.as_ref().unwrap_or(&no_thresholds),
                    reset_below: q.new.reset_below.unwrap_or_default(),
                    created_by: q.created_by,
                    now: q.now.timestamp_micros(),
                    limits,
                }
            })
            .collect();
        let ids = store::policies::insert(&mut tx, &rows).await?;
        let created: Vec<(i64, &NewPolicyRow)> = ids.iter().copied().zip(&rows).collect();
        // The batch is one moment: its last request's.
        let now = batch.iter().map(|q| q.now).max().unwrap_or_else(Utc::now);
        let transitions = evaluation::created(&mut tx, db, cfg, &created, now).await?;
        let mut read = read_back(&mut tx, &ids).await?;
        tx.commit().await?;
        cfg.after_commit(transitions);
        let mut ids = ids.into_iter();
        Ok(checked
            .into_iter()
            .map(|outcome| {
                outcome?;
                take(&mut read, ids.next().unwrap_or_default())
            })
            .collect())
    }
}
