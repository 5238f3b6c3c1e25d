//! The one error type handlers return, rendered in Django REST framework's shapes.

use crate::service::ServiceError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with a prepared DRF body: `{"field": [...]}` or a bare `["..."]`.
    #[error("validation failed")]
    Validation(Value),
    #[error("JSON parse error")]
    ParseError(String),
    #[error("not authenticated")]
    NotAuthenticated,
    #[error("authentication failed: {0}")]
    AuthenticationFailed(&'static str),
    #[error("permission denied")]
    PermissionDenied,
    #[error("not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("method not allowed")]
    MethodNotAllowed(String),
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("payload too large")]
    PayloadTooLarge,
    /// The database cannot be reached now: 503 with `Retry-After`, never a 500.
    #[error("service unavailable")]
    Unavailable,
    /// 408: the client was too slow sending its request.
    #[error("request timeout")]
    RequestTimeout(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// `{"field": ["message"]}`
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(json!({ field: [message.into()] }))
    }

    /// A bare `["message"]`, as DRF renders a ValidationError raised outside a serializer field.
    pub fn non_field(message: impl Into<String>) -> Self {
        Self::Validation(json!([message.into()]))
    }

    pub fn not_found() -> Self {
        Self::NotFound("Not found.")
    }
}

/// `{"detail": "..."}`: the body of every 401, 403, 404, 405, 409 and 503.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub detail: String,
}

/// A 400's body as DRF renders it: each field's messages under its name (nested for nested
/// fields), or a bare list of messages for an error that belongs to no field.
pub struct ValidationErrors;

impl utoipa::PartialSchema for ValidationErrors {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().additional_properties(Some(AdditionalProperties::FreeForm(true))))
            .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(
                "Messages per field, or a list of messages that belong to no field.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ValidationErrors {}

/// The statuses every authenticated operation can answer besides its own: the caller is not
/// signed in (401), or the database cannot be reached now (503). List them in an operation's
/// `responses(...)` after its own, with the sets below that apply.
#[derive(utoipa::IntoResponses)]
pub enum CommonErrors {
    #[response(
        status = 401,
        description = "Authentication credentials were not provided or are invalid."
    )]
    NotAuthenticated(ErrorDetail),
    #[response(
        status = 503,
        description = "The database cannot be reached now; retry after the `Retry-After` seconds."
    )]
    Unavailable(ErrorDetail),
}

/// An operation on one object named in the path: 404 when it does not exist or the caller may not
/// see it.
#[derive(utoipa::IntoResponses)]
pub enum ObjectErrors {
    #[response(status = 404, description = "No such object, or the caller may not see it.")]
    NotFound(ErrorDetail),
}

/// An operation that reads a request body or query: 400 with DRF's validation body.
#[derive(utoipa::IntoResponses)]
pub enum InputErrors {
    #[response(status = 400, description = "The request is invalid; nothing was changed.")]
    Invalid(#[to_schema] ValidationErrors),
}

/// An operation the caller may see but not perform: 403.
#[derive(utoipa::IntoResponses)]
pub enum ForbiddenErrors {
    #[response(status = 403, description = "The caller may not perform this operation.")]
    Forbidden(ErrorDetail),
}

/// An operation refused because of the object's state: 409.
#[derive(utoipa::IntoResponses)]
pub enum ConflictErrors {
    #[response(status = 409, description = "The object's state does not allow this operation.")]
    Conflict(ErrorDetail),
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Rejected(msg) => Self::non_field(msg),
            ServiceError::Field(field, msg) => Self::field(field, msg),
            ServiceError::Conflict(msg) => Self::Conflict(msg),
            ServiceError::NotFound(detail) => Self::NotFound(detail),
            ServiceError::Invalid(body) => Self::Validation(body),
            ServiceError::Forbidden => Self::PermissionDenied,
            ServiceError::Unavailable => Self::Unavailable,
            // One made by hand rather than converted is judged when it is rendered.
            ServiceError::Database(e) => Self::Internal(e.into()),
        }
    }
}

impl From<crate::domain::page::InvalidPage> for ApiError {
    fn from(_: crate::domain::page::InvalidPage) -> Self {
        Self::NotFound("Invalid page.")
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(Value::Object(errors.0))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Validation(body) => (StatusCode::BAD_REQUEST, body),
            ApiError::ParseError(msg) => (StatusCode::BAD_REQUEST, detail(&format!("JSON parse error - {msg}"))),
            ApiError::NotAuthenticated => {
                let mut response = (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(detail("Authentication credentials were not provided.")),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
                return response;
            }
            ApiError::AuthenticationFailed(msg) => {
                let mut response = (StatusCode::UNAUTHORIZED, axum::Json(detail(msg))).into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
                return response;
            }
            ApiError::PermissionDenied => (
                StatusCode::FORBIDDEN,
                detail("You do not have permission to perform this action."),
            ),
            ApiError::NotFound(msg) => (StatusCode::NOT_FOUND, detail(msg)),
            ApiError::Conflict(msg) => (StatusCode::CONFLICT, detail(&msg)),
            ApiError::MethodNotAllowed(method) => (
                StatusCode::METHOD_NOT_ALLOWED,
                detail(&format!("Method \"{method}\" not allowed.")),
            ),
            ApiError::UnsupportedMediaType(ct) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                detail(&format!("Unsupported media type \"{ct}\" in request.")),
            ),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, detail("Request body is too large.")),
            ApiError::Unavailable => return unavailable(),
            // A database error that reached here wrapped (with context) is judged as a bare one.
            ApiError::Internal(err) if crate::service::unreachable_cause(&err) => {
                tracing::warn!(error = ?err, "database unreachable");
                return unavailable();
            }
            ApiError::RequestTimeout(msg) => (StatusCode::REQUEST_TIMEOUT, detail(msg)),
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                return server_error();
            }
        };
        (status, axum::Json(body)).into_response()
    }
}

/// How long a client is asked to wait before retrying while the database is unreachable.
const RETRY_AFTER_SECONDS: &str = "5";

/// 503 as DRF's `ServiceUnavailable` renders it, with `Retry-After`.
pub fn unavailable() -> Response {
    unavailable_with(detail("Service temporarily unavailable, try again later."))
}

/// 503 with `body` and `Retry-After`.
pub fn unavailable_with(body: Value) -> Response {
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
    response
}

/// 500 with DRF's body, whatever the failure (a panic included): no internals reach a client.
pub fn server_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(detail("A server error occurred.")),
    )
        .into_response()
}

/// The response to a panic in a handler (tower-http's catch-panic layer): logged, then a 500
/// like any other server error.
pub fn panicked(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!(panic = %crate::supervisor::panic_message(payload), "handler panicked");
    server_error()
}

fn detail(msg: &str) -> Value {
    json!({ "detail": msg })
}

/// Field errors collected while parsing a request body, so all of them are reported together
/// (as DRF does), in the order the fields were checked.
#[derive(Debug, Default)]
pub struct FieldErrors(Map<String, Value>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let entry = self.0.entry(field.to_string()).or_insert_with(|| json!([]));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.into()));
        }
    }

    /// A nested error value (per-item lists, `{"non_field_errors": ...}` objects).
    pub fn set(&mut self, field: &str, value: Value) {
        self.0.insert(field.to_string(), value);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many fields have errors so far.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Fails with everything collected so far, if anything was.
    pub fn check(self) -> ApiResult<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_and_retry(err: ApiError) -> (StatusCode, Option<HeaderValue>) {
        let response = err.into_response();
        (response.status(), response.headers().get(header::RETRY_AFTER).cloned())
    }

    #[test]
    fn an_unreachable_database_is_503_with_retry_after_however_it_arrives() {
        let reset = || sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        for err in [
            ApiError::from(ServiceError::from(sqlx::Error::PoolTimedOut)),
            ApiError::from(ServiceError::from(reset())),
            ApiError::from(ServiceError::Database(reset())),
            ApiError::from(ServiceError::Unavailable),
            ApiError::Internal(anyhow::Error::new(reset()).context("reading a page")),
        ] {
            let (status, retry) = status_and_retry(err);
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(retry, Some(HeaderValue::from_static(RETRY_AFTER_SECONDS)));
        }
    }

    #[test]
    fn other_failures_stay_500() {
        for err in [
            ApiError::from(ServiceError::from(sqlx::Error::WorkerCrashed)),
            ApiError::from(ServiceError::from(sqlx::Error::RowNotFound)),
            ApiError::Internal(anyhow::anyhow!("a bug")),
        ] {
            assert_eq!(status_and_retry(err), (StatusCode::INTERNAL_SERVER_ERROR, None));
        }
    }
}
