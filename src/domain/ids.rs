use std::fmt;
use std::str::FromStr;

/// A UUID that renders as 32 lowercase hex characters (Waldur's wire form) and parses from hex or
/// hyphenated input.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid32(uuid::Uuid);

impl Uuid32 {
    pub fn new_v4() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    pub fn hex(&self) -> String {
        self.0.simple().to_string()
    }

    /// Python's `str(UUID)`, which upstream messages quote.
    pub fn hyphenated(&self) -> String {
        self.0.hyphenated().to_string()
    }
}

impl FromStr for Uuid32 {
    type Err = InvalidUuid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        // Only the two forms Waldur accepts, 32 hex digits or the hyphenated 36; `uuid` would
        // also take braces (38) and URNs (45). Every uuid a list decodes comes through here.
        match s.len() {
            32 | 36 => uuid::Uuid::try_parse(s).map(Self).map_err(|_| InvalidUuid),
            _ => Err(InvalidUuid),
        }
    }
}

impl fmt::Display for Uuid32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.simple().encode_lower(&mut uuid::Uuid::encode_buffer()))
    }
}

impl fmt::Debug for Uuid32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid32({})", self.0.simple())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Must be a valid UUID.")]
pub struct InvalidUuid;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_hyphenated_forms_and_renders_hex() {
        let hex: Uuid32 = "0123456789abcdef0123456789ABCDEF".parse().unwrap();
        let hyph: Uuid32 = "01234567-89ab-cdef-0123-456789abcdef".parse().unwrap();
        assert_eq!(hex, hyph);
        assert_eq!(hex.to_string(), "0123456789abcdef0123456789abcdef");
        assert_eq!(hex.hyphenated(), "01234567-89ab-cdef-0123-456789abcdef");
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "",
            "xyz",
            "{01234567-89ab-cdef-0123-456789abcdef}",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef0123456789abcdef----",
            "urn:uuid:01234567-89ab-cdef-0123-456789abcdef",
        ] {
            assert!(bad.parse::<Uuid32>().is_err(), "{bad}");
        }
    }
}
