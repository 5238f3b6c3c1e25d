//! The JSON body extractor: content type, size limit and syntax are checked here, and the object
//! is handed to the handler's `Input` reader, which validates fields the way DRF does.

use super::errors::ApiError;
use super::input::{python_type, Input};
use super::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::Value;

/// A PATCH body is partial: fields it leaves out keep their values.
pub struct JsonBody(pub Input);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let partial = req.method() == axum::http::Method::PATCH;
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let limit = state.settings.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|err| {
            if timed_out(&err) {
                ApiError::RequestTimeout("The request body was not received in time.")
            } else {
                ApiError::PayloadTooLarge
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Input::new(Default::default()).partial(partial)));
        }
        match content_type.as_deref() {
            Some(ct) if is_json(ct) => {}
            Some(ct) => return Err(ApiError::UnsupportedMediaType(ct.to_string())),
            None => return Err(ApiError::UnsupportedMediaType(String::new())),
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::ParseError(e.to_string()))?;
        match value {
            Value::Object(map) => Ok(Self(Input::new(map).partial(partial))),
            other => Err(ApiError::Validation(serde_json::json!({
                "non_field_errors": [format!(
                    "Invalid data. Expected a dictionary, but got {}.",
                    python_type(&other)
                )]
            }))),
        }
    }
}

/// Whether reading the body failed because the client paused longer than the body timeout.
fn timed_out(err: &axum::Error) -> bool {
    std::iter::successors(Some(err as &(dyn std::error::Error + 'static)), |e| e.source())
        .any(|e| e.is::<tower_http::timeout::TimeoutError>())
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}
