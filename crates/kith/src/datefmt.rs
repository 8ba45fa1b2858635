//! Dates as Python's `datetime.strptime` reads them and `strftime` writes them.
//!
//! clkhash formats a `date` feature as `strptime(value, format).strftime("%Y%m%d")`, so kith must accept
//! exactly the strings Python accepts. Python compiles the format into a regular expression (one
//! alternation per directive, tried in order, case-insensitively, with any run of white space in the
//! format matching one or more white-space characters), takes the *first* match from the start of the
//! string and then refuses the value if characters remain. This module reproduces that with a small
//! backtracking matcher over the same alternations, for the directives a date can need:
//! `%d %m %y %Y %b %B %a %A %j %H %I %M %S %f %p %%`. Other directives are refused when the schema is
//! loaded, never silently misread.

use std::fmt::Write as _;

/// A parsed `strptime` format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    source: String,
    items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Literal(char),
    /// A run of white space in the format: one or more white-space characters.
    Space,
    Directive(Directive),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Day,
    Month,
    Year2,
    Year4,
    MonthAbbr,
    MonthName,
    WeekdayAbbr,
    WeekdayName,
    DayOfYear,
    Hour24,
    Hour12,
    Minute,
    Second,
    Micros,
    AmPm,
    Percent,
}

/// A calendar date (proleptic Gregorian, year 1 to 9999 as in Python).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ymd {
    /// Year, 1..=9999.
    pub year: i16,
    /// Month, 1..=12.
    pub month: i8,
    /// Day of month.
    pub day: i8,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl DateFormat {
    /// Parse a `strptime` format. The error says which directive is not supported.
    pub fn parse(format: &str) -> Result<Self, String> {
        let mut items = Vec::new();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '%' {
                let d = chars
                    .next()
                    .ok_or_else(|| format!("stray % at the end of date format {format:?}"))?;
                let directive = match d {
                    'd' => Directive::Day,
                    'm' => Directive::Month,
                    'y' => Directive::Year2,
                    'Y' => Directive::Year4,
                    'b' => Directive::MonthAbbr,
                    'B' => Directive::MonthName,
                    'a' => Directive::WeekdayAbbr,
                    'A' => Directive::WeekdayName,
                    'j' => Directive::DayOfYear,
                    'H' => Directive::Hour24,
                    'I' => Directive::Hour12,
                    'M' => Directive::Minute,
                    'S' => Directive::Second,
                    'f' => Directive::Micros,
                    'p' => Directive::AmPm,
                    '%' => Directive::Percent,
                    'c' | 'x' | 'X' | 'z' | 'Z' | 'U' | 'W' | 'w' | 'G' | 'u' | 'V' => {
                        return Err(format!(
                            "date format directive %{d} is not supported by kith (supported: \
                             %d %m %y %Y %b %B %a %A %j %H %I %M %S %f %p %%)"
                        ));
                    }
                    other => {
                        return Err(format!(
                            "'{other}' is a bad directive in date format {format:?}"
                        ));
                    }
                };
                items.push(Item::Directive(directive));
            } else if c.is_whitespace() {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                items.push(Item::Space);
            } else {
                items.push(Item::Literal(c));
            }
        }
        Ok(DateFormat {
            source: format.to_owned(),
            items,
        })
    }

    /// The format as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Read a date as Python's `datetime.strptime` would; `None` where Python raises `ValueError`.
    pub fn parse_date(&self, input: &str) -> Option<Ymd> {
        match self.parse_full_width(input.as_bytes()) {
            Some(fields) => fields.resolve(),
            None => self.parse_date_matcher(input),
        }
    }

    /// The common case in one pass: every `%Y`, `%m` and `%d` written at full width (4, 2 and 2
    /// ASCII digits, month 01–12, day 01–31) between punctuation literals that match exactly, to the
    /// end of the input. Each directive's first alternative in Python's order is then its full-width
    /// one and it leads to a complete match, so the matcher would read the same fields. Anything
    /// else (`None`) goes to the matcher.
    fn parse_full_width(&self, s: &[u8]) -> Option<Fields> {
        let mut fields = Fields::default();
        let mut pos = 0;
        let num = |at: usize, width: usize| -> Option<i32> {
            let digits = s.get(at..at + width)?;
            digits.iter().try_fold(0i32, |v, &b| {
                b.is_ascii_digit().then(|| v * 10 + i32::from(b - b'0'))
            })
        };
        for item in &self.items {
            match *item {
                Item::Literal(c) if c.is_ascii_punctuation() => {
                    if s.get(pos) != Some(&(c as u8)) {
                        return None;
                    }
                    pos += 1;
                }
                Item::Directive(d @ Directive::Year4) => {
                    store(&mut fields, d, num(pos, 4)?);
                    pos += 4;
                }
                Item::Directive(d @ (Directive::Month | Directive::Day)) => {
                    let v = num(pos, 2)?;
                    let top = if d == Directive::Month { 12 } else { 31 };
                    if !(1..=top).contains(&v) {
                        return None;
                    }
                    store(&mut fields, d, v);
                    pos += 2;
                }
                _ => return None,
            }
        }
        (pos == s.len()).then_some(fields)
    }

    /// The general matcher (Python's alternations with backtracking).
    fn parse_date_matcher(&self, input: &str) -> Option<Ymd> {
        // Dates are short: match on a stack buffer, and fall back to the heap for long strings.
        let mut stack = ['\0'; 48];
        let heap: Vec<char>;
        let n = input.chars().count();
        let chars: &[char] = if n <= stack.len() {
            for (slot, c) in stack.iter_mut().zip(input.chars()) {
                *slot = c;
            }
            &stack[..n]
        } else {
            heap = input.chars().collect();
            &heap
        };
        let mut fields = Fields::default();
        let end = match_items(&self.items, chars, 0, &mut fields)?;
        if end != chars.len() {
            return None; // "unconverted data remains"
        }
        fields.resolve()
    }

    /// Write a date with this format, as Python's `strftime` does on Linux for the date directives
    /// (time directives print midnight).
    pub fn format_date(&self, date: Ymd) -> String {
        let mut out = String::new();
        for item in &self.items {
            match *item {
                Item::Literal(c) => out.push(c),
                Item::Space => out.push(' '),
                Item::Directive(d) => {
                    // Writing to a String cannot fail.
                    let _ = match d {
                        Directive::Day => write!(out, "{:02}", date.day),
                        Directive::Month => write!(out, "{:02}", date.month),
                        Directive::Year2 => write!(out, "{:02}", date.year.rem_euclid(100)),
                        Directive::Year4 => write!(out, "{}", date.year),
                        Directive::MonthAbbr => {
                            write!(out, "{}", title(&MONTHS[month_index(date)][..3]))
                        }
                        Directive::MonthName => write!(out, "{}", title(MONTHS[month_index(date)])),
                        Directive::WeekdayAbbr => {
                            write!(out, "{}", title(&WEEKDAYS[weekday(date)][..3]))
                        }
                        Directive::WeekdayName => write!(out, "{}", title(WEEKDAYS[weekday(date)])),
                        Directive::DayOfYear => write!(out, "{:03}", day_of_year(date)),
                        Directive::Hour24 | Directive::Minute | Directive::Second => {
                            out.write_str("00")
                        }
                        Directive::Hour12 => out.write_str("12"),
                        Directive::Micros => out.write_str("000000"),
                        Directive::AmPm => out.write_str("AM"),
                        Directive::Percent => out.write_str("%"),
                    };
                }
            }
        }
        out
    }
}

/// `strftime("%Y%m%d")` as Python on Linux writes it: the year is not zero-padded.
pub fn clkhash_date_string(date: Ymd) -> String {
    let mut s = String::with_capacity(8);
    push_clkhash_date(date, &mut s);
    s
}

/// Append `date` as [`clkhash_date_string`] writes it.
pub fn push_clkhash_date(date: Ymd, s: &mut String) {
    let (y, m, d) = (
        date.year.unsigned_abs(),
        date.month.unsigned_abs(),
        date.day.unsigned_abs(),
    );
    if date.year < 0 {
        s.push('-');
    }
    let mut started = false;
    for div in [1000u16, 100, 10, 1] {
        let digit = (y / div) % 10;
        started |= digit != 0 || div == 1;
        if started {
            s.push(char::from(b'0' + digit as u8));
        }
    }
    for v in [m, d] {
        s.push(char::from(b'0' + v / 10));
        s.push(char::from(b'0' + v % 10));
    }
}

fn title(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn month_index(d: Ymd) -> usize {
    (d.month as usize).saturating_sub(1).min(11)
}

fn civil(d: Ymd) -> Option<jiff::civil::Date> {
    jiff::civil::Date::new(d.year, d.month, d.day).ok()
}

fn weekday(d: Ymd) -> usize {
    civil(d).map_or(0, |c| c.weekday().to_monday_zero_offset() as usize)
}

fn day_of_year(d: Ymd) -> i16 {
    civil(d).map_or(1, |c| c.day_of_year())
}

#[derive(Debug, Default, Clone, Copy)]
struct Fields {
    year4: Option<i32>,
    year2: Option<i32>,
    month: Option<i32>,
    day: Option<i32>,
    julian: Option<i32>,
    second: Option<i32>,
}

impl Fields {
    fn resolve(self) -> Option<Ymd> {
        // Python lets the last of %y / %Y win; both in one format is unusual, so take %Y first.
        let year = match (self.year4, self.year2) {
            (Some(y), _) => y,
            (None, Some(y)) if y <= 68 => 2000 + y,
            (None, Some(y)) => 1900 + y,
            (None, None) => 1900,
        };
        if self.second.is_some_and(|s| s > 59) {
            return None; // datetime() refuses seconds 60 and 61
        }
        if !(1..=9999).contains(&year) {
            return None;
        }
        let year = i16::try_from(year).ok()?;
        if let Some(j) = self.julian {
            // fromordinal(j - 1 + date(year, 1, 1).toordinal()): may run into the next year.
            let start = jiff::civil::Date::new(year, 1, 1).ok()?;
            let date = start
                .checked_add(jiff::Span::new().days(i64::from(j - 1)))
                .ok()?;
            if date.year() > 9999 {
                return None;
            }
            return Some(Ymd {
                year: date.year(),
                month: date.month(),
                day: date.day(),
            });
        }
        let month = i8::try_from(self.month.unwrap_or(1)).ok()?;
        let day = i8::try_from(self.day.unwrap_or(1)).ok()?;
        jiff::civil::Date::new(year, month, day).ok()?;
        Some(Ymd { year, month, day })
    }
}

/// Match `items` against `s` from `pos`, returning the end of the first match in Python's priority
/// order (alternatives left to right, white space greedy), with backtracking.
fn match_items(items: &[Item], s: &[char], pos: usize, fields: &mut Fields) -> Option<usize> {
    let Some((first, rest)) = items.split_first() else {
        return Some(pos);
    };
    match *first {
        Item::Literal(c) => {
            let got = *s.get(pos)?;
            if eq_ignore_case(got, c) {
                match_items(rest, s, pos + 1, fields)
            } else {
                None
            }
        }
        Item::Space => {
            let mut end = pos;
            while s.get(end).is_some_and(|c| c.is_whitespace()) {
                end += 1;
            }
            // Greedy: longest run first, then shorter ones, at least one character.
            while end > pos {
                if let Some(done) = match_items(rest, s, end, fields) {
                    return Some(done);
                }
                end -= 1;
            }
            None
        }
        Item::Directive(d) => {
            for (len, value) in candidates(d, s, pos) {
                let saved = *fields;
                store(fields, d, value);
                if let Some(done) = match_items(rest, s, pos + len, fields) {
                    return Some(done);
                }
                *fields = saved;
            }
            None
        }
    }
}

fn store(f: &mut Fields, d: Directive, v: i32) {
    match d {
        Directive::Day => f.day = Some(v),
        Directive::Month | Directive::MonthAbbr | Directive::MonthName => f.month = Some(v),
        Directive::Year2 => f.year2 = Some(v),
        Directive::Year4 => f.year4 = Some(v),
        Directive::DayOfYear => f.julian = Some(v),
        Directive::Second => f.second = Some(v),
        _ => {}
    }
}

fn eq_ignore_case(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// The digit at `s[i]`, if it is an ASCII digit.
fn digit(s: &[char], i: usize) -> Option<i32> {
    s.get(i).and_then(|c| c.to_digit(10)).map(|d| d as i32)
}

/// Up to 12 (length, value) candidates, without allocating.
struct Candidates {
    items: [(usize, i32); 12],
    len: usize,
}

impl Candidates {
    fn push(&mut self, c: (usize, i32)) {
        if self.len < self.items.len() {
            self.items[self.len] = c;
            self.len += 1;
        }
    }
}

impl IntoIterator for Candidates {
    type Item = (usize, i32);
    type IntoIter = std::iter::Take<std::array::IntoIter<(usize, i32), 12>>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter().take(self.len)
    }
}

/// Candidate (length, value) pairs for a directive at `pos`, in Python's alternation order.
fn candidates(d: Directive, s: &[char], pos: usize) -> Candidates {
    let d0 = digit(s, pos);
    let d1 = digit(s, pos + 1);
    let d2 = digit(s, pos + 2);
    let two = |a: Option<i32>, b: Option<i32>| a.zip(b).map(|(a, b)| a * 10 + b);
    let mut out = Candidates {
        items: [(0, 0); 12],
        len: 0,
    };
    let mut push = |ok: bool, len: usize, v: Option<i32>| {
        if ok && let Some(v) = v {
            out.push((len, v));
        }
    };
    match d {
        Directive::Day => {
            // 3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9]
            push(d0 == Some(3) && matches!(d1, Some(0..=1)), 2, two(d0, d1));
            push(matches!(d0, Some(1..=2)) && d1.is_some(), 2, two(d0, d1));
            push(d0 == Some(0) && matches!(d1, Some(1..=9)), 2, two(d0, d1));
            push(matches!(d0, Some(1..=9)), 1, d0);
            push(s.get(pos) == Some(&' ') && matches!(d1, Some(1..=9)), 2, d1);
        }
        Directive::Month => {
            // 1[0-2]|0[1-9]|[1-9]
            push(d0 == Some(1) && matches!(d1, Some(0..=2)), 2, two(d0, d1));
            push(d0 == Some(0) && matches!(d1, Some(1..=9)), 2, two(d0, d1));
            push(matches!(d0, Some(1..=9)), 1, d0);
        }
        Directive::Year2 => push(true, 2, two(d0, d1)),
        Directive::Year4 => {
            let d3 = digit(s, pos + 3);
            push(
                true,
                4,
                two(d0, d1).zip(two(d2, d3)).map(|(a, b)| a * 100 + b),
            );
        }
        Directive::DayOfYear => {
            // 36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9]
            let three = two(d0, d1).zip(d2).map(|(a, b)| a * 10 + b);
            push(
                d0 == Some(3) && d1 == Some(6) && matches!(d2, Some(0..=6)),
                3,
                three,
            );
            push(
                d0 == Some(3) && matches!(d1, Some(0..=5)) && d2.is_some(),
                3,
                three,
            );
            push(
                matches!(d0, Some(1..=2)) && d1.is_some() && d2.is_some(),
                3,
                three,
            );
            push(
                d0 == Some(0) && matches!(d1, Some(1..=9)) && d2.is_some(),
                3,
                three,
            );
            push(
                d0 == Some(0) && d1 == Some(0) && matches!(d2, Some(1..=9)),
                3,
                three,
            );
            push(matches!(d0, Some(1..=9)) && d1.is_some(), 2, two(d0, d1));
            push(d0 == Some(0) && matches!(d1, Some(1..=9)), 2, two(d0, d1));
            push(matches!(d0, Some(1..=9)), 1, d0);
        }
        Directive::Hour24 => {
            // 2[0-3]|[0-1]\d|\d
            push(d0 == Some(2) && matches!(d1, Some(0..=3)), 2, two(d0, d1));
            push(matches!(d0, Some(0..=1)) && d1.is_some(), 2, two(d0, d1));
            push(true, 1, d0);
        }
        Directive::Hour12 => {
            // 1[0-2]|0[1-9]|[1-9]
            push(d0 == Some(1) && matches!(d1, Some(0..=2)), 2, two(d0, d1));
            push(d0 == Some(0) && matches!(d1, Some(1..=9)), 2, two(d0, d1));
            push(matches!(d0, Some(1..=9)), 1, d0);
        }
        Directive::Minute => {
            // [0-5]\d|\d
            push(matches!(d0, Some(0..=5)) && d1.is_some(), 2, two(d0, d1));
            push(true, 1, d0);
        }
        Directive::Second => {
            // 6[0-1]|[0-5]\d|\d
            push(d0 == Some(6) && matches!(d1, Some(0..=1)), 2, two(d0, d1));
            push(matches!(d0, Some(0..=5)) && d1.is_some(), 2, two(d0, d1));
            push(true, 1, d0);
        }
        Directive::Micros => {
            // [0-9]{1,6}, greedy
            let mut n = 0;
            while n < 6 && digit(s, pos + n).is_some() {
                n += 1;
            }
            for len in (1..=n).rev() {
                out.push((len, 0));
            }
        }
        Directive::MonthAbbr
        | Directive::MonthName
        | Directive::WeekdayAbbr
        | Directive::WeekdayName => {
            let (names, abbr): (&[&str], bool) = match d {
                Directive::MonthAbbr => (&MONTHS, true),
                Directive::MonthName => (&MONTHS, false),
                Directive::WeekdayAbbr => (&WEEKDAYS, true),
                _ => (&WEEKDAYS, false),
            };
            // Python tries the names longest first; no English month or weekday name (or
            // abbreviation) is a prefix of another, so at most one can match and order is moot.
            let names = names
                .iter()
                .enumerate()
                .map(|(i, n)| (i, if abbr { &n[..3] } else { *n }));
            for (i, name) in names {
                let len = name.chars().count();
                let matches = s.len() >= pos + len
                    && s[pos..pos + len]
                        .iter()
                        .zip(name.chars())
                        .all(|(&a, b)| eq_ignore_case(a, b));
                push(matches, len, Some(i as i32 + 1));
            }
        }
        Directive::AmPm => {
            for (v, name) in [(0, "am"), (1, "pm")] {
                let matches = s.len() >= pos + 2
                    && s[pos..pos + 2]
                        .iter()
                        .zip(name.chars())
                        .all(|(&a, b)| eq_ignore_case(a, b));
                push(matches, 2, Some(v));
            }
        }
        Directive::Percent => push(s.get(pos) == Some(&'%'), 1, Some(0)),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(fmt: &str, s: &str) -> Option<String> {
        DateFormat::parse(fmt)
            .expect("format")
            .parse_date(s)
            .map(clkhash_date_string)
    }

    #[test]
    fn reads_dates_as_python_does() {
        // Each expectation was checked against CPython 3.11's datetime.strptime.
        assert_eq!(p("%Y-%m-%d", "1985-03-21").as_deref(), Some("19850321"));
        assert_eq!(p("%Y-%m-%d", "2000-1-1").as_deref(), Some("20000101"));
        assert_eq!(p("%d%m%Y", "1231985").as_deref(), Some("19850312"));
        assert_eq!(p("%b %d %y", "MAR 3 85").as_deref(), Some("19850303"));
        assert_eq!(p("%j", "060").as_deref(), Some("19000301"));
        assert_eq!(p("%d %m %Y", "5  3 1985").as_deref(), Some("19850305"));
        assert_eq!(p("%d/%m/%Y", " 5/ 3/1985"), None);
        assert_eq!(p("%d/%m/%Y", "29/02/1900"), None);
        assert_eq!(p("%d/%m/%Y", "29/02/2000").as_deref(), Some("20000229"));
        assert_eq!(p("%d-%b-%Y", "21-mar-1985").as_deref(), Some("19850321"));
        assert_eq!(p("%Y", "0999").as_deref(), Some("9990101"));
        assert_eq!(p("%Y", "0000"), None);
        assert_eq!(p("%Y-%m-%d", "1985-03-21 "), None);
        assert_eq!(p("%Y-%m-%d %H:%M:%S", "1985-03-21 23:59:60"), None);
        assert_eq!(p("%y", "68").as_deref(), Some("20680101"));
        assert_eq!(p("%y", "69").as_deref(), Some("19690101"));
    }

    proptest::proptest! {
        /// The one-pass reading of full-width dates gives what the general matcher gives, on
        /// inputs of digits and separators built to hit both its edges and its refusals.
        #[test]
        fn the_full_width_pass_agrees_with_the_matcher(
            fmt in proptest::sample::select(vec!["%Y-%m-%d", "%d/%m/%Y", "%d%m%Y", "%Y%m%d", "%m-%d-%Y", "%d.%m.%Y", "%Y-%d"]),
            s in "[0-9/.\\- ]{0,12}",
            y in 0u32..10000, m in 0u32..14, d in 0u32..33, sep in proptest::sample::select(vec!["-", "/", "", "."]),
        ) {
            let f = DateFormat::parse(fmt).expect("format");
            proptest::prop_assert_eq!(f.parse_date(&s), f.parse_date_matcher(&s));
            for built in [
                format!("{y:04}{sep}{m:02}{sep}{d:02}"),
                format!("{d:02}{sep}{m:02}{sep}{y:04}"),
                format!("{m:02}{sep}{d:02}{sep}{y:04}"),
                format!("{y:04}{sep}{d:02}"),
            ] {
                proptest::prop_assert_eq!(f.parse_date(&built), f.parse_date_matcher(&built), "{} {}", fmt, built);
            }
        }
    }

    #[test]
    fn unsupported_directives_are_refused() {
        assert!(DateFormat::parse("%c").is_err());
        assert!(DateFormat::parse("%Q").is_err());
        assert!(DateFormat::parse("%Y-%").is_err());
    }

    #[test]
    fn formats_round_trip() {
        let f = DateFormat::parse("%d-%b-%Y").expect("format");
        let d = Ymd {
            year: 1985,
            month: 3,
            day: 21,
        };
        assert_eq!(f.format_date(d), "21-Mar-1985");
        assert_eq!(f.parse_date(&f.format_date(d)), Some(d));
    }
}
