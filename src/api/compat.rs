//! Django conventions every endpoint shares: slash-terminated paths, DRF bodies for 404 and 405.

use super::errors::ApiError;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Paths that keep their usual slash-less form.
const SLASHLESS: &[&str] = &["/metrics"];

pub async fn drf_conventions(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if !path.ends_with('/') && !SLASHLESS.contains(&path.as_str()) {
        // As Django's APPEND_SLASH: safe methods are redirected; others would lose their body.
        if matches!(*req.method(), Method::GET | Method::HEAD) {
            let target = match req.uri().query() {
                Some(q) => format!("{path}/?{q}"),
                None => format!("{path}/"),
            };
            let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
            if let Ok(v) = HeaderValue::from_str(&target) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            return response;
        }
        return ApiError::not_found().into_response();
    }
    let method = req.method().clone();
    let response = next.run(req).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED && response.headers().get(header::CONTENT_TYPE).is_none() {
        return ApiError::MethodNotAllowed(method.to_string()).into_response();
    }
    response
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}
