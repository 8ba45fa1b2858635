//! clkhash's value formatting and validation (`FieldSpec.validate` and `format_value`).
//!
//! Validation only refuses values; formatting changes only integers (`str(int(v))`) and dates
//! (`strptime(v, format).strftime("%Y%m%d")`). Error messages never repeat the value.

use std::borrow::Cow;

use crate::datefmt::{DateFormat, push_clkhash_date};
use crate::schema::{Case, FeatureHashing, Format, TextEncoding};

/// Validate and format a value that is not the missing-value sentinel.
pub(crate) fn format_value<'a>(h: &FeatureHashing, v: &'a str) -> Result<Cow<'a, str>, String> {
    if h.encoding == TextEncoding::Ascii && !v.is_ascii() {
        return Err("expected a value that can be encoded in ascii".to_owned());
    }
    match &h.format {
        Format::String {
            pattern,
            case,
            min_length,
            max_length,
        } => {
            if let Some(p) = pattern {
                if !p.regex.is_match(v) {
                    return Err(format!(
                        "expected a value matching the pattern '{}'",
                        p.source
                    ));
                }
            } else {
                let len = if min_length.is_some() || max_length.is_some() {
                    v.chars().count() as u64
                } else {
                    0
                };
                if let Some(min) = min_length
                    && len < *min
                {
                    return Err(format!("expected at least {min} characters, found {len}"));
                }
                if let Some(max) = max_length
                    && len > *max
                {
                    return Err(format!("expected at most {max} characters, found {len}"));
                }
                match case {
                    Case::Upper if v.to_uppercase() != v => {
                        return Err("expected upper case".to_owned());
                    }
                    Case::Lower if v.to_lowercase() != v => {
                        return Err("expected lower case".to_owned());
                    }
                    _ => {}
                }
            }
            Ok(Cow::Borrowed(v))
        }
        Format::Integer { minimum, maximum } => {
            let digits = py_int_string(v).ok_or_else(|| "expected a base-10 integer".to_owned())?;
            if minimum.is_some() || maximum.is_some() {
                // A value too long for i128 is beyond any i64 bound.
                let n: Option<i128> = digits.parse().ok();
                let negative = digits.starts_with('-');
                if let Some(min) = minimum
                    && n.map_or(negative, |n| n < i128::from(*min))
                {
                    return Err(format!("expected an integer of at least {min}"));
                }
                if let Some(max) = maximum
                    && n.map_or(!negative, |n| n > i128::from(*max))
                {
                    return Err(format!("expected an integer of at most {max}"));
                }
            }
            Ok(digits)
        }
        Format::Date(f) => {
            let mut s = String::with_capacity(8);
            format_date_into(f, v, &mut s)?;
            Ok(Cow::Owned(s))
        }
        Format::Enum(values) => {
            if values.iter().any(|x| x == v) {
                Ok(Cow::Borrowed(v))
            } else {
                Err(format!("expected one of the enum values {values:?}"))
            }
        }
    }
}

/// A date value as clkhash formats it (`strptime(v, format).strftime("%Y%m%d")`), appended to
/// `out`.
pub(crate) fn format_date_into(f: &DateFormat, v: &str, out: &mut String) -> Result<(), String> {
    let d = f
        .parse_date(v)
        .ok_or_else(|| format!("expected a date in the format '{}'", f.as_str()))?;
    push_clkhash_date(d, out);
    Ok(())
}

/// Python's `str(int(s, 10))`: surrounding white space, one sign, `_` between digits; leading
/// zeros dropped and `-0` written `0`. `None` where Python raises. (Python also reads non-ASCII
/// decimal digits; kith refuses them.)
pub(crate) fn py_int_string(s: &str) -> Option<Cow<'_, str>> {
    let b = s.as_bytes();
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) && (b[0] != b'0' || b.len() == 1) {
        return Some(Cow::Borrowed(s)); // already as Python writes it: no copy
    }
    let t = s.trim();
    let (negative, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    let digits: String = body.chars().filter(|&c| c != '_').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    Some(Cow::Owned(match (trimmed.is_empty(), negative) {
        (true, _) => "0".to_owned(),
        (false, true) => format!("-{trimmed}"),
        (false, false) => trimmed.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers_are_read_as_python_reads_them() {
        for (s, want) in [
            ("+042", "42"),
            ("0800", "800"),
            (" 2000", "2000"),
            ("-0", "0"),
            ("1_000", "1000"),
            ("-007", "-7"),
            // Already canonical: returned as it is.
            ("42", "42"),
            ("0", "0"),
            ("00", "0"),
            ("9007199254740993123", "9007199254740993123"),
        ] {
            assert_eq!(py_int_string(s).as_deref(), Some(want), "{s}");
        }
        for s in ["", " ", "1.5", "_1", "1_", "1__0", "--1", "0x10", "+"] {
            assert_eq!(py_int_string(s), None, "{s}");
        }
    }

    proptest! {
        #[test]
        fn integer_strings_round_trip(n in any::<i64>(), zeros in 0usize..4, plus in any::<bool>()) {
            let sign = if n < 0 { "-" } else if plus { "+" } else { "" };
            let s = format!(" {sign}{}{} ", "0".repeat(zeros), n.unsigned_abs());
            let (got, want) = (py_int_string(&s), n.to_string());
            prop_assert_eq!(got.as_deref(), Some(want.as_str()));
        }
    }
}
