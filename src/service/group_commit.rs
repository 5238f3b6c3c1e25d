//! Group commit (docs/evaluation.md §4.2). Requests that queue while a batch is written share the
//! next transaction: one BEGIN, COMMIT and fsync, and one statement per step for all of them
//! instead of one per request. A batch checks each request against what it read (a refusal
//! writes nothing and leaves the batch untouched) before it writes the accepted ones; a database
//! failure rolls the batch back and retries each of its requests in a transaction of its own, so
//! no request ever commits half-written or with another one's failure. A request is answered only
//! after its commit.
//!
//! Each writer runs under a supervisor. A panic in a batch drops that batch's replies (each of its
//! requests answers 500) and the writer starts again on the same queue, so the requests queued
//! behind it are written and no other customer's are refused.

use super::{ServiceError, ServiceResult};
use crate::store;
use crate::supervisor::{supervise, Shutdown};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, Mutex};

/// A batch never grows past this, so one failing batch retries a bounded number of requests.
const MAX_BATCH: usize = 64;

/// What one kind of request does in a batch.
pub trait Batch: Send + Sync + 'static {
    type Job: Send + Sync + 'static;
    type Done: Send + 'static;
    /// The writer's name, for its supervisor and its logs.
    const TASK: &'static str;
    /// Histograms of the batches' sizes and of their durations in seconds.
    const SIZE_METRIC: &'static str;
    const DURATION_METRIC: &'static str;

    /// The jobs in one transaction: each one's outcome, refusals included; `Err` when the
    /// database failed and nothing was committed.
    fn commit(&self, jobs: &[Self::Job]) -> impl Future<Output = store::Result<Vec<ServiceResult<Self::Done>>>> + Send;
}

struct Queued<B: Batch> {
    job: B::Job,
    reply: oneshot::Sender<ServiceResult<B::Done>>,
}

/// The queue in front of a writer task, which ends when every clone of the queue is gone.
pub struct Queue<B: Batch> {
    sender: mpsc::Sender<Queued<B>>,
}

impl<B: Batch> Clone for Queue<B> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

/// What the writer needs; shared by each start of it.
struct Writer<B: Batch> {
    batch: B,
    /// Outlives a writer that panicked, with the requests queued in it.
    receiver: Mutex<mpsc::Receiver<Queued<B>>>,
}

impl<B: Batch> Queue<B> {
    /// Starts the writer task on the current runtime, one an instance. (Two writers taking
    /// turns at a queue of policy writes on PostgreSQL were measured: no gain within the noise,
    /// bench/RESULTS.md run 23.)
    pub fn start(batch: B) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
        let writer = Arc::new(Writer {
            batch,
            receiver: Mutex::new(receiver),
        });
        // The writer ends when the queue closes, after the last request: shutdown does not stop
        // it, so the requests that finish during a graceful shutdown are still written.
        tokio::spawn(supervise(B::TASK, Shutdown::default(), move |_| {
            writer.clone().write_batches()
        }));
        Self { sender }
    }

    /// Commits a job, or refuses it.
    pub async fn submit(&self, job: B::Job) -> ServiceResult<B::Done> {
        let (reply, answer) = oneshot::channel();
        // A closed queue: the service is stopping.
        self.sender
            .send(Queued { job, reply })
            .await
            .map_err(|_| ServiceError::Unavailable)?;
        // A reply dropped unsent: the writer panicked in this job's batch, which was not
        // answered (it may have committed, or not).
        answer
            .await
            .map_err(|_| ServiceError::Database(sqlx::Error::WorkerCrashed))?
    }
}

impl<B: Batch> Writer<B> {
    async fn write_batches(self: Arc<Self>) -> anyhow::Result<()> {
        let mut receiver = self.receiver.lock().await;
        let mut queued = Vec::with_capacity(MAX_BATCH);
        loop {
            if receiver.recv_many(&mut queued, MAX_BATCH).await == 0 {
                return Ok(());
            }
            let (jobs, replies): (Vec<_>, Vec<_>) = queued.drain(..).map(|q| (q.job, q.reply)).unzip();
            self.write(jobs, replies).await;
        }
    }

    /// Writes a batch and answers each of its jobs.
    async fn write(&self, jobs: Vec<B::Job>, replies: Vec<oneshot::Sender<ServiceResult<B::Done>>>) {
        let started = Instant::now();
        match self.batch.commit(&jobs).await {
            Ok(outcomes) => {
                metrics::histogram!(B::SIZE_METRIC).record(jobs.len() as f64);
                metrics::histogram!(B::DURATION_METRIC).record(started.elapsed().as_secs_f64());
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // The client may have gone; its job is committed all the same.
                    let _ = reply.send(outcome);
                }
            }
            // One by one would only wait for the database as long again, job after job.
            Err(err) if store::unreachable(&err) => {
                tracing::warn!(task = B::TASK, error = %err, jobs = jobs.len(), "batch failed: database unreachable");
                for reply in replies {
                    let _ = reply.send(Err(ServiceError::Unavailable));
                }
            }
            Err(err) if jobs.len() == 1 => {
                let _ = replies.into_iter().next().map(|reply| reply.send(Err(err.into())));
            }
            Err(err) => {
                tracing::warn!(task = B::TASK, error = %err, jobs = jobs.len(), "batch failed; retrying one by one");
                for (job, reply) in jobs.iter().zip(replies) {
                    let outcome = self.batch.commit(std::slice::from_ref(job)).await;
                    let _ = reply.send(outcome.map_err(ServiceError::from).and_then(|mut o| o.remove(0)));
                }
            }
        }
    }
}
