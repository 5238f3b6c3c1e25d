//! Timestamps are kept as microseconds since the Unix epoch (UTC) in storage, and rendered the way
//! DRF renders aware datetimes.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

pub type Micros = i64;

pub fn to_micros(t: DateTime<Utc>) -> Micros {
    t.timestamp_micros()
}

pub fn from_micros(m: Micros) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}

/// `2026-11-26T13:39:24.123456Z`
pub fn render(m: Micros) -> String {
    from_micros(m).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Accepts what DRF's DateTimeField accepts in practice: RFC 3339 (offset or `Z`), or a naive
/// datetime or date taken as UTC.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_microseconds_and_z() {
        assert_eq!(render(1_764_164_364_123_456), "2025-11-26T13:39:24.123456Z");
        assert_eq!(render(0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn parses_common_forms() {
        let z = parse_datetime("2026-01-02T03:04:05Z").unwrap();
        assert_eq!(parse_datetime("2026-01-02T05:04:05+02:00"), Some(z));
        assert_eq!(parse_datetime("2026-01-02T03:04:05"), Some(z));
        assert!(parse_datetime("2026-01-02").is_some());
        assert!(parse_datetime("yesterday").is_none());
    }
}
