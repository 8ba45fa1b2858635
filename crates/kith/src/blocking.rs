//! Keyed blocking keys: what each holder computes at encode time so that the linkage party compares
//! only records that share a key (for example the Soundex code of the surname plus the year of
//! birth).
//!
//! A blocking key is declared in the schema's `kith.blocking` section as a list of parts, each a
//! feature and a transform of its normalised value. The parts are joined and turned into a 64-bit
//! HMAC token under the key's own purpose label, so the linkage party sees only which records share
//! a key, never the key's value. A record with any part missing has no token for that key.

use crate::normalize::{Normalized, Normalizer};

/// How one part of a blocking key is taken from a feature's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// The normalised value itself.
    Value,
    /// American Soundex of the first word of the normalised value (`"smith jones"` → `S530`).
    Soundex,
    /// The first character of the normalised value.
    Initial,
    /// The year of a date (the feature needs the `date` normaliser).
    Year,
    /// The day and month of a date, in either order (`03/04/1987` and `04/03/1988` both give
    /// `03-04`), so that a year typed one out or a swapped day and month keep the key (the
    /// feature needs the `date` normaliser).
    DayMonth,
    /// The outward code of a postcode (`SW1A 1AA` → `SW1A`; needs the `postcode` normaliser).
    PostcodeDistrict,
    /// The letters that start a postcode (`SW1A 1AA` → `SW`; needs the `postcode` normaliser).
    PostcodeArea,
}

impl Transform {
    /// Every transform, by its schema name.
    pub const ALL: [Transform; 7] = [
        Transform::Value,
        Transform::Soundex,
        Transform::Initial,
        Transform::Year,
        Transform::DayMonth,
        Transform::PostcodeDistrict,
        Transform::PostcodeArea,
    ];

    /// The name used in the schema.
    pub fn name(self) -> &'static str {
        match self {
            Transform::Value => "value",
            Transform::Soundex => "soundex",
            Transform::Initial => "initial",
            Transform::Year => "year",
            Transform::DayMonth => "day_month",
            Transform::PostcodeDistrict => "postcode_district",
            Transform::PostcodeArea => "postcode_area",
        }
    }

    /// The transform called `name`.
    pub fn from_name(name: &str) -> Option<Transform> {
        Transform::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The normaliser this transform needs on its feature, if any.
    pub fn needs(self) -> Option<&'static str> {
        match self {
            Transform::Year | Transform::DayMonth => Some("date"),
            Transform::PostcodeDistrict | Transform::PostcodeArea => Some("postcode"),
            _ => None,
        }
    }

    /// This part of a blocking key for one raw value, or `None` when it is missing or unreadable.
    pub fn apply(self, normalizer: Option<&Normalizer>, raw: &str) -> Option<String> {
        if let (Transform::Year, Some(Normalizer::Date(d))) = (self, normalizer) {
            return d.parse(raw).map(|ymd| format!("{:04}", ymd.year));
        }
        if let (Transform::DayMonth, Some(Normalizer::Date(d))) = (self, normalizer) {
            return d.parse(raw).map(|ymd| {
                let (lo, hi) = (ymd.day.min(ymd.month), ymd.day.max(ymd.month));
                format!("{lo:02}-{hi:02}")
            });
        }
        let value = match normalizer {
            Some(n) => match n.apply(raw) {
                Normalized::Value(v) => v.into_owned(),
                Normalized::Missing | Normalized::Invalid => return None,
            },
            None => match raw.trim() {
                "" => return None,
                v => v.to_owned(),
            },
        };
        match self {
            Transform::Value => Some(value),
            Transform::Soundex => soundex(value.split_whitespace().next()?),
            Transform::Initial => value.chars().next().map(String::from),
            // Without a date normaliser there is no date to read.
            Transform::Year | Transform::DayMonth => None,
            Transform::PostcodeDistrict => value.split(' ').next().map(str::to_owned),
            Transform::PostcodeArea => {
                let area: String = value
                    .chars()
                    .take_while(char::is_ascii_alphabetic)
                    .collect();
                (!area.is_empty()).then_some(area)
            }
        }
    }
}

/// American Soundex of the ASCII letters of `word`; `None` when it has none.
pub fn soundex(word: &str) -> Option<String> {
    fn code(c: u8) -> u8 {
        match c {
            b'b' | b'f' | b'p' | b'v' => b'1',
            b'c' | b'g' | b'j' | b'k' | b'q' | b's' | b'x' | b'z' => b'2',
            b'd' | b't' => b'3',
            b'l' => b'4',
            b'm' | b'n' => b'5',
            b'r' => b'6',
            b'h' | b'w' => b'h',
            _ => b'0', // vowels and y
        }
    }
    let mut letters = word
        .bytes()
        .filter(u8::is_ascii_alphabetic)
        .map(|b| b.to_ascii_lowercase());
    let first = letters.next()?;
    let mut out = vec![first.to_ascii_uppercase()];
    let mut last = code(first);
    for c in letters {
        let k = code(c);
        match k {
            b'h' => continue, // h and w do not separate letters with the same code
            b'0' => last = b'0',
            _ if k != last => {
                out.push(k);
                last = k;
                if out.len() == 4 {
                    break;
                }
            }
            _ => {}
        }
    }
    out.resize(4, b'0');
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::DateNormalizer;
    use proptest::prelude::*;

    #[test]
    fn soundex_matches_the_standard_examples() {
        for (w, s) in [
            ("Robert", "R163"),
            ("Rupert", "R163"),
            ("Rubin", "R150"),
            ("Ashcraft", "A261"),
            ("Ashcroft", "A261"),
            ("Tymczak", "T522"),
            ("Pfister", "P236"),
            ("Honeyman", "H555"),
            ("Lee", "L000"),
        ] {
            assert_eq!(soundex(w).as_deref(), Some(s), "{w}");
        }
        assert_eq!(soundex("123"), None);
    }

    #[test]
    fn transforms_read_normalised_values() {
        let date = Normalizer::Date(DateNormalizer::new(
            Vec::new(),
            crate::datefmt::DateFormat::parse("%Y-%m-%d").expect("format"),
        ));
        assert_eq!(
            Transform::Year.apply(Some(&date), "03/04/1987").as_deref(),
            Some("1987")
        );
        assert_eq!(Transform::Year.apply(Some(&date), "31/02/1987"), None);
        for d in ["03/04/1987", "04/03/1988", "1986-04-03"] {
            assert_eq!(
                Transform::DayMonth.apply(Some(&date), d).as_deref(),
                Some("03-04"),
                "{d}"
            );
        }
        assert_eq!(Transform::DayMonth.apply(None, "03/04/1987"), None);
        assert_eq!(
            Transform::Soundex
                .apply(Some(&Normalizer::Name), "Smith-Jones")
                .as_deref(),
            Some("S530")
        );
        assert_eq!(
            Transform::PostcodeDistrict
                .apply(Some(&Normalizer::Postcode), "sw1a1aa")
                .as_deref(),
            Some("SW1A")
        );
        assert_eq!(
            Transform::PostcodeArea
                .apply(Some(&Normalizer::Postcode), "sw1a1aa")
                .as_deref(),
            Some("SW")
        );
        assert_eq!(
            Transform::PostcodeArea.apply(Some(&Normalizer::Postcode), "ZZ99 3VZ"),
            None
        );
        assert_eq!(
            Transform::Initial.apply(None, "  zoe "),
            Some("z".to_owned())
        );
        assert_eq!(Transform::Value.apply(None, "  "), None);
    }

    proptest! {
        /// Soundex is four characters, a capital letter then three digits, and ignores case and
        /// anything that is not a letter.
        #[test]
        fn soundex_shape(w in "[a-zA-Z][a-zA-Z' -]{0,20}") {
            let s = soundex(&w).expect("has a letter");
            prop_assert_eq!(s.len(), 4);
            prop_assert!(s.as_bytes()[0].is_ascii_uppercase());
            prop_assert!(s[1..].bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(soundex(&w.to_uppercase()), Some(s.clone()));
            prop_assert_eq!(soundex(&w.replace(['\'', '-', ' '], "")), Some(s));
        }
    }
}
