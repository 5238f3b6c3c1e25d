//! Background tasks (the report writer, the scheduler, the delivery worker, the WAL checkpoint)
//! run under a supervisor: a panic or an error is logged, counted in
//! `meterguard_task_restarts_total{task}`, and the task starts again after a short backoff, so
//! no single fault stops enforcement until the process restarts.

use std::any::Any;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The first wait before a restart, doubled after each restart that follows quickly.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait: a task that keeps failing (the database is down) retries this often.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A task that ran this long before failing starts over from the first backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Resolves when the service shuts down; clones watch the same signal. The default never
/// resolves, for a task that ends on its own.
#[derive(Clone, Default)]
pub struct Shutdown(Option<watch::Receiver<()>>);

impl Shutdown {
    /// A signal that fires when the returned sender is dropped.
    pub fn channel() -> (watch::Sender<()>, Self) {
        let (sender, receiver) = watch::channel(());
        (sender, Self(Some(receiver)))
    }

    pub async fn wait(self) {
        match self.0 {
            // Only the sender's drop ends the wait: no value is ever sent.
            Some(mut receiver) => while receiver.changed().await.is_ok() {},
            None => std::future::pending().await,
        }
    }
}

/// Runs `start(shutdown)` as a task until it returns `Ok` (it finished: shutdown, or its queue
/// closed) or the service shuts down; restarts it after a panic or an error.
pub async fn supervise<F, Fut>(task: &'static str, shutdown: Shutdown, mut start: F)
where
    F: FnMut(Shutdown) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let restarts = metrics::counter!("meterguard_task_restarts_total", "task" => task);
    // Present at 0 from the start, so a rate over it is defined before the first restart.
    restarts.increment(0);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        match tokio::spawn(start(shutdown.clone())).await {
            Ok(Ok(())) => return,
            Ok(Err(err)) => {
                tracing::error!(task, error = %format_args!("{err:#}"), "background task failed; restarting it")
            }
            Err(join) if join.is_panic() => {
                let panic = panic_message(join.into_panic());
                tracing::error!(task, %panic, "background task panicked; restarting it");
            }
            // Cancelled: the runtime is shutting down.
            Err(_) => return,
        }
        restarts.increment(1);
        if started.elapsed() >= HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        tokio::select! {
            () = shutdown.clone().wait() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A panic's payload as text (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "a panic with no message".to_string(), |s| s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn a_task_that_panics_or_fails_is_started_again_until_it_finishes() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        supervise("test", Shutdown::default(), move |_| {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                match run {
                    0 => panic!("first run"),
                    1 => anyhow::bail!("second run"),
                    _ => Ok(()),
                }
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn shutdown_ends_the_wait_before_a_restart() {
        let (stop, shutdown) = Shutdown::channel();
        let supervised = tokio::spawn(supervise("test", shutdown, |_| async { anyhow::bail!("always") }));
        tokio::task::yield_now().await;
        drop(stop);
        tokio::time::timeout(Duration::from_secs(1), supervised)
            .await
            .expect("the supervisor stops with the service")
            .expect("no panic");
    }

    #[test]
    fn panic_messages_are_read_from_either_payload() {
        assert_eq!(panic_message(Box::new("static")), "static");
        assert_eq!(panic_message(Box::new(String::from("owned"))), "owned");
        assert_eq!(panic_message(Box::new(7)), "a panic with no message");
    }
}
