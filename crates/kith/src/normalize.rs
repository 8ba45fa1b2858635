//! Opt-in normalisers, applied to a raw value before clkhash's own formatting.
//!
//! Each normaliser turns the many ways an old system writes a value into one canonical form, or
//! says the value is missing (empty, or a code that means "unknown") or invalid (it cannot be read;
//! invalid values are treated as missing and counted separately).

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::datefmt::{DateFormat, Ymd};

/// A normaliser, as named in the schema's `kith.normalize` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalizer {
    /// Personal names: NFKC, diacritics folded, case-folded, punctuation dropped.
    Name,
    /// Forenames: as [`Normalizer::Name`], then each common diminutive replaced by the full name
    /// (Bill by William, Trish by Patricia; see `data/nicknames.txt`).
    Forename,
    /// Dates in the usual UK forms (and any configured `strptime` formats) to one canonical form.
    Date(DateNormalizer),
    /// UK postcodes: upper case, one space before the inward code; ZZ99 pseudo-postcodes are missing.
    Postcode,
    /// NHS numbers: spaces and dashes removed, modulus-11 check digit verified.
    NhsNumber,
    /// Sex codes (M/F/Male/Female/1/2, U and other "unknown" codes) to `m` or `f`.
    Sex,
    /// The premise of an address line: its house and flat numbers (`"Flat 3, 12A Mill Lane"` gives
    /// `"3/12A"`), or, with no number, its first part's words (`"Rose Cottage, Mill Lane"` gives
    /// `"ROSE COTTAGE"`). With the postcode it tells one dwelling from its neighbours.
    Premise,
    /// A yes/no flag: `1`, `y`, `yes`, `true`, `t` give `"1"`; `0`, `n`, `no`, `false`, `f` and an
    /// empty value give `"0"`; anything else is invalid.
    Flag,
}

/// The outcome of normalising one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalized<'a> {
    /// The canonical value.
    Value(Cow<'a, str>),
    /// Empty, or a code that means unknown.
    Missing,
    /// Present but unreadable (a date that does not exist, a failed check digit).
    Invalid,
}

/// Options of the date normaliser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateNormalizer {
    /// Formats tried before the built-in ones, in order.
    pub formats: Vec<DateFormat>,
    /// The canonical form written out.
    pub output: DateFormat,
}

/// Built-in input date formats, tried after any configured ones.
pub const DEFAULT_DATE_FORMATS: &[&str] = &[
    "%d/%m/%Y",
    "%Y-%m-%d",
    "%d-%b-%Y",
    "%d%m%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
];

impl DateNormalizer {
    /// A date normaliser with extra input formats and the given canonical output format.
    pub fn new(formats: Vec<DateFormat>, output: DateFormat) -> Self {
        DateNormalizer { formats, output }
    }

    /// Read a date in any accepted input format.
    pub fn parse(&self, raw: &str) -> Option<Ymd> {
        let v = raw.trim();
        if let Some(d) = self.formats.iter().find_map(|f| f.parse_date(v)) {
            return Some(d);
        }
        builtin_formats().iter().find_map(|f| f.parse_date(v))
    }
}

fn builtin_formats() -> &'static [DateFormat] {
    static FORMATS: std::sync::OnceLock<Vec<DateFormat>> = std::sync::OnceLock::new();
    FORMATS.get_or_init(|| {
        DEFAULT_DATE_FORMATS
            .iter()
            .filter_map(|f| DateFormat::parse(f).ok())
            .collect()
    })
}

impl Normalizer {
    /// This normaliser as one holder reads its column: a date normaliser tries the holder's own
    /// date formats (from its mapping) before the schema's.
    pub fn with_formats(
        n: Option<&Normalizer>,
        extra: Option<&Vec<DateFormat>>,
    ) -> Option<Normalizer> {
        match (n, extra) {
            (Some(Normalizer::Date(d)), Some(extra)) => {
                let mut formats = extra.clone();
                formats.extend(d.formats.iter().cloned());
                Some(Normalizer::Date(DateNormalizer::new(
                    formats,
                    d.output.clone(),
                )))
            }
            (n, _) => n.cloned(),
        }
    }

    /// The normaliser's name in the schema.
    pub fn name(&self) -> &'static str {
        match self {
            Normalizer::Name => "name",
            Normalizer::Forename => "forename",
            Normalizer::Date(_) => "date",
            Normalizer::Postcode => "postcode",
            Normalizer::NhsNumber => "nhs_number",
            Normalizer::Sex => "sex",
            Normalizer::Premise => "premise",
            Normalizer::Flag => "flag",
        }
    }

    /// Normalise one raw value.
    pub fn apply<'a>(&self, raw: &'a str) -> Normalized<'a> {
        if let Normalizer::Flag = self {
            return flag(raw);
        }
        if raw.trim().is_empty() {
            return Normalized::Missing;
        }
        match self {
            Normalizer::Name => match name(raw) {
                s if s.is_empty() => Normalized::Missing,
                s => Normalized::Value(Cow::Owned(s)),
            },
            Normalizer::Forename => match forename(raw) {
                s if s.is_empty() => Normalized::Missing,
                s => Normalized::Value(Cow::Owned(s)),
            },
            Normalizer::Date(d) => match d.parse(raw) {
                Some(date) => Normalized::Value(Cow::Owned(d.output.format_date(date))),
                None => Normalized::Invalid,
            },
            Normalizer::Postcode => postcode(raw),
            Normalizer::NhsNumber => nhs_number(raw),
            Normalizer::Sex => sex(raw),
            Normalizer::Premise => match premise(raw) {
                s if s.is_empty() => Normalized::Missing,
                s => Normalized::Value(Cow::Owned(s)),
            },
            Normalizer::Flag => flag(raw),
        }
    }
}

/// A yes/no flag to `"1"` or `"0"` (empty is `"0"`: extracts mark what holds and leave the rest
/// blank).
fn flag(raw: &str) -> Normalized<'static> {
    let v = raw.trim();
    let is = |words: &[&str]| words.iter().any(|w| v.eq_ignore_ascii_case(w));
    if v.is_empty() || is(&["0", "n", "no", "false", "f"]) {
        Normalized::Value(Cow::Borrowed("0"))
    } else if is(&["1", "y", "yes", "true", "t"]) {
        Normalized::Value(Cow::Borrowed("1"))
    } else {
        Normalized::Invalid
    }
}

/// The premise of an address line: its numbers (a digit run with at most one letter straight
/// after it, `12A`; `12-14` gives `12/14`) joined by `/` in order, upper case; with no number, the
/// words of its first comma-separated part (as [`name`] makes them, upper case). Street names,
/// towns and the word "Flat" are dropped, so `"Flat 3, Mill House, Mill Lane"`, `"FLAT 3 MILL
/// HOUSE"` and `"3 Mill House"` are one premise, and `"12 Mill Lane"` and `"12, Mill Ln"` another.
pub fn premise(raw: &str) -> String {
    let folded = name(raw);
    let mut out = String::new();
    let mut chars = folded.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_ascii_digit() {
            continue;
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push(c);
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() {
                out.push(d);
                chars.next();
            } else {
                break;
            }
        }
        // One letter straight after the number, and not the start of a word (12a, not 12 and).
        let mut ahead = chars.clone();
        if let Some(l) = ahead.next()
            && l.is_alphabetic()
            && ahead.next().is_none_or(|n| !n.is_alphanumeric())
        {
            out.extend(l.to_uppercase());
            chars.next();
        }
    }
    if out.is_empty() {
        let first = raw.split(',').next().unwrap_or("");
        out = name(first).to_uppercase();
    }
    out
}

/// Words of an address line that name a unit, not a street.
const UNIT_WORDS: &[&str] = &["flat", "flats", "apartment", "apt", "unit", "no", "and"];

/// The street word of an address line: its first word that is neither a number (`12`, `12a`), a
/// lone letter, nor a word such as "Flat" that names a unit, upper case, with `ST` read as
/// `SAINT`. Two dwellings in one postcode with one premise (`"12 Mill Lane"` and `"Flat 12, Oak
/// House"`) differ in it, while the ways one system or another writes an address (`"Flat 3, Mill
/// House, Mill Lane"`, `"3 MILL HOUSE MILL LANE"`) agree. `None` when the line has no such word.
pub fn street(raw: &str) -> Option<String> {
    let folded = name(raw);
    let word = folded.split(' ').find(|w| {
        w.chars().count() > 1 && !w.chars().any(|c| c.is_ascii_digit()) && !UNIT_WORDS.contains(w)
    })?;
    Some(if word == "st" {
        "SAINT".to_owned()
    } else {
        word.to_uppercase()
    })
}

/// Fold a letter that has no Unicode decomposition into its usual ASCII spelling.
fn fold_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' | 'ẞ' => "ss",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ø' | 'Ø' => "o",
        'ł' | 'Ł' => "l",
        'đ' | 'Đ' | 'ð' | 'Ð' => "d",
        'þ' | 'Þ' => "th",
        'ı' => "i",
        'ħ' | 'Ħ' => "h",
        'ŧ' | 'Ŧ' => "t",
        _ => return None,
    })
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | '‘' | '`' | '´' | 'ʼ' | 'ʻ' | '′')
}

/// Normalise a personal name: `"  Zoë  O'Brien-Smith "` becomes `"zoe obrien smith"`.
///
/// NFKC first (so full-width and ligature forms become plain letters), then diacritics are removed
/// (canonical decomposition without combining marks, plus a few letters such as ß and ø that do not
/// decompose), then case-folding. Apostrophes vanish (O'Brien = OBrien); hyphens and other punctuation
/// separate words; white space is collapsed to single spaces and trimmed.
pub fn name(raw: &str) -> String {
    if raw.is_ascii() {
        ascii_name(raw)
    } else {
        unicode_name(raw)
    }
}

/// [`name`] of any text.
fn unicode_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.nfkc().flat_map(|c| c.to_lowercase()).nfd() {
        if is_combining_mark(c) || is_apostrophe(c) {
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            match fold_letter(c) {
                Some(s) => out.push_str(s),
                None => out.extend(c.to_lowercase()),
            }
        } else {
            pending_space = true;
        }
    }
    out
}

/// [`name`] of ASCII text, which NFKC and NFD leave as it is and which has no combining marks nor
/// letters to fold: most names are, and the Unicode passes would be most of a name's normalising.
fn ascii_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.chars() {
        if is_apostrophe(c) {
            continue;
        }
        if c.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// Diminutive to full name, from `data/nicknames.txt`.
fn nicknames() -> &'static rustc_hash::FxHashMap<&'static str, &'static str> {
    static MAP: std::sync::OnceLock<rustc_hash::FxHashMap<&'static str, &'static str>> =
        std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        include_str!("../data/nicknames.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .flat_map(|(full, short)| short.split_whitespace().map(move |s| (s, full.trim())))
            .collect()
    })
}

/// Normalise a forename: [`name`], then every word that is a common diminutive with only one
/// full form becomes that form: `"Bill"` becomes `"william"`, `"Trish Ann"` `"patricia ann"`.
/// Diminutives of several names (Sam, Alex, Chris) and diminutives that are names in their own
/// right (Harry, Jack, Ellie) are left as they are.
pub fn forename(raw: &str) -> String {
    let plain = name(raw);
    if !plain.split(' ').any(|w| nicknames().contains_key(w)) {
        return plain;
    }
    plain
        .split(' ')
        .map(|w| nicknames().get(w).copied().unwrap_or(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Normalise a UK postcode to `"SW1A 1AA"` form.
///
/// Valid outward codes are A9, A99, A9A, AA9, AA99 and AA9A; the inward code is 9AA. `GIR 0AA` is
/// accepted. Pseudo-postcodes beginning ZZ99 (no fixed abode, abroad, unknown) are missing.
pub fn postcode(raw: &str) -> Normalized<'static> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(|c| c.to_uppercase())
        .collect();
    // Pseudo-postcodes have the outward code ZZ99 (ZZ99 3VZ: no fixed abode, ZZ99 3CZ: England,
    // address unknown, …). "ZZ9 9AB" is an ordinary shape and is not one of them.
    if compact.len() == 7 && compact.starts_with("ZZ99") {
        return Normalized::Missing;
    }
    if compact == "GIR0AA" {
        return Normalized::Value(Cow::Borrowed("GIR 0AA"));
    }
    let b = compact.as_bytes();
    if !(5..=7).contains(&b.len()) || !compact.is_ascii() {
        return Normalized::Invalid;
    }
    let (outward, inward) = b.split_at(b.len() - 3);
    let inward_ok = inward[0].is_ascii_digit() && inward[1..].iter().all(u8::is_ascii_alphabetic);
    let shape: String = outward
        .iter()
        .map(|c| {
            if c.is_ascii_digit() {
                '9'
            } else if c.is_ascii_alphabetic() {
                'A'
            } else {
                '?'
            }
        })
        .collect();
    let outward_ok = matches!(
        shape.as_str(),
        "A9" | "A99" | "A9A" | "AA9" | "AA99" | "AA9A"
    );
    if !(inward_ok && outward_ok) {
        return Normalized::Invalid;
    }
    Normalized::Value(Cow::Owned(format!(
        "{} {}",
        &compact[..outward.len()],
        &compact[outward.len()..]
    )))
}

/// Normalise an NHS number to ten digits, checking the modulus-11 check digit.
///
/// Spaces and dashes are removed. Numbers whose check digit fails, and the dummy numbers made of one
/// repeated digit (such as 999 999 9999, which passes the check), are invalid.
pub fn nhs_number(raw: &str) -> Normalized<'static> {
    let digits: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Normalized::Invalid;
    }
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    if d.iter().all(|&x| x == d[0]) {
        return Normalized::Invalid;
    }
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return Normalized::Invalid,
        c => c,
    };
    if check != d[9] {
        return Normalized::Invalid;
    }
    Normalized::Value(Cow::Owned(digits))
}

/// Normalise a sex code to `m` or `f`; codes for unknown or not stated are missing.
pub fn sex(raw: &str) -> Normalized<'static> {
    let v = raw.trim().to_lowercase();
    match v.as_str() {
        "m" | "male" | "1" | "man" => Normalized::Value(Cow::Borrowed("m")),
        "f" | "female" | "2" | "woman" => Normalized::Value(Cow::Borrowed("f")),
        "u" | "unknown" | "0" | "9" | "x" | "n" | "not known" | "not specified" | "not stated"
        | "i" | "indeterminate" => Normalized::Missing,
        _ => Normalized::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> Normalized<'static> {
        Normalized::Value(Cow::Owned(s.to_owned()))
    }

    #[test]
    fn names_fold_diacritics_case_and_punctuation() {
        assert_eq!(name("Zoë"), "zoe");
        assert_eq!(name("ZOE"), "zoe");
        assert_eq!(name("  Zoë   O'Brien-Smith "), "zoe obrien smith");
        assert_eq!(name("O’Neil"), "oneil");
        assert_eq!(name("Strauß"), "strauss");
        assert_eq!(name("Søren Kierkegård"), "soren kierkegard");
        assert_eq!(name("ＪＯＨＮ"), "john"); // full-width
        assert_eq!(name("St. John"), "st john");
        assert_eq!(name("José María"), "jose maria");
        assert_eq!(name("Łukasz"), "lukasz");
        assert_eq!(Normalizer::Name.apply(" -' "), Normalized::Missing);
    }

    #[test]
    fn forenames_replace_diminutives_with_one_full_form() {
        assert_eq!(forename("Bill"), "william");
        assert_eq!(forename("TRISH"), "patricia");
        assert_eq!(forename("Becky-Jo"), "rebecca jo");
        assert_eq!(forename("Steve"), "stephen");
        assert_eq!(forename("Steven"), "steven", "a full name stays");
        assert_eq!(forename("Mohamed"), "muhammad", "a spelling of one name");
        assert_eq!(
            forename("Mo"),
            "muhammad",
            "its commonest full name in UK extracts"
        );
        for kept in [
            "Sam", "Alex", "Chris", "Harry", "Jack", "Ellie", "Theo", "Nicky",
        ] {
            assert_eq!(
                forename(kept),
                name(kept),
                "{kept} stands for several names or itself"
            );
        }
        assert_eq!(Normalizer::Forename.apply("  "), Normalized::Missing);
        // The table: lower-case ASCII words, each diminutive once, and never a full name too.
        let map = nicknames();
        assert!(map.len() > 80);
        let mut seen = std::collections::HashSet::new();
        for line in include_str!("../data/nicknames.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
        {
            let (full, short) = line.split_once(':').expect("full: diminutives");
            for w in std::iter::once(full).chain(short.split_whitespace()) {
                assert!(w.bytes().all(|b| b.is_ascii_lowercase()), "{w:?}");
            }
            assert!(
                !map.contains_key(full),
                "{full} is both a full name and a diminutive"
            );
            for d in short.split_whitespace() {
                assert!(seen.insert(d), "{d} is listed twice");
            }
        }
    }

    #[test]
    fn dates_read_uk_forms() {
        let n = Normalizer::Date(DateNormalizer::new(
            vec![],
            DateFormat::parse("%Y-%m-%d").expect("format"),
        ));
        for raw in [
            "21/03/1985",
            "1985-03-21",
            "21-Mar-1985",
            "21031985",
            " 21/3/1985 ",
            "21-MAR-1985",
        ] {
            assert_eq!(n.apply(raw), v("1985-03-21"), "{raw}");
        }
        assert_eq!(n.apply("31/02/1985"), Normalized::Invalid);
        assert_eq!(n.apply("yesterday"), Normalized::Invalid);
        assert_eq!(n.apply(""), Normalized::Missing);
    }

    #[test]
    fn configured_date_formats_come_first_and_output_follows_the_feature() {
        let n = Normalizer::Date(DateNormalizer::new(
            vec![DateFormat::parse("%m/%d/%Y").expect("format")],
            DateFormat::parse("%d%m%Y").expect("format"),
        ));
        assert_eq!(n.apply("03/21/1985"), v("21031985"));
        assert_eq!(n.apply("1985-03-21"), v("21031985"));
    }

    #[test]
    fn postcodes_take_the_six_formats() {
        for (raw, want) in [
            ("m1 1aa", "M1 1AA"),
            ("M601NW", "M60 1NW"),
            ("cr2 6xh", "CR2 6XH"),
            ("DN55 1PT", "DN55 1PT"),
            ("w1a1hq", "W1A 1HQ"),
            ("EC1A  1BB", "EC1A 1BB"),
            ("gir 0aa", "GIR 0AA"),
        ] {
            assert_eq!(postcode(raw), v(want), "{raw}");
        }
        assert_eq!(postcode("ZZ99 3VZ"), Normalized::Missing);
        assert_eq!(postcode("zz993cz"), Normalized::Missing);
        assert_eq!(
            postcode("ZZ9 9AB"),
            v("ZZ9 9AB"),
            "outward ZZ9 is not a pseudo-postcode"
        );
        assert_eq!(postcode("12345"), Normalized::Invalid);
        assert_eq!(postcode("SW1A"), Normalized::Invalid);
        assert_eq!(postcode("AAA1 1AA"), Normalized::Invalid);
    }

    #[test]
    fn nhs_numbers_are_checked() {
        assert_eq!(nhs_number("943 476 5919"), v("9434765919"));
        assert_eq!(nhs_number("943-476-5919"), v("9434765919"));
        assert_eq!(nhs_number("9434765918"), Normalized::Invalid);
        assert_eq!(nhs_number("999 999 9999"), Normalized::Invalid);
        assert_eq!(nhs_number("94347659"), Normalized::Invalid);
        assert_eq!(nhs_number("94347659x9"), Normalized::Invalid);
    }

    #[test]
    fn sex_codes_map_to_one_form() {
        for raw in ["M", "m", "Male", "1", " MALE "] {
            assert_eq!(sex(raw), v("m"));
        }
        for raw in ["F", "female", "2"] {
            assert_eq!(sex(raw), v("f"));
        }
        assert_eq!(sex("U"), Normalized::Missing);
        assert_eq!(sex("9"), Normalized::Missing);
        assert_eq!(sex("banana"), Normalized::Invalid);
    }

    /// The modulus-11 check digit, computed independently of `nhs_number`.
    fn with_check_digit(nine: &[u8]) -> Option<String> {
        let sum: u32 = nine
            .iter()
            .enumerate()
            .map(|(i, &d)| u32::from(d) * (10 - i as u32))
            .sum();
        let c = (11 - sum % 11) % 11;
        (c != 10).then(|| {
            nine.iter()
                .map(|d| char::from(b'0' + d))
                .collect::<String>()
                + &c.to_string()
        })
    }

    proptest! {
        #[test]
        fn ascii_names_take_the_unicode_path_result(s in "[ -~\t\n]{0,40}") {
            prop_assert_eq!(ascii_name(&s), unicode_name(&s));
        }

        #[test]
        fn name_is_idempotent_and_canonical(s in "\\PC{0,40}") {
            let once = name(&s);
            prop_assert_eq!(name(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
            prop_assert!(once.chars().all(|c| c == ' ' || c.is_alphanumeric()));
        }

        #[test]
        fn forename_is_name_with_diminutives_replaced(s in "[a-zA-Z '-]{0,30}") {
            let f = forename(&s);
            prop_assert_eq!(forename(&f), f.clone(), "idempotent");
            let n = name(&s);
            prop_assert_eq!(f.split(' ').count(), n.split(' ').count());
            for (a, b) in f.split(' ').zip(n.split(' ')) {
                prop_assert_eq!(a, nicknames().get(b).copied().unwrap_or(b));
            }
        }

        #[test]
        fn name_ignores_case_and_latin_accents(s in "[a-zA-Z àáâäçèéêëìíîïñòóôöùúûüýÿ'-]{0,30}") {
            let plain: String = s.nfd().filter(|c| !is_combining_mark(*c)).collect();
            prop_assert_eq!(name(&s.to_uppercase()), name(&s));
            prop_assert_eq!(name(&plain), name(&s));
        }

        #[test]
        fn valid_nhs_numbers_survive_spacing(nine in proptest::collection::vec(0u8..10, 9), dashes in any::<bool>()) {
            if let Some(n) = with_check_digit(&nine) {
                let sep = if dashes { "-" } else { " " };
                let spaced = format!("{}{sep}{}{sep}{}", &n[..3], &n[3..6], &n[6..]);
                let same_digit = n.bytes().all(|b| b == n.as_bytes()[0]);
                let got = nhs_number(&spaced);
                if same_digit {
                    prop_assert_eq!(got, Normalized::Invalid);
                } else {
                    prop_assert_eq!(got, v(&n));
                    // Any single changed digit breaks the check.
                    let mut bad = n.clone().into_bytes();
                    bad[4] = b'0' + (bad[4] - b'0' + 1) % 10;
                    prop_assert_eq!(nhs_number(std::str::from_utf8(&bad).unwrap_or_default()), Normalized::Invalid);
                }
            }
        }

        #[test]
        fn postcode_output_is_stable(out in "[A-Z]{1,2}[0-9]{1,2}", inward in "[0-9][A-Z]{2}", spaces in " {0,3}") {
            let raw = format!("{}{spaces}{}", out.to_lowercase(), inward);
            let got = postcode(&raw);
            if out == "ZZ99" {
                prop_assert_eq!(got, Normalized::Missing);
            } else {
                let want = format!("{out} {inward}");
                prop_assert_eq!(&got, &v(&want));
                prop_assert_eq!(postcode(&want), got);
            }
        }

        #[test]
        fn dates_in_any_builtin_form_agree(y in 1900i16..2030, m in 1i8..=12, d in 1i8..=28) {
            let n = DateNormalizer::new(vec![], DateFormat::parse("%Y-%m-%d").expect("format"));
            let want = Some(Ymd { year: y, month: m, day: d });
            let mon = ["Jan","Feb","Mar","Apr","May","Jun","Jul","Aug","Sep","Oct","Nov","Dec"][(m - 1) as usize];
            for raw in [
                format!("{d:02}/{m:02}/{y}"),
                format!("{y}-{m:02}-{d:02}"),
                format!("{d:02}-{mon}-{y}"),
                format!("{d:02}{m:02}{y}"),
            ] {
                prop_assert_eq!(n.parse(&raw), want, "{}", raw);
            }
        }

        #[test]
        fn a_premise_is_its_numbers_whatever_the_street_case_and_punctuation(
            flat in proptest::option::of(1u32..200),
            house in 1u32..400,
            suffix in proptest::option::of("[A-D]"),
            street in "[A-Za-z]{3,12}( [A-Za-z]{2,8})?",
            upper in any::<bool>(),
            comma in any::<bool>(),
        ) {
            let number = format!("{house}{}", suffix.clone().unwrap_or_default());
            let line = match flat {
                Some(f) => format!("Flat {f}{} {number} {street}", if comma { "," } else { "" }),
                None => format!("{number}{} {street}", if comma { "," } else { "" }),
            };
            let line = if upper { line.to_uppercase() } else { line.to_lowercase() };
            let want = match flat {
                Some(f) => format!("{f}/{house}{}", suffix.unwrap_or_default()),
                None => format!("{house}{}", suffix.unwrap_or_default()),
            };
            prop_assert_eq!(premise(&line), want);
        }

        #[test]
        fn a_street_word_is_the_same_however_the_line_is_written(
            flat in proptest::option::of(1u32..200),
            house in 1u32..400,
            word in "[A-Za-z]{2,12}",
            rest in "( [A-Za-z]{2,8})?",
            upper in any::<bool>(),
            comma in any::<bool>(),
        ) {
            let lower = word.to_lowercase();
            prop_assume!(lower != "st" && !UNIT_WORDS.contains(&lower.as_str()));
            let sep = if comma { "," } else { "" };
            let line = match flat {
                Some(f) => format!("Flat {f}{sep} {house}{sep} {word}{rest}"),
                None => format!("{house}{sep} {word}{rest}"),
            };
            let line = if upper { line.to_uppercase() } else { line.to_lowercase() };
            prop_assert_eq!(street(&line), Some(word.to_uppercase()));
        }

        #[test]
        fn a_flag_reads_only_yes_no_words(raw in "\\PC{0,6}") {
            match Normalizer::Flag.apply(&raw) {
                Normalized::Value(v) => {
                    let t = raw.trim().to_ascii_lowercase();
                    let yes = ["1", "y", "yes", "true", "t"].contains(&t.as_str());
                    let no = ["", "0", "n", "no", "false", "f"].contains(&t.as_str());
                    prop_assert!(yes || no, "{:?}", raw);
                    prop_assert_eq!(v.as_ref(), if yes { "1" } else { "0" });
                }
                Normalized::Invalid => prop_assert!(!["", "0", "1", "y", "n", "yes", "no", "true", "false", "t", "f"].contains(&raw.trim().to_ascii_lowercase().as_str())),
                Normalized::Missing => prop_assert!(false, "a flag is never missing"),
            }
        }
    }

    #[test]
    fn a_street_word_skips_numbers_and_unit_words_and_tells_streets_apart() {
        for (raw, want) in [
            ("Flat 3, Mill House, Mill Lane", Some("MILL")),
            ("3 MILL HOUSE MILL LANE", Some("MILL")),
            ("12, Mill Ln", Some("MILL")),
            ("12 a Oak Avenue", Some("OAK")),
            ("Apartment 4, 12-14 High Street", Some("HIGH")),
            ("12 St Mary's Road", Some("SAINT")),
            ("12 Saint Marys Road", Some("SAINT")),
            ("Rose Cottage, Mill Lane", Some("ROSE")),
            ("Flat 12", None),
            ("", None),
        ] {
            assert_eq!(street(raw).as_deref(), want, "{raw}");
        }
    }

    #[test]
    fn premises_tell_flats_and_houses_apart_and_keep_house_names() {
        for (raw, want) in [
            ("Flat 3, Mill House, Mill Lane", "3"),
            ("FLAT 3 MILL HOUSE", "3"),
            ("12 Mill Lane", "12"),
            ("12, Mill Ln", "12"),
            ("12a Mill Lane", "12A"),
            ("12 and 14 High Street", "12/14"),
            ("Flat 2, 12-14 High Street", "2/12/14"),
            ("Rose Cottage, Mill Lane", "ROSE COTTAGE"),
            ("  ", ""),
        ] {
            assert_eq!(premise(raw), want, "{raw}");
        }
        assert_eq!(Normalizer::Premise.apply(" "), Normalized::Missing);
        assert_eq!(Normalizer::Flag.apply(""), v("0"));
        assert_eq!(Normalizer::Flag.apply(" Yes "), v("1"));
        assert_eq!(Normalizer::Flag.apply("maybe"), Normalized::Invalid);
    }
}
