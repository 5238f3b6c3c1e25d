//! Conversions at the storage boundary: flags are stored as 0/1 integers in both dialects, and a
//! value a column may not hold makes its row undecodable (`sqlx::Error::Decode`), never a default.

use crate::domain::{Period, Uuid32};
use std::fmt::Display;

pub fn flag(v: i64) -> bool {
    v != 0
}

pub fn int(b: bool) -> i64 {
    i64::from(b)
}

/// The error of a row whose `column` holds `value`, which no domain value matches.
pub fn undecodable(column: &str, value: impl Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("{column} holds {value}, which is not a valid value").into())
}

pub fn period(column: &str, code: i64) -> Result<Period, sqlx::Error> {
    Period::from_code(code).ok_or_else(|| undecodable(column, code))
}

pub fn uuid(column: &str, text: &str) -> Result<Uuid32, sqlx::Error> {
    text.parse().map_err(|_| undecodable(column, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_no_domain_value_matches_are_decode_errors() {
        assert_eq!(period("period", 3).unwrap(), Period::Month3);
        assert!(matches!(period("period", 0), Err(sqlx::Error::Decode(_))));
        assert_eq!(
            uuid("uuid", "f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1").unwrap().to_string(),
            "f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1"
        );
        assert!(matches!(uuid("uuid", "nope"), Err(sqlx::Error::Decode(_))));
    }
}
