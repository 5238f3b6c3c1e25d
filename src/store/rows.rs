//! Conversions at the storage boundary: flags are stored as 0/1 integers in both dialects.

pub fn flag(v: i64) -> bool {
    v != 0
}

pub fn int(b: bool) -> i64 {
    i64::from(b)
}
