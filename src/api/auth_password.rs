//! `POST /api-auth/password/`: a token for a username and password.

use super::body::JsonBody;
use super::errors::{ApiError, ApiResult, ErrorDetail, ValidationErrors};
use super::input::{Input, Need, Text};
use super::AppState;
use crate::service::users::{self, Lockout, LoginRefused};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use utoipa::ToSchema;

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

/// A login's body.
#[derive(Debug, ToSchema)]
#[schema(as = ObtainAuthTokenRequest)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 150)]
    username: String,
    #[schema(min_length = 1, max_length = 4096)]
    password: String,
}

const INVALID_CREDENTIALS: &str = "Invalid username/password";

impl LoginRequest {
    /// The username and password, or the body of the 401 that upstream answers a malformed login
    /// with: the field errors.
    fn parse(mut input: Input) -> Result<Self, Value> {
        let username = input.text("username", Text::REQUIRED.max(150));
        let password = input.text(
            "password",
            Text {
                need: Need::Required,
                allow_blank: false,
                max_len: 4096,
            },
        );
        match (username, password, input.errors.is_empty()) {
            (Some(username), Some(password), true) => Ok(Self { username, password }),
            _ => Err(match input.finish() {
                Err(ApiError::Validation(body)) => body,
                _ => json!({ "detail": INVALID_CREDENTIALS }),
            }),
        }
    }
}

/// A new token; only its hash is kept, so this is the one time it is shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CoreAuthToken)]
pub struct TokenOut {
    token: String,
}

#[utoipa::path(
    post, path = "/api-auth/password/", operation_id = "api_auth_password", tag = "api-auth",
    request_body = LoginRequest,
    security(()),
    responses(
        (status = 200, body = TokenOut),
        (status = 400, body = ValidationErrors, description = "The body is not a JSON object."),
        (status = 401, body = ValidationErrors,
         description = "Wrong credentials, a locked-out username, or the body's field errors."),
        (status = 503, body = ErrorDetail,
         description = "The database cannot be reached now; retry after the `Retry-After` seconds."),
    )
)]
async fn obtain_token(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    JsonBody(input): JsonBody,
) -> ApiResult<Response> {
    let request = match LoginRequest::parse(input) {
        Ok(request) => request,
        Err(body) => return Ok((StatusCode::UNAUTHORIZED, Json(body)).into_response()),
    };
    let settings = &state.settings;
    let lockout = Lockout {
        max_failures: settings.login_max_failures,
        micros: settings.login_lockout_seconds.saturating_mul(1_000_000),
    };
    let now = state.clock.now_micros();
    let outcome = users::login(
        &state.db,
        &request.username,
        &client_ip,
        &request.password,
        lockout,
        now,
    )
    .await?;
    Ok(match outcome {
        Ok(token) => Json(TokenOut { token }).into_response(),
        Err(LoginRefused::InvalidCredentials) => {
            (StatusCode::UNAUTHORIZED, Json(json!({ "detail": INVALID_CREDENTIALS }))).into_response()
        }
        Err(LoginRefused::LockedOut) => {
            let minutes = (settings.login_lockout_seconds + 59) / 60;
            let detail = format!("Username is locked out. Try in {minutes} minutes.");
            (StatusCode::UNAUTHORIZED, Json(json!({ "detail": detail }))).into_response()
        }
    })
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(obtain_token), components(schemas(LoginRequest, TokenOut)))]
pub struct Doc;
