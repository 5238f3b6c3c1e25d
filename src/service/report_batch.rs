//! Group commit of usage reports on SQLite. Its single writer connection makes reports queue one
//! behind another, each paying its own BEGIN, COMMIT and fsync; here the reports that queued while
//! a batch was written share the next transaction instead, and one read of their resources. A
//! report is checked against its resource (may reject it, writes nothing) and then applied
//! (writes, can only fail on the database): a rejected report leaves the batch untouched, and a
//! database failure rolls the batch back and retries each of its reports in a transaction of its
//! own, so no report ever commits half-written or with another one's failure.

use super::usage::{apply, check, set_usage, Report, Reporter};
use super::{ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::domain::Uuid32;
use crate::store::{self, Backend, Db};
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

/// A batch never grows past this, so one failing batch retries a bounded number of reports.
const MAX_BATCH: usize = 64;

struct Queued {
    reporter: Reporter,
    report: Report,
    now: DateTime<Utc>,
    reply: oneshot::Sender<ServiceResult<()>>,
}

/// How reports reach the database: through the writer task on SQLite, each in its own
/// transaction on PostgreSQL (where they run concurrently and one connection would only
/// serialise them). The writer task ends when every clone of the queue is gone.
#[derive(Clone)]
pub struct ReportQueue {
    db: Db,
    cfg: ActionsConfig,
    sender: Option<mpsc::Sender<Queued>>,
}

impl ReportQueue {
    /// Starts the writer task on the current runtime, on SQLite.
    pub fn start(db: Db, cfg: ActionsConfig) -> Self {
        let sender = (db.backend() == Backend::Sqlite).then(|| {
            let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
            tokio::spawn(write_batches(db.clone(), cfg.clone(), receiver));
            sender
        });
        Self { db, cfg, sender }
    }

    /// Commits a report, or refuses it.
    pub async fn submit(&self, reporter: Reporter, report: Report, now: DateTime<Utc>) -> ServiceResult<()> {
        let Some(sender) = &self.sender else {
            return set_usage(&self.db, &self.cfg, reporter, &report, now).await;
        };
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            reporter,
            report,
            now,
            reply,
        };
        let stopped = || ServiceError::Database(sqlx::Error::PoolClosed);
        sender.send(queued).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batches(db: Db, cfg: ActionsConfig, mut receiver: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() == 1 {
            alone(&db, &cfg, batch.remove(0)).await;
            continue;
        }
        match together(&db, &cfg, &batch).await {
            Ok((outcomes, transitions)) => {
                cfg.after_commit(transitions);
                metrics::histogram!("meterguard_report_batch_size").record(batch.len() as f64);
                let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
                metrics::counter!("meterguard_usage_reports_total").increment(accepted as u64);
                for (queued, outcome) in batch.drain(..).zip(outcomes) {
                    // The client may have gone; its report is committed all the same.
                    let _ = queued.reply.send(outcome);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, reports = batch.len(), "report batch failed; retrying one by one");
                for queued in batch.drain(..) {
                    alone(&db, &cfg, queued).await;
                }
            }
        }
    }
}

async fn alone(db: &Db, cfg: &ActionsConfig, q: Queued) {
    let outcome = set_usage(db, cfg, q.reporter, &q.report, q.now).await;
    let _ = q.reply.send(outcome);
}

/// The batch in one transaction: each report's outcome (refusals included), and the transitions
/// made; `Err` when the database failed and nothing was committed.
async fn together(db: &Db, cfg: &ActionsConfig, batch: &[Queued]) -> store::Result<(Vec<ServiceResult<()>>, usize)> {
    let mut tx = db.begin().await?;
    let uuids: Vec<&Uuid32> = batch.iter().map(|q| &q.report.resource).collect();
    let targets = store::usages::targets(&mut tx, &uuids).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut transitions = 0;
    for q in batch {
        // One read serves the whole batch: what a report's actions do to resources (flags, a
        // move to Terminating) never changes whether another report is accepted.
        let target = targets.get(&q.report.resource.to_string()).cloned();
        match check(target, q.reporter, &q.report, q.now) {
            Ok(plan) => {
                transitions += apply(&mut tx, db, cfg, plan, q.now).await?;
                outcomes.push(Ok(()));
            }
            Err(ServiceError::Database(err)) => return Err(err),
            Err(refused) => outcomes.push(Err(refused)),
        }
    }
    tx.commit().await?;
    Ok((outcomes, transitions))
}
