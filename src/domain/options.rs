//! The `options` object of a policy: extra data per action, keyed by action name.

use super::ladder::{may_wait, MAX_GRACE_MINUTES};
use super::Action;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("Options must be a valid JSON object.")]
    NotJson,
    #[error("Options must be a dictionary.")]
    NotObject,
    #[error("{0} is not an available action.")]
    UnknownAction(String),
    #[error("Options for {0} are invalid.")]
    Invalid(String),
}

/// Validated policy options; only keys naming an available action are kept.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyOptions(Map<String, Value>);

impl PolicyOptions {
    pub fn parse(value: &Value) -> Result<Self, OptionsError> {
        let parsed;
        let value = match value {
            Value::String(s) if !s.is_empty() => {
                parsed = serde_json::from_str::<Value>(s).map_err(|_| OptionsError::NotJson)?;
                &parsed
            }
            other => other,
        };
        if is_falsy(value) {
            return Ok(Self::default());
        }
        let Value::Object(map) = value else {
            return Err(OptionsError::NotObject);
        };
        for (key, option) in map {
            let action = Action::parse(key).ok_or_else(|| OptionsError::UnknownAction(key.clone()))?;
            let valid = match action {
                Action::NotifyExternalUser => is_email_list(option),
                a if may_wait(a) => is_grace(option),
                _ => true,
            };
            if !valid {
                return Err(OptionsError::Invalid(key.clone()));
            }
        }
        Ok(Self(map.clone()))
    }

    /// Options as stored, which were checked when they were written: taken as they are, so that
    /// a later, stricter check never makes a stored policy unreadable. `None` for text that is
    /// not a JSON object.
    pub fn from_stored(text: &str) -> Option<Self> {
        match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Some(Self(map)),
            _ => None,
        }
    }

    /// The external recipients of `notify_external_user`, trimmed, empty parts dropped.
    pub fn external_emails(&self) -> Vec<String> {
        match self.0.get(Action::NotifyExternalUser.name()) {
            Some(Value::String(s)) => split_emails(s),
            _ => Vec::new(),
        }
    }

    /// How many minutes `action` waits after a fire before it runs (docs/ladder.md §4); 0 for
    /// the notify actions, which never wait, and for options without a grace period.
    pub fn grace_minutes(&self, action: Action) -> u32 {
        if !may_wait(action) {
            return 0;
        }
        self.0
            .get(action.name())
            .and_then(|o| o.get("grace_minutes"))
            .and_then(Value::as_u64)
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(0)
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

/// Python truthiness, which upstream uses to normalise empty options to `{}`.
fn is_falsy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// The options of an action that may wait are a grace period and nothing else:
/// `{"grace_minutes": N}` with N a whole number of minutes up to thirty days (docs/ladder.md §1).
fn is_grace(value: &Value) -> bool {
    let Value::Object(map) = value else {
        return false;
    };
    map.len() == 1
        && map
            .get("grace_minutes")
            .and_then(Value::as_u64)
            .is_some_and(|m| m <= u64::from(MAX_GRACE_MINUTES))
}

fn split_emails(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_email_list(value: &Value) -> bool {
    match value {
        Value::String(s) => split_emails(s).iter().all(|e| is_email(e)),
        _ => false,
    }
}

/// Upstream's pattern `^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$`, and one address the
/// mailer can send to (the pattern alone takes `a@b..c`).
fn is_email(s: &str) -> bool {
    upstream_pattern(s) && super::email::is_valid(s)
}

fn upstream_pattern(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let Some((host, rest)) = domain.split_once('.') else {
        return false;
    };
    let local_ok = |c: char| c.is_ascii_alphanumeric() || "_.+-".contains(c);
    let host_ok = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let rest_ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    !local.is_empty()
        && local.chars().all(local_ok)
        && !host.is_empty()
        && host.chars().all(host_ok)
        && !rest.is_empty()
        && rest.chars().all(rest_ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn falsy_values_become_empty() {
        for v in [json!({}), json!([]), json!(""), json!(0), json!(false)] {
            assert_eq!(PolicyOptions::parse(&v), Ok(PolicyOptions::default()), "{v}");
        }
    }

    #[test]
    fn stored_options_are_taken_as_they_are() {
        let stored = PolicyOptions::from_stored(r#"{"notify_external_user": "a@b.org, c@d.org"}"#).unwrap();
        assert_eq!(stored.external_emails(), vec!["a@b.org", "c@d.org"]);
        assert_eq!(PolicyOptions::from_stored("{}"), Some(PolicyOptions::default()));
        for bad in ["", "[]", "null", "{"] {
            assert_eq!(PolicyOptions::from_stored(bad), None, "{bad}");
        }
    }

    #[test]
    fn strings_are_parsed_as_json() {
        let opts = PolicyOptions::parse(&json!(r#"{"notify_external_user": "a@b.org"}"#)).unwrap();
        assert_eq!(opts.external_emails(), vec!["a@b.org"]);
        assert_eq!(PolicyOptions::parse(&json!("{nope")), Err(OptionsError::NotJson));
        assert_eq!(PolicyOptions::parse(&json!("[1]")), Err(OptionsError::NotObject));
    }

    #[test]
    fn grace_periods_are_whole_minutes_up_to_thirty_days() {
        let opts = PolicyOptions::parse(&json!({
            "request_pausing": {"grace_minutes": 60},
            "block_creation_of_new_resources": {"grace_minutes": 43200},
            "terminate_resources": {"grace_minutes": 0},
        }))
        .unwrap();
        assert_eq!(opts.grace_minutes(Action::RequestPausing), 60);
        assert_eq!(opts.grace_minutes(Action::BlockCreationOfNewResources), 43_200);
        assert_eq!(opts.grace_minutes(Action::TerminateResources), 0);
        assert_eq!(opts.grace_minutes(Action::RestrictMembers), 0);
        for bad in [
            json!({"grace_minutes": 43201}),
            json!({"grace_minutes": -1}),
            json!({"grace_minutes": 1.5}),
            json!({"grace_minutes": "5"}),
            json!({"grace_minutes": 5, "other": 1}),
            json!({}),
            // Upstream keeps any value under these keys; they have one meaning here (docs/ladder.md §1).
            json!(true),
            json!(60),
            json!("60"),
            json!(null),
        ] {
            let options = json!({"request_downscaling": bad});
            assert_eq!(
                PolicyOptions::parse(&options),
                Err(OptionsError::Invalid("request_downscaling".into())),
                "{options}"
            );
        }
        // The notify actions never wait, whatever is stored.
        let stored = PolicyOptions::from_stored(r#"{"notify_organization_owners": {"grace_minutes": 5}}"#).unwrap();
        assert_eq!(stored.grace_minutes(Action::NotifyOrganizationOwners), 0);
    }

    #[test]
    fn validates_keys_and_external_emails() {
        assert_eq!(
            PolicyOptions::parse(&json!({"foo": 1})),
            Err(OptionsError::UnknownAction("foo".into()))
        );
        let bad = json!({"notify_external_user": ["a@b.org"]});
        assert_eq!(
            PolicyOptions::parse(&bad),
            Err(OptionsError::Invalid("notify_external_user".into()))
        );
        let bad = json!({"notify_external_user": "a@b.org, nope"});
        assert!(PolicyOptions::parse(&bad).is_err());
        let ok = PolicyOptions::parse(&json!({"notify_external_user": " a@b.org , ,c+d@e-f.co.uk"})).unwrap();
        assert_eq!(ok.external_emails(), vec!["a@b.org", "c+d@e-f.co.uk"]);
        assert!(PolicyOptions::parse(&json!({"notify_external_user": " , "})).is_ok());
        for bad in [
            "a@b..org",
            "a@b.org;c@d.org",
            "a@b.org c@d.org",
            ".a@b.org",
            "a..b@c.org",
        ] {
            let options = json!({"notify_external_user": format!("x@y.org, {bad}")});
            assert!(PolicyOptions::parse(&options).is_err(), "{bad}");
        }
    }
}
