//! Conversions at the storage boundary: flags are stored as 0/1 integers in both dialects, uuids
//! as 32 lowercase hex characters. A value of another shape is a row that cannot be decoded, an
//! error rather than a default.

use super::Result;
use crate::domain::Uuid32;

pub fn flag(column: &str, v: i64) -> Result<bool> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(undecodable(column, other)),
    }
}

pub fn int(b: bool) -> i64 {
    i64::from(b)
}

pub fn uuid(column: &str, v: &str) -> Result<Uuid32> {
    v.parse().map_err(|_| undecodable(column, v))
}

fn undecodable(column: &str, value: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("{column}: cannot decode {value}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_zero_and_one_are_flags() {
        assert!(!flag("f", 0).unwrap());
        assert!(flag("f", 1).unwrap());
        assert!(matches!(flag("f", 2), Err(sqlx::Error::Decode(_))));
    }

    #[test]
    fn uuids_decode_from_hex() {
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(uuid("u", hex).unwrap().to_string(), hex);
        assert!(matches!(uuid("u", "x"), Err(sqlx::Error::Decode(_))));
    }
}
