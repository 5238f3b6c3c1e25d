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
                Some(q) => format!("{}/?{q}", same_origin(&path)),
                None => format!("{}/", same_origin(&path)),
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

/// A path that stays one when used as a redirect's `Location`. `//evil.example` there is a link to
/// another host, and browsers read `/\evil.example` the same way; as Django does, the second
/// character is percent-encoded, so the redirect goes to a path of this host (which then answers
/// 404).
fn same_origin(path: &str) -> std::borrow::Cow<'_, str> {
    match path.as_bytes().get(1) {
        Some(b'/') => format!("/%2F{}", &path[2..]).into(),
        Some(b'\\') => format!("/%5C{}", &path[2..]).into(),
        _ => path.into(),
    }
}

pub async fn not_found() -> ApiError {
    ApiError::not_found()
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn redirect_targets_never_name_another_host() {
        assert_eq!(same_origin("/api/users"), "/api/users");
        assert_eq!(same_origin("/"), "/");
        assert_eq!(same_origin("//evil.example"), "/%2Fevil.example");
        assert_eq!(same_origin("///evil.example"), "/%2F/evil.example");
        assert_eq!(same_origin("/\\evil.example"), "/%5Cevil.example");
    }
}
