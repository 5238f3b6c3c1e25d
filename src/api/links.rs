//! Absolute hyperlinks out, and hyperlink inputs resolved by their path alone.

use super::errors::ApiError;
use super::AppState;
use crate::domain::Uuid32;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde_json::Value;

/// The scheme and host every hyperlink in a response starts with.
#[derive(Clone, Debug)]
pub struct Links {
    base: String,
}

impl FromRequestParts<AppState> for Links {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self::for_request(parts, state))
    }
}

impl Links {
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_string(),
        }
    }

    pub fn for_request(parts: &Parts, state: &AppState) -> Self {
        if let Some(public) = &state.settings.public_url {
            return Self::new(public.clone());
        }
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
        };
        let trusted = state.settings.trust_proxy_headers;
        let scheme = trusted
            .then(|| header("x-forwarded-proto"))
            .flatten()
            .unwrap_or_else(|| "http".into());
        let host = trusted
            .then(|| header("x-forwarded-host"))
            .flatten()
            .or_else(|| header(header::HOST.as_str()))
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| "localhost".into());
        Self::new(format!("{scheme}://{host}"))
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `http://host/api/<collection>/<hex>/`
    pub fn detail(&self, collection: &str, uuid: &Uuid32) -> String {
        format!("{}/api/{collection}/{uuid}/", self.base)
    }

    /// `http://host/api/<collection>/<hex>/` for a uuid as stored (32 lowercase hex).
    pub fn detail_hex(&self, collection: &str, hex: &str) -> String {
        format!("{}/api/{collection}/{hex}/", self.base)
    }
}

/// Detail views a hyperlink input may name; a path of another shape matches no view.
const COLLECTIONS: &[&str] = &[
    "customers",
    "projects",
    "users",
    "marketplace-service-providers",
    "marketplace-categories",
    "marketplace-provider-offerings",
    "marketplace-public-offerings",
    "marketplace-plans",
    "marketplace-resources",
    "marketplace-orders",
    "marketplace-component-usages",
    "marketplace-customer-component-usage-policies",
    "marketplace-offering-users",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HyperlinkError {
    NoMatch,
    IncorrectMatch,
    DoesNotExist,
    IncorrectType(&'static str),
    NullCharacters,
}

impl HyperlinkError {
    pub fn message(&self) -> String {
        match self {
            Self::NoMatch => "Invalid hyperlink - No URL match.".into(),
            Self::IncorrectMatch => "Invalid hyperlink - Incorrect URL match.".into(),
            Self::DoesNotExist => crate::service::checked::DOES_NOT_EXIST.into(),
            Self::IncorrectType(t) => format!("Incorrect type. Expected URL string, received {t}."),
            Self::NullCharacters => super::input::NULL_CHARACTERS.into(),
        }
    }
}

/// The path segments of a hyperlink after `/api/`, host ignored.
fn api_segments(value: &Value) -> Result<Vec<String>, HyperlinkError> {
    let Value::String(s) = value else {
        return Err(HyperlinkError::IncorrectType(super::input::python_type(value)));
    };
    if s.contains('\0') {
        return Err(HyperlinkError::NullCharacters);
    }
    let path = match url::Url::parse(s) {
        Ok(u) => u.path().to_string(),
        Err(_) if s.starts_with('/') => s.split(['?', '#']).next().unwrap_or("").to_string(),
        Err(_) => return Err(HyperlinkError::NoMatch),
    };
    let rest = path.strip_prefix("/api/").ok_or(HyperlinkError::NoMatch)?;
    let rest = rest.strip_suffix('/').ok_or(HyperlinkError::NoMatch)?;
    let segments: Vec<String> = rest.split('/').map(str::to_string).collect();
    if segments.iter().any(String::is_empty) || !COLLECTIONS.contains(&segments[0].as_str()) {
        return Err(HyperlinkError::NoMatch);
    }
    Ok(segments)
}

/// Resolves `/api/<collection>/<uuid>/`; the object itself is looked up by the caller.
pub fn resolve(value: &Value, collection: &str) -> Result<Uuid32, HyperlinkError> {
    let segments = api_segments(value)?;
    match segments.as_slice() {
        [c, id] if c == collection => id.parse().map_err(|_| HyperlinkError::DoesNotExist),
        [_, _] | [_, _, _, _] => Err(HyperlinkError::IncorrectMatch),
        _ => Err(HyperlinkError::NoMatch),
    }
}

/// Resolves `/api/<collection>/<uuid>/<nested>/<uuid>/` into both uuids.
pub fn resolve_nested(value: &Value, collection: &str, nested: &str) -> Result<(Uuid32, Uuid32), HyperlinkError> {
    let segments = api_segments(value)?;
    match segments.as_slice() {
        [c, a, n, b] if c == collection && n == nested => {
            let a = a.parse().map_err(|_| HyperlinkError::DoesNotExist)?;
            let b = b.parse().map_err(|_| HyperlinkError::DoesNotExist)?;
            Ok((a, b))
        }
        [_, _] | [_, _, _, _] => Err(HyperlinkError::IncorrectMatch),
        _ => Err(HyperlinkError::NoMatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HEX: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn resolves_by_path_ignoring_host() {
        let link = json!(format!("https://elsewhere.example/api/customers/{HEX}/"));
        assert_eq!(resolve(&link, "customers").unwrap().to_string(), HEX);
    }

    #[test]
    fn classifies_failures_as_drf_does() {
        let other = json!(format!("http://h/api/projects/{HEX}/"));
        assert_eq!(resolve(&other, "customers"), Err(HyperlinkError::IncorrectMatch));
        assert_eq!(
            resolve(&json!("http://h/nowhere/"), "customers"),
            Err(HyperlinkError::NoMatch)
        );
        assert_eq!(resolve(&json!("not a url"), "customers"), Err(HyperlinkError::NoMatch));
        let bad_id = json!("http://h/api/customers/xyz/");
        assert_eq!(resolve(&bad_id, "customers"), Err(HyperlinkError::DoesNotExist));
        assert_eq!(
            resolve(&json!(5), "customers"),
            Err(HyperlinkError::IncorrectType("int"))
        );
    }

    #[test]
    fn refuses_null_characters_first() {
        let link = json!(format!("http://h/api/customers/{HEX}/\u{0}"));
        assert_eq!(resolve(&link, "customers"), Err(HyperlinkError::NullCharacters));
        assert_eq!(
            HyperlinkError::NullCharacters.message(),
            "Null characters are not allowed."
        );
    }

    #[test]
    fn resolves_nested_plan_links() {
        let link = json!(format!("http://h/api/marketplace-public-offerings/{HEX}/plans/{HEX}/"));
        assert!(resolve_nested(&link, "marketplace-public-offerings", "plans").is_ok());
        assert_eq!(resolve(&link, "marketplace-plans"), Err(HyperlinkError::IncorrectMatch));
    }
}
