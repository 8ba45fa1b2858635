//! Small helpers for walking a `serde_json::Value` while keeping the JSON path of where we are, so
//! that every schema error can name the exact field (`$.features[2].hashing.strategy`).

use std::fmt;

use serde_json::{Map, Value};

use crate::error::SchemaError;

/// A JSON path such as `$.features[2].format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JPath(String);

impl JPath {
    pub(crate) fn root() -> Self {
        JPath("$".to_owned())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        let simple = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if simple {
            JPath(format!("{}.{key}", self.0))
        } else {
            JPath(format!("{}[{}]", self.0, Value::String(key.to_owned())))
        }
    }

    pub(crate) fn idx(&self, i: usize) -> Self {
        JPath(format!("{}[{i}]", self.0))
    }

    pub(crate) fn err(&self, message: impl Into<String>) -> SchemaError {
        SchemaError::new(self, message)
    }
}

impl fmt::Display for JPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A short description of a JSON value's type, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn as_object<'a>(
    v: &'a Value,
    p: &JPath,
) -> Result<&'a Map<String, Value>, SchemaError> {
    v.as_object()
        .ok_or_else(|| p.err(format!("expected an object, found {}", kind(v))))
}

pub(crate) fn required<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    p: &JPath,
) -> Result<&'a Value, SchemaError> {
    m.get(key)
        .ok_or_else(|| p.err(format!("required property `{key}` is missing")))
}

pub(crate) fn no_other_keys(
    m: &Map<String, Value>,
    allowed: &[&str],
    p: &JPath,
) -> Result<(), SchemaError> {
    for key in m.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(p.key(key).err(format!(
                "unexpected property `{key}` (allowed here: {})",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

pub(crate) fn as_str<'a>(v: &'a Value, p: &JPath) -> Result<&'a str, SchemaError> {
    v.as_str()
        .ok_or_else(|| p.err(format!("expected a string, found {}", kind(v))))
}

pub(crate) fn as_bool(v: &Value, p: &JPath) -> Result<bool, SchemaError> {
    v.as_bool()
        .ok_or_else(|| p.err(format!("expected a boolean, found {}", kind(v))))
}

/// An integer no smaller than `min`. JSON numbers with a fraction (even `.0`) are refused.
pub(crate) fn as_int(v: &Value, p: &JPath, min: i64) -> Result<i64, SchemaError> {
    let n = v.as_i64().ok_or_else(|| match v {
        Value::Number(n) if n.is_u64() => p.err("integer is too large"),
        _ => p.err(format!("expected an integer, found {}", kind(v))),
    })?;
    if n < min {
        return Err(p.err(format!("must be at least {min}, found {n}")));
    }
    Ok(n)
}

/// A number (integer or not) as f64.
pub(crate) fn as_number(v: &Value, p: &JPath) -> Result<f64, SchemaError> {
    v.as_f64()
        .ok_or_else(|| p.err(format!("expected a number, found {}", kind(v))))
}

pub(crate) fn opt<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_keys_and_indices() {
        let p = JPath::root().key("features").idx(2).key("hashing");
        assert_eq!(p.to_string(), "$.features[2].hashing");
        assert_eq!(JPath::root().key("a b").to_string(), "$[\"a b\"]");
    }

    #[test]
    fn fractional_integers_are_refused() {
        let p = JPath::root();
        assert!(as_int(&serde_json::json!(3.0), &p, 0).is_err());
        assert_eq!(as_int(&serde_json::json!(3), &p, 0), Ok(3));
        assert!(as_int(&serde_json::json!(-1), &p, 0).is_err());
    }
}
