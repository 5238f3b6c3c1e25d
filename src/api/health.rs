//! Operations: liveness, readiness, Prometheus metrics (docs/api.md §10). Anyone may call them.

use super::{errors, AppState};
use crate::service;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use std::time::Duration;
use utoipa::ToSchema;

/// A readiness probe answers within this, whatever the database does (probes time out soon).
const READY_WITHIN: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health/", get(health))
        .route("/ready/", get(ready))
        .route("/metrics", get(metrics))
}

/// `{"status": ...}`
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    status: &'static str,
}

#[utoipa::path(
    get, path = "/health/", operation_id = "health", tag = "operations", security(()),
    responses((status = 200, body = Status, description = "`ok` while the process serves."))
)]
async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

#[utoipa::path(
    get, path = "/ready/", operation_id = "ready", tag = "operations", security(()),
    responses(
        (status = 200, body = Status, description = "`ready`: the database answers."),
        (status = 503, body = Status, description = "`database unreachable`: the database did not answer within 2 s.")
    )
)]
async fn ready(State(state): State<AppState>) -> Response {
    match service::health::database_ready(&state.db, READY_WITHIN).await {
        Ok(()) => Json(Status { status: "ready" }).into_response(),
        Err(why) => {
            tracing::warn!(error = %why, "database not reachable");
            errors::unavailable_with(json!({"status": "database unreachable"}))
        }
    }
}

#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics", tag = "operations", security(()),
    responses((status = 200, content_type = "text/plain", body = String, description = "Prometheus text format."))
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match service::health::outbox_depth(&state.db).await {
        Ok(depth) => metrics::gauge!("meterguard_outbox_depth").set(depth as f64),
        Err(err) => tracing::warn!(error = %err, "outbox depth unavailable"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::metrics().render(),
    )
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(health, ready, metrics), components(schemas(Status)))]
pub struct Doc;
