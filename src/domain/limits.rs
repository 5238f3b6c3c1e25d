//! A resource's limits as orders carry them: component type → a whole amount, never negative.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceLimits(BTreeMap<String, u64>);

impl ResourceLimits {
    /// Limits as stored; an entry that is not a whole, non-negative number (written before
    /// they were checked) is left out.
    pub fn from_stored(text: &str) -> Self {
        let map: Map<String, Value> = serde_json::from_str(text).unwrap_or_default();
        Self(
            map.iter()
                .filter_map(|(key, value)| value.as_u64().map(|n| (key.clone(), n)))
                .collect(),
        )
    }

    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, v)| (k.clone(), Value::from(*v))).collect())
    }
}

impl FromIterator<(String, u64)> for ResourceLimits {
    fn from_iter<I: IntoIterator<Item = (String, u64)>>(entries: I) -> Self {
        Self(entries.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_limits_keep_their_whole_entries() {
        assert_eq!(
            ResourceLimits::from_stored(r#"{"a": 4, "b": 1.5, "c": -2}"#).to_json(),
            json!({"a": 4})
        );
        assert_eq!(ResourceLimits::from_stored("not json"), ResourceLimits::default());
    }

    #[test]
    fn equal_limits_compare_equal_whatever_their_order() {
        let a: ResourceLimits = [("x".to_string(), 1), ("y".to_string(), 2)].into_iter().collect();
        let b: ResourceLimits = [("y".to_string(), 2), ("x".to_string(), 1)].into_iter().collect();
        assert_eq!(a, b);
    }
}
