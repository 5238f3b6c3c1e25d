//! Request bodies whose verdict a use case reports in upstream's order. Upstream looks an object
//! up and checks permissions before it validates a body, so a body's errors may only be reported
//! after a 404 or a 403 the use case decides; and the objects a body names by URL are checked in
//! the database, their errors reported with the others in the order DRF reads the fields
//! (docs/api.md §1.8).

use super::{ServiceError, ServiceResult};
use crate::domain::Uuid32;
use serde_json::{json, Map, Value};

/// DRF's message for a URL whose object does not exist, or that the caller may not see.
pub const DOES_NOT_EXIST: &str = "Invalid hyperlink - Object does not exist.";

/// A request (or a part of one) as the API parsed it: its value, or the DRF body of its errors
/// (`{"field": ["message"]}`, or a bare `["message"]`).
pub type Checked<T> = Result<T, Value>;

/// The value, or a 400 with the body's errors.
pub fn verdict<T>(checked: Checked<T>) -> ServiceResult<T> {
    checked.map_err(ServiceError::Invalid)
}

/// An object a body names by its URL, which only the database can check. `errors_before`: how
/// many fields read before it had errors, so its own error takes its place among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    pub uuid: Uuid32,
    pub errors_before: usize,
}

/// What the database said about one reference of a body.
pub struct Resolved<T> {
    field: &'static str,
    reference: Reference,
    found: Result<T, String>,
}

impl<T: Copy> Resolved<T> {
    /// `found`: the object, or the field's message.
    pub fn new(field: &'static str, reference: Reference, found: Result<T, String>) -> Self {
        Self {
            field,
            reference,
            found,
        }
    }

    pub fn found(&self) -> Option<T> {
        self.found.as_ref().ok().copied()
    }
}

/// The body's value when neither it nor any of its references (given in the order they were
/// read) has an error; otherwise a 400 with all the errors, each reference's in its place.
pub fn with_references<T, R>(body: Checked<T>, references: &[&Resolved<R>]) -> ServiceResult<T> {
    let failed: Vec<(&'static str, usize, &String)> = references
        .iter()
        .filter_map(|r| {
            r.found
                .as_ref()
                .err()
                .map(|msg| (r.field, r.reference.errors_before, msg))
        })
        .collect();
    let value = match body {
        Ok(value) if failed.is_empty() => return Ok(value),
        Ok(_) => Map::new(),
        Err(Value::Object(errors)) => errors,
        Err(other) => return Err(ServiceError::Invalid(other)),
    };
    let mut errors = value;
    // The last first, so that inserting one leaves the places of those before it as they were.
    for (field, errors_before, msg) in failed.into_iter().rev() {
        let at = errors_before.min(errors.len());
        errors.shift_insert(at, field.to_string(), json!([msg]));
    }
    Err(ServiceError::Invalid(Value::Object(errors)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(errors_before: usize) -> Reference {
        Reference {
            uuid: Uuid32::new_v4(),
            errors_before,
        }
    }

    fn body(result: ServiceResult<()>) -> Value {
        match result {
            Err(ServiceError::Invalid(body)) => body,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reference_errors_take_their_places_among_the_bodys() {
        let errors = json!({"name": ["n"], "type": ["t"]});
        let customer = Resolved::<i64>::new("customer", reference(1), Err("c".into()));
        let category = Resolved::<i64>::new("category", reference(1), Err("k".into()));
        let got = body(with_references(Err(errors), &[&customer, &category]));
        let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "customer", "category", "type"]);
        assert_eq!(got["category"], json!(["k"]));
    }

    #[test]
    fn a_good_body_fails_on_its_references_alone_and_passes_without_errors() {
        let customer = Resolved::<i64>::new("customer", reference(0), Err("c".into()));
        assert_eq!(body(with_references(Ok(()), &[&customer])), json!({"customer": ["c"]}));
        let found = Resolved::new("customer", reference(0), Ok(7_i64));
        assert_eq!(found.found(), Some(7));
        assert!(with_references(Ok(()), &[&found]).is_ok());
    }
}
