//! Builds the application: pools, migrations, router, and serves until shut down.

use crate::actions::{delivery::Worker, ActionsConfig};
use crate::api::{self, AppState};
use crate::clock::Clock;
use crate::config::Settings;
use crate::service::report_batch::ReportQueue;
use crate::service::retention::{self, Retention};
use crate::service::scheduler;
use crate::store::Db;
use axum::http::{HeaderName, Request};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects, migrates and binds; `listen` port 0 picks a free port (tests).
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.database).await?;
        db.migrate().await?;
        let listener = TcpListener::bind(settings.listen).await?;
        let actions = ActionsConfig::from_settings(&settings);
        let reports = ReportQueue::start(db.clone(), actions.clone());
        let state = AppState {
            db,
            actions,
            reports,
            settings: Arc::new(settings),
            clock,
            tokens: Default::default(),
        };
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
        crate::telemetry::metrics();
        let (stop, stopped) = tokio::sync::watch::channel(());
        let interval = chrono::Duration::seconds(self.state.settings.sweep_seconds.max(1) as i64);
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<()>| async move {
            let _ = stopped.changed().await;
        };
        let scheduler = tokio::spawn(scheduler::run(
            db.clone(),
            self.state.actions.clone(),
            self.state.clock.clone(),
            interval,
            until_stopped(stopped.clone()),
        ));
        let checkpoints = tokio::spawn(db.clone().keep_wal_short(until_stopped(stopped.clone())));
        let retention = tokio::spawn(retention::run(
            db.clone(),
            Retention::from_settings(&self.state.settings),
            self.state.clock.clone(),
            until_stopped(stopped.clone()),
        ));
        let worker = Worker::new(db.clone(), self.state.actions.clone(), self.state.clock.clone())?;
        let deliveries = tokio::spawn(worker.run(until_stopped(stopped)));
        let app = api::router(self.state)
            .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
            }))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
        tracing::info!(addr = %self.listener.local_addr()?, "meterguard listening");
        // The peer address is the client's for login lockouts.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await?;
        drop(stop);
        scheduler.await.ok();
        deliveries.await.ok();
        checkpoints.await.ok();
        retention.await.ok();
        tokio::time::timeout(Duration::from_secs(5), db.close()).await.ok();
        Ok(())
    }
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
