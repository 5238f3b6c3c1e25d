//! Query-string filters shared by list endpoints.

use super::errors::{ApiError, ApiResult};
use crate::domain::Uuid32;
use std::collections::HashMap;

/// A uuid filter: absent or empty means no filter; anything but a uuid is a 400.
pub fn uuid_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<String>> {
    match q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<Uuid32>()
            .map(|u| Some(u.to_string()))
            .map_err(|_| ApiError::field(key, "Enter a valid UUID.")),
    }
}

/// A text filter: absent or empty means no filter.
pub fn text_param(q: &HashMap<String, String>, key: &str) -> Option<String> {
    q.get(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// An integer filter; anything but a number is a 400.
pub fn int_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<i64>> {
    match text_param(q, key) {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|f| f.fract() == 0.0)
            .map(|f| Some(f as i64))
            .ok_or_else(|| ApiError::field(key, "Enter a number.")),
    }
}
