//! `POST /api-auth/password/`: a token for a username and password.

use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::{Need, Text};
use super::AppState;
use crate::service::users::{self, Lockout, LoginRefused};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new().route("/api-auth/password/", post(obtain_token))
}

/// The address a login comes from, for its lockout: the TCP peer's, or, behind a proxy meterguard
/// is told to trust, the last `X-Forwarded-For` entry (the one that proxy added; entries before
/// it are whatever the client sent).
struct ClientIp(String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let forwarded = state
            .settings
            .trust_proxy_headers
            .then(|| parts.headers.get_all("x-forwarded-for").iter().next_back())
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let ip = match forwarded {
            Some(ip) => ip.to_string(),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_string())
                .unwrap_or_default(),
        };
        Ok(Self(ip))
    }
}

async fn obtain_token(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    JsonBody(mut input): JsonBody,
) -> ApiResult<Response> {
    let username = input.text("username", Text::REQUIRED.max(150));
    let password = input.text(
        "password",
        Text {
            need: Need::Required,
            allow_blank: false,
            max_len: 4096,
        },
    );
    let (Some(username), Some(password), true) = (username, password, input.errors.is_empty()) else {
        // Upstream answers a malformed login with 401 and the field errors.
        let body = match input.finish() {
            Err(ApiError::Validation(body)) => body,
            _ => json!({"detail": "Invalid username/password"}),
        };
        return Ok((StatusCode::UNAUTHORIZED, Json(body)).into_response());
    };
    let settings = &state.settings;
    let lockout = Lockout {
        max_failures: settings.login_max_failures,
        micros: settings.login_lockout_seconds.saturating_mul(1_000_000),
    };
    let now = state.clock.now_micros();
    let outcome = users::login(&state.db, &username, &client_ip, &password, lockout, now).await?;
    Ok(match outcome {
        Ok(token) => Json(json!({ "token": token })).into_response(),
        Err(LoginRefused::InvalidCredentials) => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": "Invalid username/password"})),
        )
            .into_response(),
        Err(LoginRefused::LockedOut) => {
            let minutes = (settings.login_lockout_seconds + 59) / 60;
            let detail = format!("Username is locked out. Try in {minutes} minutes.");
            (StatusCode::UNAUTHORIZED, Json(json!({ "detail": detail }))).into_response()
        }
    })
}
