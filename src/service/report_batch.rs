//! Group commit of usage reports (`group_commit`). A report is checked against its resource
//! (may refuse it, writes nothing) and then applied (writes, can only fail on the database).

use super::group_commit::{Batch, Queue};
use super::usage::{apply, check, Plan, Report, Reporter};
use super::{ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::domain::Uuid32;
use crate::faults::{Faults, Site};
use crate::store::{self, Db};
use chrono::{DateTime, Utc};

/// A report to write, with who sent it and when.
pub struct Queued {
    pub reporter: Reporter,
    pub report: Report,
    pub now: DateTime<Utc>,
}

/// The queue in front of the usage reports' writer.
pub type ReportQueue = Queue<Reports>;

/// The reports' writer: one an instance, on either backend. SQLite has one writer connection; on
/// PostgreSQL, batches written side by side cost the database more CPU a report than they saved
/// in waiting, with no gain in latency (bench/RESULTS.md, run 13). Instances still write side by
/// side, each under the same locks.
pub struct Reports {
    pub db: Db,
    pub cfg: ActionsConfig,
    pub faults: Faults,
}

impl Batch for Reports {
    type Job = Queued;
    type Done = ();
    const TASK: &'static str = "report_writer";
    const SIZE_METRIC: &'static str = "meterguard_report_batch_size";
    const DURATION_METRIC: &'static str = "meterguard_report_batch_duration_seconds";

    async fn commit(&self, batch: &[Queued]) -> store::Result<Vec<ServiceResult<()>>> {
        let (db, cfg) = (&self.db, &self.cfg);
        let mut tx = db.begin_batch().await?;
        let uuids: Vec<&Uuid32> = batch.iter().map(|q| &q.report.resource).collect();
        let targets = store::usages::targets(&mut tx, &uuids).await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut plans: Vec<Plan> = Vec::with_capacity(batch.len());
        for q in batch {
            // One read serves the whole batch: what a report's actions do to resources (flags, a
            // move to Terminating) never changes whether another report is accepted.
            let target = targets.get(&q.report.resource.to_string()).cloned();
            match check(target, q.reporter, &q.report, q.now) {
                Ok(plan) => {
                    plans.push(plan);
                    outcomes.push(Ok(()));
                }
                Err(ServiceError::Database(err)) => return Err(err),
                Err(refused) => outcomes.push(Err(refused)),
            }
        }
        let transitions = apply(&mut tx, db, cfg, &plans).await?;
        self.faults.pass(Site::ReportBatch)?;
        tx.commit().await?;
        db.checkpoint_soon();
        cfg.after_commit(transitions);
        metrics::counter!("meterguard_usage_reports_total").increment(plans.len() as u64);
        Ok(outcomes)
    }
}
