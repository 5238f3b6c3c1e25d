//! A request body as its parse left it: the values it read and the field errors it found, in
//! DRF's shape. A use case reports those errors where upstream does: after looking up the object
//! the path names (a 404 comes first, as DRF's update looks the object up before it validates),
//! and together with the errors only the database can tell, such as a reference to an object
//! that is missing or that the caller may not see (DRF reports all of a body's errors at once).

use super::{ServiceError, ServiceResult};
use serde_json::{json, Map, Value};

#[derive(Debug)]
pub struct Parsed<T> {
    value: T,
    errors: Map<String, Value>,
}

impl<T> Parsed<T> {
    pub fn new(value: T, errors: Map<String, Value>) -> Self {
        Self { value, errors }
    }

    /// The same errors with the values made into what a use case takes.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        Parsed {
            value: f(self.value),
            errors: self.errors,
        }
    }

    /// What the parse read, including beside the fields it refused.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// An error about the field read first, placed first as the parse would have placed it.
    pub fn refuse_first(&mut self, field: &str, message: &str) {
        self.errors.shift_insert(0, field.to_string(), json!([message]));
    }

    /// An error found after the parse's own, placed after them.
    pub fn refuse(&mut self, field: &str, message: &str) {
        let entry = self.errors.entry(field.to_string()).or_insert_with(|| json!([]));
        if let Value::Array(messages) = entry {
            messages.push(json!(message));
        }
    }

    /// The values read, or 400 with every error found.
    pub fn accept(self) -> ServiceResult<T> {
        if self.errors.is_empty() {
            Ok(self.value)
        } else {
            Err(ServiceError::Invalid(Value::Object(self.errors)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(body: Value) -> Map<String, Value> {
        match body {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn body(parsed: Parsed<()>) -> String {
        match parsed.accept() {
            Err(ServiceError::Invalid(body)) => body.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn errors_found_later_keep_the_order_fields_are_read_in() {
        let mut parsed = Parsed::new((), errors(json!({"name": ["blank"]})));
        parsed.refuse_first("customer", "missing");
        parsed.refuse("user", "gone");
        parsed.refuse("name", "again");
        assert_eq!(
            body(parsed),
            r#"{"customer":["missing"],"name":["blank","again"],"user":["gone"]}"#
        );
    }

    #[test]
    fn a_parse_without_errors_is_accepted() {
        assert!(Parsed::new(7, Map::new()).accept().is_ok_and(|v| v == 7));
    }
}
