//! Operations: liveness, readiness, Prometheus metrics.

use super::{errors, AppState};
use crate::store;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::time::Duration;

/// A readiness probe answers within this, whatever the database does (probes time out soon).
const READY_WITHIN: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health/", get(health))
        .route("/ready/", get(ready))
        .route("/metrics", get(metrics))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> Response {
    let why = match tokio::time::timeout(READY_WITHIN, state.db.ping()).await {
        Ok(Ok(())) => return Json(json!({"status": "ready"})).into_response(),
        Ok(Err(err)) => err.to_string(),
        Err(_) => format!("no answer within {READY_WITHIN:?}"),
    };
    tracing::warn!(error = %why, "database not reachable");
    errors::unavailable_with(json!({"status": "database unreachable"}))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match store::outbox::pending(state.db.reader()).await {
        Ok(depth) => metrics::gauge!("meterguard_outbox_depth").set(depth as f64),
        Err(err) => tracing::warn!(error = %err, "outbox depth unavailable"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::metrics().render(),
    )
}
