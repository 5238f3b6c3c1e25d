//! What request bodies share: the PATCH form of a body's schema, and a parse's errors handed to a
//! use case that reports them itself, after the 404 and 403 it decides first and beside what only
//! the database can check (`service::parsed`, `service::checked`; docs/api.md §1.8).

use super::errors::{ApiError, ApiResult};
use super::input::{Input, Need};
use super::links;
use crate::service::checked::{Checked, Reference};
use crate::service::parsed::Parsed;
use serde_json::{Map, Value};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;

/// The schema of a PATCH's body, made from its full body's: the same fields, none required
/// (upstream's `Patched...Request` schemas).
pub fn optional_fields(mut full: RefOr<Schema>) -> RefOr<Schema> {
    if let RefOr::T(Schema::Object(object)) = &mut full {
        object.required.clear();
        object.description = Some("A PATCH body: the fields of the full body, none required.".into());
    }
    full
}

/// `value` with the field errors `input` collected, for the use case to report with its own.
pub fn parsed<T>(value: T, input: Input) -> Parsed<T> {
    let errors = match input.finish() {
        Err(ApiError::Validation(Value::Object(errors))) => errors,
        // `finish` fails only with the errors by field.
        _ => Map::new(),
    };
    Parsed::new(value, errors)
}

/// A parse's verdict, for a use case that must first answer what upstream answers before it
/// validates a body (a 404, a 403, the database's checks of the objects it names): `Ok(Err(body))`
/// carries the 400 body.
pub fn deferred<T>(parsed: ApiResult<T>) -> ApiResult<Checked<T>> {
    match parsed {
        Ok(value) => Ok(Ok(value)),
        Err(ApiError::Validation(body)) => Ok(Err(body)),
        Err(other) => Err(other),
    }
}

/// A required hyperlink field: the object it names, for the use case to look up, keeping its
/// place among the errors; `None` (with the field's error) when absent or not such a URL.
pub fn reference(input: &mut Input, field: &str, collection: &str) -> Option<Reference> {
    let value = input.present(field, Need::Required)?;
    match links::resolve(&value, collection) {
        Ok(uuid) => Some(Reference {
            uuid,
            errors_before: input.errors.len(),
        }),
        Err(e) => {
            input.errors.add(field, e.message());
            None
        }
    }
}
