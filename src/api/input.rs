//! Reads the fields of a request object with DRF's field semantics and messages, collecting every
//! error before the request is refused.

use super::errors::{ApiResult, FieldErrors};
use crate::domain::{ResourceLimits, Uuid32};
use serde_json::{json, Map, Value};

pub const REQUIRED: &str = "This field is required.";
pub const NOT_NULL: &str = "This field may not be null.";
pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";

pub struct Input {
    map: Map<String, Value>,
    /// PATCH: absent fields are left alone, so "required" is not enforced.
    partial: bool,
    pub errors: FieldErrors,
}

/// Whether a field must be sent (on a create or a full update; a PATCH requires nothing).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Required,
    Optional,
}

/// How a text field is checked.
#[derive(Clone, Copy)]
pub struct Text {
    pub need: Need,
    pub allow_blank: bool,
    pub max_len: usize,
}

impl Text {
    pub const REQUIRED: Text = Text {
        need: Need::Required,
        allow_blank: false,
        max_len: 255,
    };
    pub const OPTIONAL: Text = Text {
        need: Need::Optional,
        allow_blank: true,
        max_len: 255,
    };

    pub fn max(self, max_len: usize) -> Self {
        Self { max_len, ..self }
    }
}

impl Input {
    pub fn new(map: Map<String, Value>) -> Self {
        Self {
            map,
            partial: false,
            errors: FieldErrors::default(),
        }
    }

    pub fn partial(mut self, partial: bool) -> Self {
        self.partial = partial;
        self
    }

    pub fn has(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    pub fn raw(&self, field: &str) -> Option<&Value> {
        self.map.get(field)
    }

    /// The value of a field that must be present (unless partial) and not null.
    pub fn present(&mut self, field: &str, need: Need) -> Option<Value> {
        match self.map.get(field) {
            None => {
                if need == Need::Required && !self.partial {
                    self.errors.add(field, REQUIRED);
                }
                None
            }
            Some(Value::Null) => {
                self.errors.add(field, NOT_NULL);
                None
            }
            Some(v) => Some(v.clone()),
        }
    }

    pub fn text(&mut self, field: &str, rule: Text) -> Option<String> {
        let value = self.present(field, rule.need)?;
        match check_text(&value, rule) {
            Ok(s) => Some(s),
            Err(msg) => {
                self.errors.add(field, msg);
                None
            }
        }
    }

    pub fn boolean(&mut self, field: &str) -> Option<bool> {
        let value = self.present(field, Need::Optional)?;
        let parsed = match &value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) if n.as_i64() == Some(1) => Some(true),
            Value::Number(n) if n.as_i64() == Some(0) => Some(false),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
                "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            self.errors.add(field, "Must be a valid boolean.");
        }
        parsed
    }

    pub fn integer(&mut self, field: &str, need: Need, min: i64, max: i64) -> Option<i64> {
        let value = self.present(field, need)?;
        match check_integer(&value, min, max) {
            Ok(n) => Some(n),
            Err(msg) => {
                self.errors.add(field, msg);
                None
            }
        }
    }

    /// A nullable integer: `Some(None)` when the client sent null.
    pub fn nullable_integer(&mut self, field: &str, min: i64, max: i64) -> Option<Option<i64>> {
        match self.map.get(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => self.integer(field, Need::Optional, min, max).map(Some),
        }
    }

    pub fn uuid(&mut self, field: &str, need: Need) -> Option<Uuid32> {
        let value = self.present(field, need)?;
        match check_uuid(&value) {
            Ok(u) => Some(u),
            Err(msg) => {
                self.errors.add(field, msg);
                None
            }
        }
    }

    pub fn email(&mut self, field: &str, need: Need) -> Option<String> {
        let rule = Text {
            need,
            allow_blank: need == Need::Optional,
            max_len: 320,
        };
        let s = self.text(field, rule)?;
        if !s.is_empty() && !crate::domain::email::is_valid(&s) {
            self.errors.add(field, crate::domain::email::INVALID);
            return None;
        }
        Some(s)
    }

    /// Any JSON object, as DRF's JSONField/DictField takes it.
    pub fn object(&mut self, field: &str) -> Option<Map<String, Value>> {
        self.object_of(field, Need::Optional)
    }

    /// A resource's limits, read as upstream's `DictField(child=IntegerField(min_value=0))`;
    /// each bad entry's message under its key, as DRF nests them.
    pub fn limits(&mut self, field: &str, need: Need) -> Option<ResourceLimits> {
        let mut limits = Vec::new();
        let mut errors = Map::new();
        for (key, value) in self.object_of(field, need)? {
            let checked = match value {
                Value::Null => Err(NOT_NULL.to_string()),
                v => check_integer(&v, 0, i64::MAX),
            };
            match checked.and_then(|n| u64::try_from(n).map_err(|e| e.to_string())) {
                Ok(n) => limits.push((key, n)),
                Err(msg) => {
                    errors.insert(key, json!([msg]));
                }
            }
        }
        if errors.is_empty() {
            Some(limits.into_iter().collect())
        } else {
            self.errors.set(field, Value::Object(errors));
            None
        }
    }

    fn object_of(&mut self, field: &str, need: Need) -> Option<Map<String, Value>> {
        match self.present(field, need)? {
            Value::Object(m) => Some(m),
            other => {
                let msg = format!(
                    "Expected a dictionary of items but got type \"{}\".",
                    python_type(&other)
                );
                self.errors.add(field, msg);
                None
            }
        }
    }

    pub fn finish(self) -> ApiResult<()> {
        self.errors.check()
    }
}

pub fn check_text(value: &Value, rule: Text) -> Result<String, String> {
    let s = match value {
        Value::String(s) => s.clone(),
        // DRF's CharField coerces numbers to text.
        Value::Number(n) => n.to_string(),
        _ => return Err("Not a valid string.".into()),
    };
    let trimmed = s.trim().to_string();
    if trimmed.is_empty() && !rule.allow_blank {
        return Err("This field may not be blank.".into());
    }
    if trimmed.chars().count() > rule.max_len {
        return Err(format!(
            "Ensure this field has no more than {} characters.",
            rule.max_len
        ));
    }
    if trimmed.contains('\0') {
        return Err(NULL_CHARACTERS.into());
    }
    Ok(trimmed)
}

/// DRF's IntegerField: `int()` of the text of the value, with a decimal point followed by zeros
/// only dropped ("10.00"), then the range. Python's text of a float of 1e16 or more is in
/// exponent form, which `int()` refuses; its integers have no size limit, so a huge one is out
/// of range rather than invalid.
pub fn check_integer(value: &Value, min: i64, max: i64) -> Result<i64, String> {
    const INVALID: &str = "A valid integer is required.";
    let above = || format!("Ensure this value is less than or equal to {max}.");
    let below = || format!("Ensure this value is greater than or equal to {min}.");
    let n = match value {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i,
            (None, Some(_), _) => return Err(above()),
            (None, None, Some(f)) if f.fract() == 0.0 && f.abs() < 1.0e16 => f as i64,
            _ => return Err(INVALID.into()),
        },
        Value::String(s) => {
            let s = s.trim();
            let whole = match s.split_once('.') {
                Some((whole, zeros)) if zeros.bytes().all(|b| b == b'0') => whole,
                _ => s,
            };
            match whole.parse::<i64>() {
                Ok(n) => n,
                Err(e) => {
                    return Err(match e.kind() {
                        std::num::IntErrorKind::PosOverflow => above(),
                        std::num::IntErrorKind::NegOverflow => below(),
                        _ => INVALID.into(),
                    })
                }
            }
        }
        _ => return Err(INVALID.into()),
    };
    if n > max {
        return Err(format!("Ensure this value is less than or equal to {max}."));
    }
    if n < min {
        return Err(format!("Ensure this value is greater than or equal to {min}."));
    }
    Ok(n)
}

pub fn check_uuid(value: &Value) -> Result<Uuid32, String> {
    match value {
        Value::String(s) => s.parse().map_err(|e: crate::domain::ids::InvalidUuid| e.to_string()),
        _ => Err("Must be a valid UUID.".into()),
    }
}

/// The Python type name DRF quotes in its messages.
pub fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_read_as_drf_reads_them() {
        for (value, expected) in [
            (json!(10), 10),
            (json!(10.0), 10),
            (json!(" 7 "), 7),
            (json!("3.00"), 3),
        ] {
            assert_eq!(check_integer(&value, 0, 100), Ok(expected), "{value}");
        }
        for value in [
            json!(1.5),
            json!(1e300),
            json!(1e16),
            json!("1.50"),
            json!("ten"),
            json!(true),
            json!([]),
        ] {
            assert_eq!(
                check_integer(&value, 0, 100),
                Err("A valid integer is required.".to_string()),
                "{value}"
            );
        }
        assert_eq!(
            check_integer(&json!(-5), 0, 100),
            Err("Ensure this value is greater than or equal to 0.".to_string())
        );
        let above = Err("Ensure this value is less than or equal to 100.".to_string());
        assert_eq!(check_integer(&json!(18446744073709551615_u64), 0, 100), above);
        assert_eq!(check_integer(&json!("99999999999999999999"), 0, 100), above);
        assert_eq!(
            check_integer(&json!("-99999999999999999999"), 0, 100),
            Err("Ensure this value is greater than or equal to 0.".to_string())
        );
    }
}
