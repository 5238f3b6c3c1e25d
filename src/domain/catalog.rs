//! The offering catalogue's closed vocabularies, slugs, and plan prices as exact decimals.

use std::fmt;

/// An offering's lifecycle state, stored and sent as upstream's display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferingState {
    Draft,
    Active,
    Paused,
    Unavailable,
    Archived,
}

impl OfferingState {
    const ALL: [OfferingState; 5] = [
        Self::Draft,
        Self::Active,
        Self::Paused,
        Self::Unavailable,
        Self::Archived,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "Draft",
            Self::Active => "Active",
            Self::Paused => "Paused",
            Self::Unavailable => "Unavailable",
            Self::Archived => "Archived",
        }
    }

    /// `activate/`: upstream's transition from Draft or Paused; `None` when not allowed.
    pub fn activated(self) -> Option<Self> {
        matches!(self, Self::Draft | Self::Paused).then_some(Self::Active)
    }
}

/// `limit_period` choices of an offering component.
pub const LIMIT_PERIODS: [&str; 4] = ["month", "quarterly", "annual", "total"];

/// `unit` choices of a plan (upstream's BillingUnit); `month` is the default.
pub const PLAN_UNITS: [&str; 6] = ["month", "quarter", "half_month", "day", "hour", "quantity"];

/// Upstream's internal-name rule for component types: `^[a-zA-Z0-9_\-\/:]+$`.
pub fn is_internal_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b':'))
}

pub const INTERNAL_NAME_MESSAGE: &str =
    "Internal name must contain only alphanumeric characters, underscores, hyphens, and slashes.";

/// Django's `slugify` restricted to ASCII, cut to `max_len`: lower case, runs of spaces and
/// hyphens become one hyphen, other punctuation is dropped.
pub fn slugify(text: &str, max_len: usize) -> String {
    let mut out = String::new();
    let mut pending_dash = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
        } else if c == '-' || c.is_whitespace() {
            pending_dash = true;
        }
    }
    let cut: String = out.chars().take(max_len).collect();
    cut.trim_matches(|c| c == '-' || c == '_').to_string()
}

/// A plan's `unit_price`: upstream's `DecimalField(max_digits=22, decimal_places=7)`, at least 0,
/// kept exactly as a count of 10^-7 units and rendered with all 7 places (`"0.0000000"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnitPrice(i128);

const PLACES: usize = 7;
const MAX_DIGITS: usize = 22;

impl UnitPrice {
    /// Parses the text of a number with DRF DecimalField's checks and messages, in its order.
    pub fn parse(text: &str) -> Result<Self, String> {
        const INVALID: &str = "A valid number is required.";
        let s = text.trim();
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
            return Err(INVALID.into());
        }
        // Python's Decimal keeps trailing zeros but not leading ones; zero is one digit.
        let all = format!("{int}{frac}");
        let significant = all.trim_start_matches('0').len().max(1);
        let places = frac.len();
        let (total, whole) = if significant > places {
            (significant, significant - places)
        } else {
            (places, 0)
        };
        if total > MAX_DIGITS {
            return Err(format!(
                "Ensure that there are no more than {MAX_DIGITS} digits in total."
            ));
        }
        if places > PLACES {
            return Err(format!("Ensure that there are no more than {PLACES} decimal places."));
        }
        if whole > MAX_DIGITS - PLACES {
            return Err(format!(
                "Ensure that there are no more than {} digits before the decimal point.",
                MAX_DIGITS - PLACES
            ));
        }
        let padded = format!("{int}{frac:0<PLACES$}");
        let units: i128 = padded.trim_start_matches('0').parse().unwrap_or(0);
        if negative && units != 0 {
            return Err("Ensure this value is greater than or equal to 0.".into());
        }
        Ok(Self(units))
    }
}

impl fmt::Display for UnitPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10_i128.pow(PLACES as u32);
        write!(f, "{}.{:0PLACES$}", self.0 / scale, self.0 % scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_is_allowed_from_draft_and_paused_only() {
        assert_eq!(OfferingState::Draft.activated(), Some(OfferingState::Active));
        assert_eq!(OfferingState::Paused.activated(), Some(OfferingState::Active));
        for s in ["Active", "Archived", "Unavailable"] {
            assert_eq!(OfferingState::parse(s).unwrap().activated(), None, "{s}");
        }
        assert_eq!(OfferingState::parse("draft"), None);
    }

    #[test]
    fn internal_names() {
        assert!(is_internal_name("cpu_k-hours/x:1"));
        assert!(!is_internal_name(""));
        assert!(!is_internal_name("cpu hours"));
        assert!(!is_internal_name("ç"));
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("  My Cloud -- Offering! ", 50), "my-cloud-offering");
        assert_eq!(slugify("Ünïcode ok", 50), "ncode-ok");
        assert_eq!(slugify("abc def", 4), "abc");
        assert_eq!(slugify("!!!", 50), "");
    }

    #[test]
    fn prices_render_with_seven_places() {
        assert_eq!(UnitPrice::default().to_string(), "0.0000000");
        assert_eq!(UnitPrice::parse("12.5").unwrap().to_string(), "12.5000000");
        assert_eq!(UnitPrice::parse(" 007 ").unwrap().to_string(), "7.0000000");
        assert_eq!(UnitPrice::parse(".25").unwrap().to_string(), "0.2500000");
        assert_eq!(UnitPrice::parse("-0").unwrap().to_string(), "0.0000000");
        let big = "999999999999999.9999999";
        assert_eq!(UnitPrice::parse(big).unwrap().to_string(), big);
    }

    #[test]
    fn prices_are_checked_like_drf() {
        let err = |s: &str| UnitPrice::parse(s).unwrap_err();
        assert_eq!(err("abc"), "A valid number is required.");
        assert_eq!(err(""), "A valid number is required.");
        assert_eq!(err("."), "A valid number is required.");
        assert_eq!(err("1e3"), "A valid number is required.");
        assert_eq!(
            err("0.12345678"),
            "Ensure that there are no more than 7 decimal places."
        );
        assert_eq!(
            err("1234567890123456"),
            "Ensure that there are no more than 15 digits before the decimal point."
        );
        assert_eq!(
            err("12345678901234567890123"),
            "Ensure that there are no more than 22 digits in total."
        );
        assert_eq!(err("-1"), "Ensure this value is greater than or equal to 0.");
    }
}
