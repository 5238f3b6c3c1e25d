//! Group commit of usage reports. Reports that queue while a batch is written share the next
//! transaction: one BEGIN, COMMIT and fsync, and one statement per step for all of them instead
//! of one per report. A report is checked against its resource (may refuse it, writes nothing)
//! and then applied (writes, can only fail on the database): a refused report leaves the batch
//! untouched, and a database failure rolls the batch back and retries each of its reports in a
//! transaction of its own, so no report ever commits half-written or with another one's failure.
//! A report is answered only after its commit.
//!
//! The writer runs under a supervisor. A panic in a batch drops that batch's replies (each of its
//! requests answers 500) and the writer starts again on the same queue, so the reports queued
//! behind it are written and no other customer's reports are refused.

use super::usage::{apply, check, Plan, Report, Reporter};
use super::{ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::domain::Uuid32;
use crate::faults::{Faults, Site};
use crate::store::{self, Db};
use crate::supervisor::{supervise, Shutdown};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, Mutex};

/// A batch never grows past this, so one failing batch retries a bounded number of reports.
const MAX_BATCH: usize = 64;

struct Queued {
    reporter: Reporter,
    report: Report,
    now: DateTime<Utc>,
    reply: oneshot::Sender<ServiceResult<()>>,
}

/// The queue in front of the writer task, which ends when every clone of the queue is gone.
#[derive(Clone)]
pub struct ReportQueue {
    sender: mpsc::Sender<Queued>,
}

/// What the writer needs; shared by each start of it.
struct Writer {
    db: Db,
    cfg: ActionsConfig,
    faults: Faults,
    /// Outlives a writer that panicked, with the reports queued in it.
    receiver: Mutex<mpsc::Receiver<Queued>>,
}

impl ReportQueue {
    /// Starts the writer task on the current runtime: one an instance, on either backend. SQLite
    /// has one writer connection; on PostgreSQL, batches written side by side cost the database
    /// more CPU a report than they saved in waiting, with no gain in latency (bench/RESULTS.md,
    /// run 13). Instances still write side by side, each under the same locks.
    pub fn start(db: Db, cfg: ActionsConfig, faults: Faults) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
        let writer = Arc::new(Writer {
            db,
            cfg,
            faults,
            receiver: Mutex::new(receiver),
        });
        // The writer ends when the queue closes, after the last request: shutdown does not stop
        // it, so the requests that finish during a graceful shutdown are still written.
        tokio::spawn(supervise("report_writer", Shutdown::default(), move |_| {
            writer.clone().write_batches()
        }));
        Self { sender }
    }

    /// Commits a report, or refuses it.
    pub async fn submit(&self, reporter: Reporter, report: Report, now: DateTime<Utc>) -> ServiceResult<()> {
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            reporter,
            report,
            now,
            reply,
        };
        // A closed queue: the service is stopping.
        self.sender.send(queued).await.map_err(|_| ServiceError::Unavailable)?;
        // A reply dropped unsent: the writer panicked in this report's batch, which was not
        // answered (it may have committed, or not).
        answer
            .await
            .map_err(|_| ServiceError::Database(sqlx::Error::WorkerCrashed))?
    }
}

impl Writer {
    async fn write_batches(self: Arc<Self>) -> anyhow::Result<()> {
        let mut receiver = self.receiver.lock().await;
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return Ok(());
            }
            self.write(&mut batch).await;
        }
    }

    /// Writes a batch and answers each of its reports.
    async fn write(&self, batch: &mut Vec<Queued>) {
        let started = Instant::now();
        match self.commit_batch(batch).await {
            Ok(outcomes) => {
                metrics::histogram!("meterguard_report_batch_size").record(batch.len() as f64);
                metrics::histogram!("meterguard_report_batch_duration_seconds").record(started.elapsed().as_secs_f64());
                for (queued, outcome) in batch.drain(..).zip(outcomes) {
                    // The client may have gone; its report is committed all the same.
                    let _ = queued.reply.send(outcome);
                }
            }
            // One by one would only wait for the database as long again, report after report.
            Err(err) if store::unreachable(&err) => {
                tracing::warn!(error = %err, reports = batch.len(), "report batch failed: database unreachable");
                for queued in batch.drain(..) {
                    let _ = queued.reply.send(Err(ServiceError::Unavailable));
                }
            }
            Err(err) if batch.len() == 1 => {
                let _ = batch.remove(0).reply.send(Err(err.into()));
            }
            Err(err) => {
                tracing::warn!(error = %err, reports = batch.len(), "report batch failed; retrying one by one");
                for queued in batch.drain(..) {
                    let outcome = self.commit_batch(std::slice::from_ref(&queued)).await;
                    let _ = queued
                        .reply
                        .send(outcome.map_err(ServiceError::from).and_then(|mut o| o.remove(0)));
                }
            }
        }
    }

    /// The batch in one transaction: each report's outcome (refusals included); `Err` when the
    /// database failed and nothing was committed.
    async fn commit_batch(&self, batch: &[Queued]) -> store::Result<Vec<ServiceResult<()>>> {
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
