//! Reading one field of an API's JSON item the way APIs write it: ids as strings or numbers,
//! follower counts as numbers or numeric strings, times as text or epoch numbers. One copy for
//! every kind that reads JSON (`reddit`, `hackernews`, `json`, `file`, `push`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::parse_time;

/// A string field that is not blank.
pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

/// A string (trimmed, non-empty) or a number, as text: how APIs write ids and handles.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A count (followers): a non-negative number or a numeric string.
pub(crate) fn count(v: &Value) -> Option<u64> {
    let n = match v {
        Value::Number(n) => {
            return n.as_u64().or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
        }
        Value::String(s) => s.trim(),
        _ => return None,
    };
    n.parse::<u64>().ok().or_else(|| n.parse::<f64>().ok().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
}

/// A time: a string `parse_time` reads, or epoch seconds or milliseconds as a number.
pub(crate) fn time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => parse_time(s),
        Value::Number(n) => match n.as_i64() {
            Some(i) => parse_time(&i.to_string()),
            None => {
                let f = n.as_f64().filter(|f| f.is_finite())?;
                // Milliseconds if it is too large to be seconds of this era (as `parse_time`).
                let ms = if f > 100_000_000_000.0 { f } else { f * 1000.0 };
                DateTime::from_timestamp_millis(ms as i64)
            }
        },
        _ => None,
    }
}

/// A link: a non-blank string, trimmed.
pub(crate) fn link(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|u| !u.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_as_apis_write_them() {
        assert_eq!(scalar_text(&json!(" 17 ")), Some("17".into()));
        assert_eq!(scalar_text(&json!(17)), Some("17".into()));
        assert_eq!(scalar_text(&json!("")), None);
        assert_eq!(
            (count(&json!("1200")), count(&json!(1.2e3)), count(&json!(-1)), count(&json!("x"))),
            (Some(1200), Some(1200), None, None)
        );
        let t = DateTime::from_timestamp(1_714_557_773, 0);
        assert_eq!(
            (time(&json!(1_714_557_773)), time(&json!(1_714_557_773_000_i64)), time(&json!("2024-05-01T10:02:53Z"))),
            (t, t, t)
        );
        assert_eq!(str_field(&json!({"a": "  "}), "a"), None);
        assert_eq!(link(&json!(" https://x.example ")), Some("https://x.example".into()));
    }
}
