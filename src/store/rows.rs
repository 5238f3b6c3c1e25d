//! Conversions at the storage boundary: flags are stored as 0/1 integers in both dialects, uuids
//! as 32 lowercase hex characters, enums as their display text. A value a column may not hold
//! makes its row undecodable (`sqlx::Error::Decode`, naming the column), never a default.

use crate::domain::{Period, Uuid32};
use std::fmt::Display;

pub fn flag(column: &str, v: i64) -> Result<bool, sqlx::Error> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(undecodable(column, other)),
    }
}

pub fn int(b: bool) -> i64 {
    i64::from(b)
}

/// The error of a row whose `column` holds `value`, which no domain value matches.
pub fn undecodable(column: &str, value: impl Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("{column} holds {value}, which is not a valid value").into())
}

/// A text column read with the domain type's own parser (state and type enums).
pub fn decoded<T>(column: &str, text: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, sqlx::Error> {
    parse(text).ok_or_else(|| undecodable(column, format!("{text:?}")))
}

pub fn period(column: &str, code: i64) -> Result<Period, sqlx::Error> {
    Period::from_code(code).ok_or_else(|| undecodable(column, code))
}

pub fn uuid(column: &str, text: &str) -> Result<Uuid32, sqlx::Error> {
    text.parse().map_err(|_| undecodable(column, format!("{text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::marketplace::ResourceState;

    #[test]
    fn only_zero_and_one_are_flags() {
        assert!(!flag("f", 0).unwrap());
        assert!(flag("f", 1).unwrap());
        assert!(matches!(flag("f", 2), Err(sqlx::Error::Decode(_))));
    }

    #[test]
    fn values_no_domain_value_matches_are_decode_errors() {
        assert_eq!(period("period", 3).unwrap(), Period::Month3);
        assert!(matches!(period("period", 0), Err(sqlx::Error::Decode(_))));
        let hex = "f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1";
        assert_eq!(uuid("uuid", hex).unwrap().to_string(), hex);
        assert!(matches!(uuid("uuid", "nope"), Err(sqlx::Error::Decode(_))));
        assert_eq!(decoded("state", "OK", ResourceState::parse).unwrap(), ResourceState::Ok);
        assert!(matches!(
            decoded("state", "Fine", ResourceState::parse),
            Err(sqlx::Error::Decode(_))
        ));
    }
}
