//! Tokenisation (`comparators.py`): n-grams of code points, exact, and numeric neighbourhoods.

use std::fmt::Write as _;

use crate::schema::{Comparison, NumericComparison};

/// Tokens of one value, stored end to end in one string to avoid an allocation per token.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    text: String,
    ends: Vec<usize>,
    chars: Vec<char>,
}

impl Tokens {
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let t = &self.text[start..end];
            start = end;
            t
        })
    }

    fn end_token(&mut self) {
        self.ends.push(self.text.len());
    }

    /// Cut `value` into tokens. An empty value gives no tokens.
    pub(crate) fn fill(&mut self, comparison: &Comparison, value: &str) -> Result<(), String> {
        self.clear();
        if value.is_empty() {
            return Ok(());
        }
        match comparison {
            Comparison::Exact => {
                self.text.push_str(value);
                self.end_token();
            }
            Comparison::Ngram { n, positional } => self.ngrams(value, *n, *positional),
            Comparison::Numeric(c) => self.numeric(c, value)?,
        }
        Ok(())
    }

    fn ngrams(&mut self, value: &str, n: usize, positional: bool) {
        let mut chars = std::mem::take(&mut self.chars);
        chars.clear();
        let pad = n.saturating_sub(1);
        chars.extend(std::iter::repeat_n(' ', pad));
        chars.extend(value.chars());
        chars.extend(std::iter::repeat_n(' ', pad));
        if chars.len() >= n {
            for i in 0..=chars.len() - n {
                if positional {
                    push_decimal(&mut self.text, i + 1);
                    self.text.push(' ');
                }
                self.text.extend(&chars[i..i + n]);
                self.end_token();
            }
        }
        self.chars = chars;
    }

    fn numeric(&mut self, c: &NumericComparison, value: &str) -> Result<(), String> {
        let p = c.fractional_precision;
        let scale = 10i128.pow(p);
        let overflow = || "number is too large for a numeric comparison".to_owned();
        let v: i128 = match crate::format::py_int_string(value).and_then(|s| s.parse::<i128>().ok())
        {
            Some(i) => i.checked_mul(scale).ok_or_else(overflow)?,
            None => {
                let f = py_float(value).ok_or_else(|| "expected a number".to_owned())?;
                let x = if p > 0 {
                    (f * scale as f64).round_ties_even()
                } else {
                    f.trunc()
                };
                if !x.is_finite() || x.abs() > 1e36 {
                    return Err(overflow());
                }
                x as i128
            }
        };
        let r = i128::from(c.resolution);
        let di = c.distance;
        let mut v = v.checked_mul(2 * r).ok_or_else(overflow)?;
        let res = v.rem_euclid(di);
        if res != 0 {
            // Python compares the int `res` with the float `di / 2`.
            if (res as f64) < di as f64 / 2.0 {
                v -= res;
            } else {
                v += di - res;
            }
        }
        for i in -r..=r {
            let t = v.checked_add(i * di).ok_or_else(overflow)?;
            let _ = write!(self.text, "{t}");
            self.end_token();
        }
        Ok(())
    }
}

/// Append the decimal digits of `n` (what `format!("{n}")` writes, without the formatting machinery).
pub(crate) fn push_decimal(out: &mut String, n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(buf[i..].iter().map(|&b| char::from(b)));
}

/// Python's `float(s)` for finite decimal numbers: surrounding white space, sign, digits with `_`
/// between them, a fraction and an exponent. `nan` and `inf` are refused (clkhash fails on them).
fn py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.contains("__") || t.starts_with('_') || t.ends_with('_') {
        return None;
    }
    // Underscores are allowed only between digits.
    let b = t.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_'
            && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            return None;
        }
    }
    let clean: String = t.chars().filter(|&c| c != '_').collect();
    if !clean
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    clean.parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Number;

    fn toks(c: &Comparison, v: &str) -> Vec<String> {
        let mut t = Tokens::default();
        t.fill(c, v).expect("tokens");
        t.iter().map(str::to_owned).collect()
    }

    #[test]
    fn decimals_are_written_like_display() {
        for n in [0usize, 7, 10, 99, 100, 12345, usize::MAX] {
            let mut s = String::from("x");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
    }

    #[test]
    fn bigrams_pad_both_sides() {
        let c = Comparison::Ngram {
            n: 2,
            positional: false,
        };
        assert_eq!(toks(&c, "alice"), [" a", "al", "li", "ic", "ce", "e "]);
        let p = Comparison::Ngram {
            n: 2,
            positional: true,
        };
        assert_eq!(toks(&p, "ab"), ["1  a", "2 ab", "3 b "]);
        assert!(toks(&c, "").is_empty());
        let u = Comparison::Ngram {
            n: 1,
            positional: false,
        };
        assert_eq!(toks(&u, "zoë"), ["z", "o", "ë"]);
    }

    #[test]
    fn numeric_tokens_follow_clkhash() {
        let c = Comparison::Numeric(NumericComparison {
            threshold_distance: Number::from(3),
            resolution: 2,
            fractional_precision: 0,
            distance: 3,
        });
        assert_eq!(toks(&c, "42"), ["162", "165", "168", "171", "174"]);
        let f = Comparison::Numeric(NumericComparison {
            threshold_distance: Number::from_f64(2.5).expect("finite"),
            resolution: 3,
            fractional_precision: 1,
            distance: 25,
        });
        assert_eq!(
            toks(&f, "70.25"),
            ["4125", "4150", "4175", "4200", "4225", "4250", "4275"]
        );
        let mut t = Tokens::default();
        assert!(t.fill(&c, "nan").is_err());
        assert!(t.fill(&c, "abc").is_err());
    }
}
