//! Usage amounts: non-negative decimals with at most two places (upstream `decimal(20,2)`),
//! held as integer hundredths so sums are exact.

use serde_json::Value;
use std::fmt;

/// Hundredths of a unit. Arithmetic on amounts never goes through floating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

/// The largest amount one report may carry. Upstream allows 18 whole digits; meterguard keeps
/// sums of many reports exact in 64-bit integers, so it stops at a trillion units.
pub const MAX_UNITS: i64 = 1_000_000_000_000;

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub fn from_hundredths(h: i64) -> Self {
        Self(h)
    }

    pub fn hundredths(self) -> i64 {
        self.0
    }

    pub fn from_units(units: i64) -> Self {
        Self(units.saturating_mul(100))
    }

    pub fn saturating_add(self, other: Amount) -> Amount {
        Amount(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Amount) -> Amount {
        Amount(self.0.saturating_sub(other.0))
    }

    /// Parses a client's amount the way DRF's `DecimalField(max_digits=20, decimal_places=2,
    /// min_value=0)` does, with its messages.
    pub fn parse(value: &Value) -> Result<Amount, String> {
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return Err(INVALID.into()),
        };
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(&text)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
            return Err(INVALID.into());
        }
        let significant_whole = whole.trim_start_matches('0');
        // As Python's Decimal.as_tuple(): a number below one counts every place after the point.
        let total_digits = if significant_whole.is_empty() {
            fraction.len().max(1)
        } else {
            significant_whole.len() + fraction.len()
        };
        if total_digits > 20 {
            return Err("Ensure that there are no more than 20 digits in total.".into());
        }
        if fraction.len() > 2 {
            return Err("Ensure that there are no more than 2 decimal places.".into());
        }
        if significant_whole.len() > 18 {
            return Err("Ensure that there are no more than 18 digits before the decimal point.".into());
        }
        let units: i64 = if significant_whole.is_empty() {
            0
        } else {
            significant_whole.parse().map_err(|_| INVALID)?
        };
        let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| INVALID)?;
        if negative && (units > 0 || cents > 0) {
            return Err("Ensure this value is greater than or equal to 0.".into());
        }
        if units > MAX_UNITS || (units == MAX_UNITS && cents > 0) {
            return Err(format!("Ensure this value is less than or equal to {MAX_UNITS}."));
        }
        Ok(Amount(units * 100 + cents))
    }
}

const INVALID: &str = "A valid number is required.";

impl fmt::Display for Amount {
    /// Always two places, as upstream renders `decimal(20,2)`: `150.25`, `-3.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<String, String> {
        Amount::parse(&v).map(|a| a.to_string())
    }

    #[test]
    fn parses_strings_and_numbers_exactly() {
        assert_eq!(parse(json!("150.25")), Ok("150.25".into()));
        assert_eq!(parse(json!(150.25)), Ok("150.25".into()));
        assert_eq!(parse(json!(0.1)), Ok("0.10".into()));
        assert_eq!(parse(json!("7")), Ok("7.00".into()));
        assert_eq!(parse(json!(".5")), Ok("0.50".into()));
        assert_eq!(parse(json!("0")), Ok("0.00".into()));
        assert_eq!(parse(json!("-0")), Ok("0.00".into()));
    }

    #[test]
    fn refuses_what_drf_refuses() {
        assert_eq!(
            parse(json!("1.234")),
            Err("Ensure that there are no more than 2 decimal places.".into())
        );
        assert_eq!(
            parse(json!("1.500")),
            Err("Ensure that there are no more than 2 decimal places.".into())
        );
        assert_eq!(
            parse(json!("-1")),
            Err("Ensure this value is greater than or equal to 0.".into())
        );
        assert_eq!(parse(json!("abc")), Err(INVALID.into()));
        assert_eq!(parse(json!("")), Err(INVALID.into()));
        assert_eq!(parse(json!(true)), Err(INVALID.into()));
        assert_eq!(parse(json!("NaN")), Err(INVALID.into()));
        assert_eq!(
            parse(json!("1234567890123456789.5")),
            Err("Ensure that there are no more than 18 digits before the decimal point.".into())
        );
        assert_eq!(
            parse(json!("123456789012345678901")),
            Err("Ensure that there are no more than 20 digits in total.".into())
        );
        assert!(parse(json!("1000000000000.01")).is_err());
        assert!(parse(json!("1000000000000.00")).is_ok());
    }

    #[test]
    fn sums_are_exact_where_floats_are_not() {
        let tenth = Amount::parse(&json!("0.1")).unwrap();
        let sum = tenth.saturating_add(tenth).saturating_add(tenth);
        assert_eq!(sum, Amount::parse(&json!("0.3")).unwrap());
        assert_ne!(0.1_f64 + 0.1 + 0.1, 0.3);
        assert_eq!(Amount::from_hundredths(-350).to_string(), "-3.50");
    }
}
