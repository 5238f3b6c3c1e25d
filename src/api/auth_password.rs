//! `POST /api-auth/password/`: a token for a username and password.

use super::body::JsonBody;
use super::errors::{ApiError, ApiResult};
use super::input::Text;
use super::AppState;
use crate::service::users::{self, LoginRefused};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new().route("/api-auth/password/", post(obtain_token))
}

async fn obtain_token(State(state): State<AppState>, JsonBody(mut input): JsonBody) -> ApiResult<Response> {
    let username = input.text("username", Text::REQUIRED.max(150));
    let password = input.text(
        "password",
        Text {
            required: true,
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
    let outcome = users::login(
        &state.db,
        &username,
        &password,
        settings.login_max_failures,
        settings.login_lockout_seconds * 1_000_000,
        state.clock.now_micros(),
    )
    .await?;
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
