//! `/api/version/`: which meterguard answers, as upstream's version endpoint (the site agent
//! logs it at start).

use super::auth::CurrentUser;
use super::errors::{ApiResult, CommonErrors};
use super::AppState;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/version/", get(retrieve))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionOut {
    /// meterguard's version.
    version: &'static str,
}

#[utoipa::path(
    get, path = "/api/version/",
    operation_id = "version_retrieve",
    tag = "version",
    responses((status = 200, body = VersionOut), CommonErrors)
)]
async fn retrieve(CurrentUser(_): CurrentUser) -> ApiResult<Json<VersionOut>> {
    Ok(Json(VersionOut {
        version: env!("CARGO_PKG_VERSION"),
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(retrieve), components(schemas(VersionOut)))]
pub struct Doc;
