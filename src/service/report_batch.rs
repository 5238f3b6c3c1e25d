//! Group commit of usage reports. Reports that queue while a batch is written share the next
//! transaction: one BEGIN, COMMIT and fsync, and one statement per step for all of them instead
//! of one per report. A report is checked against its resource (may refuse it, writes nothing)
//! and then applied (writes, can only fail on the database): a refused report leaves the batch
//! untouched, and a database failure rolls the batch back and retries each of its reports in a
//! transaction of its own, so no report ever commits half-written or with another one's failure.

use super::usage::{apply, check, Plan, Report, Reporter};
use super::{ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::domain::Uuid32;
use crate::store::{self, Db};
use chrono::{DateTime, Utc};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

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

impl ReportQueue {
    /// Starts the writer task on the current runtime: one an instance, on either backend. SQLite
    /// has one writer connection; on PostgreSQL, batches written side by side cost the database
    /// more CPU a report than they saved in waiting, with no gain in latency (bench/RESULTS.md,
    /// run 13). Instances still write side by side, each under the same locks.
    pub fn start(db: Db, cfg: ActionsConfig) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(write_batches(db, cfg, receiver));
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
        let stopped = || ServiceError::Database(sqlx::Error::PoolClosed);
        self.sender.send(queued).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batches(db: Db, cfg: ActionsConfig, mut receiver: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let started = Instant::now();
        match together(&db, &cfg, &batch).await {
            Ok(outcomes) => {
                metrics::histogram!("meterguard_report_batch_size").record(batch.len() as f64);
                metrics::histogram!("meterguard_report_batch_duration_seconds").record(started.elapsed().as_secs_f64());
                for (queued, outcome) in batch.drain(..).zip(outcomes) {
                    // The client may have gone; its report is committed all the same.
                    let _ = queued.reply.send(outcome);
                }
            }
            Err(err) if batch.len() == 1 => {
                let _ = batch.remove(0).reply.send(Err(err.into()));
            }
            Err(err) => {
                tracing::warn!(error = %err, reports = batch.len(), "report batch failed; retrying one by one");
                for queued in batch.drain(..) {
                    let outcome = together(&db, &cfg, std::slice::from_ref(&queued)).await;
                    let _ = queued
                        .reply
                        .send(outcome.map_err(ServiceError::from).and_then(|mut o| o.remove(0)));
                }
            }
        }
    }
}

/// The batch in one transaction: each report's outcome (refusals included); `Err` when the
/// database failed and nothing was committed.
async fn together(db: &Db, cfg: &ActionsConfig, batch: &[Queued]) -> store::Result<Vec<ServiceResult<()>>> {
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
    tx.commit().await?;
    db.wrote_much();
    cfg.after_commit(transitions);
    metrics::counter!("meterguard_usage_reports_total").increment(plans.len() as u64);
    Ok(outcomes)
}
