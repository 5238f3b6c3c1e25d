//! What request bodies share: the PATCH form of a body's schema, and a parse's field errors handed
//! to a use case that reports them itself (`service::parsed`).

use super::errors::ApiError;
use super::input::Input;
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
