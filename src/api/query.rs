//! Query-string filters shared by list endpoints, and the JSON stored in text columns.

use super::errors::{ApiError, ApiResult};
use super::input::NULL_CHARACTERS;
use crate::domain::Uuid32;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Every value of a repeated key (`?state=a&state=b`, DRF's multiple-choice filters), each
/// checked by `valid`; empty values are skipped. A value `valid` refuses is a 400, as DRF says it.
pub fn choices_param(raw: Option<&str>, key: &str, valid: impl Fn(&str) -> bool) -> ApiResult<Vec<String>> {
    let mut values = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if k != key || v.trim().is_empty() {
            continue;
        }
        let v = v.trim();
        if v.contains('\0') {
            return Err(ApiError::field(key, NULL_CHARACTERS));
        }
        if !valid(v) {
            return Err(ApiError::field(
                key,
                format!("Select a valid choice. {v} is not one of the available choices."),
            ));
        }
        values.push(v.to_string());
    }
    Ok(values)
}

/// A filter of uuids separated by commas (upstream's `customer=<uuid>,<uuid>`), each normalised;
/// anything but uuids is a 400.
pub fn uuid_list_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Vec<String>> {
    q.get(key)
        .map(|v| v.split(',').map(str::trim).filter(|v| !v.is_empty()))
        .into_iter()
        .flatten()
        .map(|v| filter_uuid(key, v))
        .collect()
}

/// A uuid filter: absent or empty means no filter; anything but a uuid is a 400.
pub fn uuid_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<String>> {
    q.get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| filter_uuid(key, v))
        .transpose()
}

/// One uuid of a filter, normalised.
fn filter_uuid(key: &str, value: &str) -> ApiResult<String> {
    value
        .parse::<Uuid32>()
        .map(|u| u.to_string())
        .map_err(|_| ApiError::field(key, "Enter a valid UUID."))
}

/// The uuid a path names; anything else names no object, a 404 with the resource's own detail.
pub fn path_uuid(raw: &str, not_found: &'static str) -> ApiResult<Uuid32> {
    raw.parse().map_err(|_| ApiError::NotFound(not_found))
}

/// A text filter: absent or empty means no filter. A NUL character is a 400, as Django's forms
/// refuse it (PostgreSQL cannot compare text with one).
pub fn text_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<String>> {
    Ok(verbatim_param(q, key)?
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty()))
}

/// A text filter taken as sent (an empty value is a filter too); a NUL character is a 400.
pub fn verbatim_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<String>> {
    match q.get(key) {
        Some(v) if v.contains('\0') => Err(ApiError::field(key, NULL_CHARACTERS)),
        v => Ok(v.cloned()),
    }
}

/// A boolean filter (`true`/`false`, `True`/`False`, `1`/`0`); anything else is a 400.
pub fn bool_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<bool>> {
    match text_param(q, key)?.as_deref() {
        None => Ok(None),
        Some("true" | "True" | "1") => Ok(Some(true)),
        Some("false" | "False" | "0") => Ok(Some(false)),
        Some(_) => Err(ApiError::field(key, "Enter a valid boolean.")),
    }
}

/// An integer filter; anything but a number is a 400.
pub fn int_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<i64>> {
    match text_param(q, key)? {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|f| f.fract() == 0.0)
            .map(|f| Some(f as i64))
            .ok_or_else(|| ApiError::field(key, "Enter a number.")),
    }
}

/// A stored JSON object; anything else (never written) reads as `{}`, so clients that parse
/// these fields as objects never see null.
pub fn object(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_json_that_is_not_an_object_reads_as_empty_object() {
        assert_eq!(object(r#"{"a": 1}"#), json!({"a": 1}));
        for bad in ["", "null", "[]", "3", "{"] {
            assert_eq!(object(bad), json!({}), "{bad}");
        }
    }
}
