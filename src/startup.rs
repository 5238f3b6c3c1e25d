//! Builds the application: pools, migrations, router, and serves until shut down.

use crate::actions::{delivery::Worker, ActionsConfig};
use crate::api::errors::ApiError;
use crate::api::{self, AppState, Shared};
use crate::clock::Clock;
use crate::config::{HttpLimits, Settings};
use crate::service::group_commit::Queue;
use crate::service::policy_creates::Creates;
use crate::service::policy_updates::Updates;
use crate::service::report_batch::Reports;
use crate::service::retention::{self, Retention};
use crate::service::scheduler;
use crate::store::Db;
use crate::supervisor::{supervise, Shutdown};
use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects, migrates and binds; `listen` port 0 picks a free port (tests).
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        settings.check()?;
        // Before any task starts: a counter looked up before the recorder exists counts nowhere,
        // and the report writer's supervisor looks its restart counter up as it starts.
        crate::telemetry::metrics();
        let db = Db::connect(&settings.database).await?;
        db.migrate().await?;
        let listener = TcpListener::bind(settings.listen).await?;
        let actions = ActionsConfig::from_settings(&settings);
        let reports = Queue::start(Reports {
            db: db.clone(),
            cfg: actions.clone(),
            faults: settings.faults.clone(),
        });
        let creates = Queue::start(Creates {
            db: db.clone(),
            cfg: actions.clone(),
        });
        let updates = Queue::start(Updates {
            db: db.clone(),
            cfg: actions.clone(),
        });
        let state = AppState::new(Shared {
            db,
            actions,
            reports,
            creates,
            updates,
            settings: Arc::new(settings),
            clock,
            tokens: Default::default(),
        });
        Ok(Self { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let db = self.state.db.clone();
        // The background tasks stop when `stop` is dropped, after the last request.
        let (stop, stopping) = Shutdown::channel();
        let interval = chrono::Duration::seconds(self.state.settings.sweep_seconds.max(1) as i64);
        let (cfg, clock, faults) = (
            self.state.actions.clone(),
            self.state.clock.clone(),
            self.state.settings.faults.clone(),
        );
        let worker = Arc::new(Worker::new(db.clone(), cfg.clone(), clock.clone(), faults.clone())?);
        let scheduler = tokio::spawn(supervise("scheduler", stopping.clone(), {
            let db = db.clone();
            move |stopped| {
                let (db, cfg, clock, faults) = (db.clone(), cfg.clone(), clock.clone(), faults.clone());
                scheduler::run(db, cfg, clock, interval, faults, stopped.wait())
            }
        }));
        let checkpoints = tokio::spawn(supervise("wal_checkpoint", stopping.clone(), {
            let db = db.clone();
            move |stopped| {
                let db = db.clone();
                async move {
                    db.keep_wal_short(stopped.wait()).await;
                    Ok(())
                }
            }
        }));
        let retention = tokio::spawn(supervise("retention", stopping.clone(), {
            let (db, clock) = (db.clone(), self.state.clock.clone());
            let retention = Retention::from_settings(&self.state.settings);
            move |stopped| retention::run(db.clone(), retention, clock.clone(), stopped.wait())
        }));
        let deliveries = tokio::spawn(supervise("delivery_worker", stopping, move |stopped| {
            let worker = worker.clone();
            async move { worker.run(stopped.wait()).await }
        }));
        let limits = self.state.settings.http.clone();
        let app = http_app(self.state, &limits);
        tracing::info!(addr = %self.listener.local_addr()?, "meterguard listening");
        serve(self.listener, app, &limits, shutdown).await;
        drop(stop);
        scheduler.await.ok();
        deliveries.await.ok();
        checkpoints.await.ok();
        retention.await.ok();
        tokio::time::timeout(Duration::from_secs(5), db.close()).await.ok();
        Ok(())
    }
}

/// The router with what every request goes through: request ids, the logged span, and the time
/// limits on a request and on the pauses in its body.
fn http_app(state: AppState, limits: &HttpLimits) -> Router {
    api::router(state)
        .layer(axum::middleware::from_fn_with_state(
            limits.request_timeout(),
            request_deadline,
        ))
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let uri = crate::telemetry::loggable_uri(req.uri());
            tracing::info_span!("request", method = %req.method(), uri = %uri, request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Answers 408 when a request takes longer than its limit, the reading of a trickled body
/// included. The handler is dropped there: a transaction it holds rolls back, while a usage report
/// it already queued may still be written (a report replaces the month's amount, so the client's
/// retry writes the same).
async fn request_deadline(
    axum::extract::State(limit): axum::extract::State<Duration>,
    req: Request,
    next: Next,
) -> Response {
    tokio::time::timeout(limit, next.run(req))
        .await
        .unwrap_or_else(|_| ApiError::RequestTimeout("The request was not completed in time.").into_response())
}

/// Serves HTTP/1 on `listener` until `shutdown` resolves, then closes idle connections and lets
/// requests in flight finish. axum::serve has no header read timeout and no connection cap, so
/// this is its accept loop with both: at most `max_connections` are accepted at once (the others
/// wait in the listen backlog), and a connection whose request head takes longer than the header
/// timeout is closed.
async fn serve(listener: TcpListener, app: Router, limits: &HttpLimits, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let Some((stream, peer, slot)) = accepted else {
            continue;
        };
        // The client's address, for handlers that extract `ConnectInfo<SocketAddr>`.
        let service = app.clone().map_request(move |mut req: axum::http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection closed on an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Waits for a free connection slot, then for a connection.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    // The semaphore is never closed.
    let slot = slots.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, peer)) => Some((stream, peer, slot)),
        Err(err) if is_connection_error(&err) => None,
        Err(err) => {
            // Most likely out of file descriptors: accepting again at once would spin.
            tracing::error!(error = %err, "accept failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
            None
        }
    }
}

/// Errors of one connection that went away before it was accepted, not of the listener.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
