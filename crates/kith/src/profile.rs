//! A holder's profile of its own extract (`kith profile`): how complete and how clean each field
//! is, what that will do to linkage, and what to fix first.
//!
//! It runs where the data is, reads the extract through the same schema and mapping as
//! `kith encode`, and needs no secret. The [`Profile`] it gives holds counts and shares only (never
//! a value, a line number or a local ID), so that a holder may send it to the linkage party for the
//! run report; the [`Examples`] beside it (lines and values) are for the holder's own screen.
//!
//! Each value is judged as the encoder would judge it (present, missing, invalid by its normaliser,
//! or refused by the schema's format), then checked for what normalisers let through but linkage
//! suffers from: placeholder and test values, partial postcodes, a value far commoner than a name or
//! a date of birth can be, names in the wrong column or the wrong order, titles. Each record is
//! then checked for whether linkage can find it at all: a blocking key to be compared by, or an
//! exact identifier, and enough fields to tell it from others.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::BuildHasher;

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::blocking::Transform;
use crate::datefmt::{DateFormat, Ymd};
use crate::encode::{FieldOutcome, clk_value};
use crate::mapping::Layout;
use crate::normalize::{self, DateNormalizer, Normalized, Normalizer};
use crate::schema::{FeatureHashing, Format, InputKind, Schema};

/// The version of the profile's JSON form.
pub const PROFILE_VERSION: u32 = 1;

/// Examples kept per problem, for the holder's screen.
const EXAMPLES: usize = 3;

/// Something the normalisers let through that linkage suffers from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// A made-up date of birth: 01/01/1900, a year before 1900, a year from 9000.
    PlaceholderDate,
    /// A date of birth after the profile's date.
    FutureDate,
    /// More dates on 1 January than chance gives: an unknown day and month written as 01/01.
    JanuaryFirst,
    /// More dates on the 1st of a month than chance gives: an unknown day written as 01.
    FirstOfMonth,
    /// An NHS number from the test range (999 …), which passes the check digit.
    TestNhsNumber,
    /// A ZZ99 pseudo-postcode (no fixed abode, abroad, unknown).
    PseudoPostcode,
    /// An outward code with no inward code (`LS6`).
    PartialPostcode,
    /// A value held by far more records than a name, a date of birth or a postcode would be.
    RepeatedValue,
    /// A word that stands in for a name: unknown, baby, test, xxx.
    PlaceholderName,
    /// A title (Mr, Mrs, Dr …) at the start of a name.
    TitleInName,
    /// Digits in a name.
    DigitsInName,
    /// A date, postcode, NHS number or e-mail address in a name field, or two names with a comma.
    WrongColumn,
    /// The forename and surname seem to be the wrong way round.
    SwappedNames,
    /// The same value as forename and as surname.
    SameForenameAndSurname,
    /// A name in capitals only; harmless once normalised, but a sign of a re-keyed system.
    AllCapitals,
}

impl Check {
    /// Every check, in report order.
    pub const ALL: [Check; 15] = [
        Check::PlaceholderDate,
        Check::FutureDate,
        Check::JanuaryFirst,
        Check::FirstOfMonth,
        Check::TestNhsNumber,
        Check::PseudoPostcode,
        Check::PartialPostcode,
        Check::RepeatedValue,
        Check::PlaceholderName,
        Check::TitleInName,
        Check::DigitsInName,
        Check::WrongColumn,
        Check::SwappedNames,
        Check::SameForenameAndSurname,
        Check::AllCapitals,
    ];

    /// Its name in the profile's JSON.
    pub fn name(self) -> &'static str {
        match self {
            Check::PlaceholderDate => "placeholder_date",
            Check::FutureDate => "future_date",
            Check::JanuaryFirst => "january_first",
            Check::FirstOfMonth => "first_of_month",
            Check::TestNhsNumber => "test_nhs_number",
            Check::PseudoPostcode => "pseudo_postcode",
            Check::PartialPostcode => "partial_postcode",
            Check::RepeatedValue => "repeated_value",
            Check::PlaceholderName => "placeholder_name",
            Check::TitleInName => "title_in_name",
            Check::DigitsInName => "digits_in_name",
            Check::WrongColumn => "wrong_column",
            Check::SwappedNames => "swapped_names",
            Check::SameForenameAndSurname => "same_forename_and_surname",
            Check::AllCapitals => "all_capitals",
        }
    }

    /// What it is, in a few words.
    pub fn label(self) -> &'static str {
        match self {
            Check::PlaceholderDate => "placeholder dates (01/01/1900, before 1900, from 9000)",
            Check::FutureDate => "dates in the future",
            Check::JanuaryFirst => "more 1 January dates than chance gives",
            Check::FirstOfMonth => "more dates on the 1st of a month than chance gives",
            Check::TestNhsNumber => "test NHS numbers (999 …)",
            Check::PseudoPostcode => "ZZ99 pseudo-postcodes",
            Check::PartialPostcode => "partial postcodes (outward code only)",
            Check::RepeatedValue => "values far commoner than a real one would be",
            Check::PlaceholderName => "placeholder names (unknown, baby, test …)",
            Check::TitleInName => "titles in the name (Mr, Mrs, Dr …)",
            Check::DigitsInName => "digits in a name",
            Check::WrongColumn => "values that belong in another column",
            Check::SwappedNames => "forename and surname the wrong way round",
            Check::SameForenameAndSurname => "the same value as forename and surname",
            Check::AllCapitals => "names in capitals only",
        }
    }

    /// What it does to linkage.
    pub fn effect(self) -> &'static str {
        match self {
            Check::PlaceholderDate | Check::JanuaryFirst => {
                "the date agrees falsely with every other record holding it, and crowds one block"
            }
            Check::FutureDate => "the date cannot be a date of birth; it agrees with nothing",
            Check::FirstOfMonth => "the day of birth disagrees with other holders' true day",
            Check::TestNhsNumber => {
                "a test number links every record holding it as one person, through the exact token"
            }
            Check::PseudoPostcode => "read as missing: no postcode evidence, no dwelling",
            Check::PartialPostcode => "read as invalid: no postcode evidence, no dwelling",
            Check::RepeatedValue => {
                "a stand-in value agrees falsely across records and crowds blocks"
            }
            Check::PlaceholderName => "agrees falsely with every other record holding it",
            Check::TitleInName => "the title becomes part of the name and lowers its agreement",
            Check::DigitsInName => "the digits lower the name's agreement",
            Check::WrongColumn => "the field disagrees with the same person's other records",
            Check::SwappedNames => {
                "both names disagree with the person's other records unless the swap is caught"
            }
            Check::SameForenameAndSurname => {
                "one name is probably copied: the record has one name's evidence, not two"
            }
            Check::AllCapitals => "none: normalisers fold case",
        }
    }

    /// What the holder can do about it.
    pub fn advice(self) -> &'static str {
        match self {
            Check::PlaceholderDate | Check::JanuaryFirst | Check::FutureDate => {
                "blank placeholder dates in the extract (a missing date is better than a made-up one)"
            }
            Check::FirstOfMonth => "blank days recorded as 01 when unknown, or leave as is",
            Check::TestNhsNumber => "remove test records, or blank their NHS numbers",
            Check::PseudoPostcode => "nothing to do if the address is truly unknown",
            Check::PartialPostcode => "complete the postcodes from the address, or blank them",
            Check::RepeatedValue => "blank the stand-in value (see the examples)",
            Check::PlaceholderName => "blank placeholder names",
            Check::TitleInName => "add \"strip_titles\": true to the column in the mapping",
            Check::DigitsInName => "check the examples; remove digits or reference numbers",
            Check::WrongColumn => {
                "check the mapping's columns; split combined name columns with \"split\""
            }
            Check::SwappedNames => "check the examples and the system's name order",
            Check::SameForenameAndSurname => "check the examples; blank the copied name",
            Check::AllCapitals => "nothing",
        }
    }

    /// How much one affected record matters when ranking what to fix first (0: not at all).
    fn weight(self) -> u64 {
        match self {
            Check::AllCapitals => 0,
            Check::PseudoPostcode | Check::FirstOfMonth | Check::TitleInName => 1,
            Check::DigitsInName | Check::SameForenameAndSurname | Check::PartialPostcode => 2,
            _ => 3,
        }
    }
}

/// The profile: counts and shares only, safe to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Always `"kith-profile"`.
    pub format: &'static str,
    /// [`PROFILE_VERSION`].
    pub version: u32,
    /// The holder's party name.
    pub party: String,
    /// The schema's fingerprint.
    pub schema_fingerprint: String,
    /// The date future dates of birth are judged against (`YYYY-MM-DD`).
    pub as_of: String,
    /// Records read.
    pub records: u64,
    /// Per feature and keyed input, in schema order.
    pub fields: Vec<FieldProfile>,
    /// Local IDs used more than once.
    pub duplicate_ids: DuplicateIds,
    /// Records that seem to be a second record of one person under another local ID.
    pub likely_duplicates: LikelyDuplicates,
    /// Whether linkage can find and tell apart each record.
    pub linkage: LinkageEffect,
    /// Fit to link, and what to fix first.
    pub verdict: Verdict,
}

/// One field's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldProfile {
    /// The feature or keyed input's name.
    pub name: String,
    /// `feature`, `exact`, `address`, `register` or `criterion`.
    pub kind: &'static str,
    /// Whether the holder has it (a column is mapped to it).
    pub held: bool,
    /// The normaliser, if the schema gives one.
    pub normalize: Option<&'static str>,
    /// Values that will be encoded.
    pub present: u64,
    /// Empty values and codes for unknown.
    pub missing: u64,
    /// Values the normaliser cannot read (encoded as missing).
    pub invalid: u64,
    /// Values the schema's format refuses (`kith encode` stops at them, or skips the row).
    pub refused: u64,
    /// Distinct encoded values (names, dates, postcodes and other text; not counted for codes,
    /// flags and identifiers).
    pub distinct: Option<u64>,
    /// Records affected by each check that found any.
    pub checks: BTreeMap<&'static str, u64>,
}

/// Local IDs used more than once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DuplicateIds {
    /// Whether the extract has a local ID column.
    pub id_column: bool,
    /// IDs used by two or more rows.
    pub ids: u64,
    /// Rows carrying such an ID.
    pub rows: u64,
    /// Rows with an empty ID.
    pub empty: u64,
}

/// Records that seem to be a second record of one person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LikelyDuplicates {
    /// Records agreeing on every feature (at least three present) with an earlier record under
    /// another local ID.
    pub same_details: u64,
    /// Records sharing an exact identifier with an earlier record under another local ID.
    pub same_identifier: u64,
}

/// Whether linkage can find and tell apart each record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LinkageEffect {
    /// Records with an exact identifier (an NHS number) to link by.
    pub with_exact_identifier: u64,
    /// Records with no blocking key (a part of each is missing) and no exact identifier: linkage
    /// never compares them with anything (0 when the schema has no blocking keys).
    pub no_blocking_key: u64,
    /// Records with fewer than half the CLK features present and no exact identifier: too little
    /// to tell one person from another.
    pub too_few_fields: u64,
    /// Records that can be linked: not in either of the above.
    pub linkable: u64,
}

/// Fit to link, and what to fix first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `fit`, `fit once fixed` or `not fit`.
    pub fit: &'static str,
    /// Why, in plain words.
    pub reasons: Vec<String>,
    /// The problems, most harmful first.
    pub fix_first: Vec<Problem>,
}

/// One problem to fix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// The field, or `""` for the whole record.
    pub field: String,
    /// The check's name, or `missing`, `invalid`, `refused`, `duplicate_ids`.
    pub problem: String,
    /// Records affected.
    pub records: u64,
    /// What it is.
    pub what: String,
    /// What it does to linkage.
    pub effect: String,
    /// What to do.
    pub advice: String,
}

/// Lines and values behind each problem, for the holder's screen only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Examples {
    /// Per (field, problem): up to three (line, value) pairs.
    pub by_problem: BTreeMap<(String, String), Vec<(u64, String)>>,
}

impl Examples {
    fn push(&mut self, field: &str, problem: &str, line: u64, value: &str) {
        let v = self
            .by_problem
            .entry((field.to_owned(), problem.to_owned()))
            .or_default();
        if v.len() < EXAMPLES {
            v.push((line, value.chars().take(60).collect()));
        }
    }

    /// The examples of one field's problem.
    pub fn of(&self, field: &str, problem: &str) -> &[(u64, String)] {
        self.by_problem
            .get(&(field.to_owned(), problem.to_owned()))
            .map_or(&[], Vec::as_slice)
    }
}

/// What a field holds, as far as the checks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Forename,
    Name,
    Date,
    Postcode,
    Nhs,
    Address,
    Other,
    /// Sex codes, flags and register references: only missing and invalid are counted.
    Plain,
}

struct Input {
    name: String,
    kind: &'static str,
    held: bool,
    role: Role,
    normalizer: Option<Normalizer>,
    /// A date format to read a plain clkhash date feature by.
    date_format: Option<DateFormat>,
    hashing: Option<FeatureHashing>,
    present: u64,
    missing: u64,
    invalid: u64,
    refused: u64,
    /// Invalid values a check already explains (a partial postcode), not counted twice.
    explained: u64,
    checks: BTreeMap<Check, u64>,
    values: FxHashMap<Box<str>, u32>,
    /// Values a value-level check already flagged, left out of the repeated-value check.
    flagged: FxHashSet<Box<str>>,
    dates: u64,
    january_first: u64,
    first_of_month: u64,
}

impl Input {
    fn check(&mut self, examples: &mut Examples, c: Check, line: u64, value: &str) {
        *self.checks.entry(c).or_default() += 1;
        examples.push(&self.name, c.name(), line, value);
    }
}

/// Options of a profile.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// The holder's party name.
    pub party: String,
    /// Extra input date formats per feature or exact identifier (from the holder's mapping).
    pub extra_date_formats: BTreeMap<String, Vec<DateFormat>>,
    /// Dates of birth after this are in the future.
    pub as_of: Ymd,
}

/// Builds a [`Profile`] one record at a time.
pub struct Profiler {
    party: String,
    fingerprint: String,
    as_of: Ymd,
    inputs: Vec<Input>,
    /// Index of the first keyed input in `inputs` (the features come first).
    first_keyed: usize,
    /// Blocking keys, as (input index, transform) parts.
    blocking: Vec<Vec<(usize, Transform)>>,
    forename: Option<usize>,
    surname: Option<usize>,
    has_id: bool,
    records: u64,
    ids: FxHashMap<Box<str>, u32>,
    empty_ids: u64,
    details: FxHashMap<[u8; 16], u64>,
    identifiers: FxHashMap<(usize, Box<str>), u64>,
    effect: LinkageEffect,
    likely: LikelyDuplicates,
    /// (forename, surname, line) hashes of records with both, for the swapped-names check.
    names: Vec<(u64, u64, u64)>,
    name_values: BTreeMap<u64, String>,
    examples: Examples,
}

impl std::fmt::Debug for Profiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profiler")
            .field("party", &self.party)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

/// What a field holds: by its normaliser, or, in a plain clkhash schema, by its format and a name
/// such as `given_name` or `surname`.
fn role_of(
    name: &str,
    normalizer: Option<&Normalizer>,
    kind: InputKind,
    hashing: Option<&FeatureHashing>,
) -> Role {
    let squashed: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let named = |words: &[&str]| words.iter().any(|w| squashed.contains(w));
    match (normalizer, kind) {
        (Some(Normalizer::Forename), _) => Role::Forename,
        (Some(Normalizer::Name), _) => Role::Name,
        (Some(Normalizer::Date(_)), _) => Role::Date,
        (Some(Normalizer::Postcode), _) => Role::Postcode,
        (Some(Normalizer::NhsNumber), _) => Role::Nhs,
        (Some(Normalizer::Premise), _) | (_, InputKind::Address) => Role::Address,
        (Some(Normalizer::Sex | Normalizer::Flag), _) => Role::Plain,
        (None, InputKind::Register | InputKind::Criterion) => Role::Plain,
        (None, _) => match hashing.map(|h| &h.format) {
            Some(Format::Date(_)) => Role::Date,
            Some(Format::String { .. }) if named(&["forename", "firstname", "givenname"]) => {
                Role::Forename
            }
            Some(Format::String { .. }) if named(&["surname", "lastname", "familyname"]) => {
                Role::Name
            }
            Some(Format::String { .. }) | None => Role::Other,
            Some(_) => Role::Plain,
        },
    }
}

fn fx(s: &str) -> u64 {
    FxBuildHasher.hash_one(s)
}

/// Words that stand in for a name (after the `name` normaliser).
const PLACEHOLDER_NAMES: [&str; 28] = [
    "unknown",
    "not known",
    "notknown",
    "nk",
    "unk",
    "unkn",
    "test",
    "testing",
    "xxx",
    "xx",
    "x",
    "zzz",
    "zz",
    "baby",
    "infant",
    "unnamed",
    "anon",
    "anonymous",
    "na",
    "none",
    "null",
    "unborn",
    "tba",
    "tbc",
    "dummy",
    "nfa",
    "patient",
    "child",
];

fn placeholder_name(v: &str) -> bool {
    PLACEHOLDER_NAMES.contains(&v)
        || v.starts_with("baby ")
        || v.starts_with("twin ")
        || v.starts_with("test ")
        || v.starts_with("unknown ")
}

fn all_capitals(raw: &str) -> bool {
    raw.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && raw.chars().any(char::is_uppercase)
        && !raw.chars().any(char::is_lowercase)
}

/// A name field's value that belongs in another column.
fn wrong_column(raw: &str) -> bool {
    let v = raw.trim();
    v.contains('@')
        || v.contains(',')
        || matches!(normalize::nhs_number(v), Normalized::Value(_))
        || matches!(normalize::postcode(v), Normalized::Value(_))
        || (v.bytes().any(|b| b.is_ascii_digit())
            && DateNormalizer::new(Vec::new(), DateFormat::parse("%Y-%m-%d").expect("a format"))
                .parse(v)
                .is_some())
}

/// An outward code alone (`LS6`, `SW1A`).
fn outward_only(raw: &str) -> bool {
    let c: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let shape: String = c
        .chars()
        .map(|c| match c {
            '0'..='9' => '9',
            c if c.is_ascii_alphabetic() => 'A',
            _ => '?',
        })
        .collect();
    matches!(
        shape.as_str(),
        "A9" | "A99" | "A9A" | "AA9" | "AA99" | "AA9A"
    )
}

impl Profiler {
    /// A profiler for `schema`'s fields as `layout` reads them from one extract.
    pub fn new(schema: &Schema, layout: &Layout, options: &ProfileOptions) -> Profiler {
        let with_extra = |name: &str, n: Option<&Normalizer>| {
            Normalizer::with_formats(n, options.extra_date_formats.get(name))
        };
        let input = |name: &str,
                     kind: InputKind,
                     kind_name: &'static str,
                     held: bool,
                     normalizer: Option<Normalizer>,
                     hashing: Option<FeatureHashing>| {
            let date_format = match hashing.as_ref().map(|h| &h.format) {
                Some(Format::Date(f)) if normalizer.is_none() => Some(f.clone()),
                _ => None,
            };
            Input {
                name: name.to_owned(),
                kind: kind_name,
                held,
                role: role_of(name, normalizer.as_ref(), kind, hashing.as_ref()),
                normalizer,
                date_format,
                hashing,
                present: 0,
                missing: 0,
                invalid: 0,
                refused: 0,
                explained: 0,
                checks: BTreeMap::new(),
                values: FxHashMap::default(),
                flagged: FxHashSet::default(),
                dates: 0,
                january_first: 0,
                first_of_month: 0,
            }
        };
        let kith = schema.kith();
        let mut inputs: Vec<Input> = schema
            .features()
            .iter()
            .zip(layout.feature_columns())
            .map(|(f, col)| {
                input(
                    &f.identifier,
                    InputKind::Exact,
                    "feature",
                    col.is_some() && f.hashing.is_some(),
                    with_extra(&f.identifier, kith.normalize.get(&f.identifier)),
                    f.hashing.clone(),
                )
            })
            .collect();
        let first_keyed = inputs.len();
        for ((name, kind), col) in kith.keyed_inputs().into_iter().zip(layout.exact_columns()) {
            let normalizer = match kind {
                InputKind::Exact => kith
                    .exact
                    .iter()
                    .find(|e| e.name == name)
                    .and_then(|e| with_extra(name, e.normalize.as_ref())),
                InputKind::Criterion => Some(Normalizer::Flag),
                InputKind::Address => Some(Normalizer::Premise),
                InputKind::Register => None,
            };
            let kind_name = match kind {
                InputKind::Exact => "exact",
                InputKind::Address => "address",
                InputKind::Register => "register",
                InputKind::Criterion => "criterion",
            };
            inputs.push(input(
                name,
                kind,
                kind_name,
                col.is_some(),
                normalizer,
                None,
            ));
        }
        let position = |feature: &str| {
            schema
                .features()
                .iter()
                .position(|f| f.identifier == feature)
        };
        let blocking = kith
            .blocking
            .iter()
            .filter_map(|b| {
                b.parts
                    .iter()
                    .map(|p| Some((position(&p.feature)?, p.transform)))
                    .collect::<Option<Vec<_>>>()
            })
            .collect();
        let find = |role: Role| {
            inputs[..first_keyed]
                .iter()
                .position(|i| i.role == role && i.held)
        };
        let (forename, surname) = (find(Role::Forename), find(Role::Name));
        Profiler {
            party: options.party.clone(),
            fingerprint: schema.fingerprint().to_owned(),
            as_of: options.as_of,
            inputs,
            first_keyed,
            blocking,
            forename,
            surname,
            has_id: layout.id_column().is_some(),
            records: 0,
            ids: FxHashMap::default(),
            empty_ids: 0,
            details: FxHashMap::default(),
            identifiers: FxHashMap::default(),
            effect: LinkageEffect::default(),
            likely: LikelyDuplicates::default(),
            names: Vec::new(),
            name_values: BTreeMap::new(),
            examples: Examples::default(),
        }
    }

    /// Add one record: its line in the file, its local ID (if the extract has an ID column), and
    /// its values as [`Layout::extract`] picks them.
    pub fn add(&mut self, line: u64, local_id: Option<&str>, features: &[&str], exact: &[&str]) {
        self.records += 1;
        let id = local_id.map(str::trim);
        match id {
            Some("") => self.empty_ids += 1,
            Some(id) => *self.ids.entry(id.into()).or_default() += 1,
            None => {}
        }
        // Without an ID column, every row is its own record.
        let own = match id {
            Some(id) => fx(id),
            None => fx(&line.to_string()),
        };
        let mut canonical: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(self.inputs.len());
        let raws = features.iter().chain(exact);
        for (i, raw) in raws.enumerate() {
            let value = self.judge(i, line, raw);
            canonical.push(value);
        }
        // Whole-record checks.
        let nf = self.first_keyed;
        let hashed: Vec<usize> = (0..nf).filter(|&i| self.inputs[i].held).collect();
        let present = hashed.iter().filter(|&&i| canonical[i].is_some()).count();
        let has_exact = (nf..self.inputs.len())
            .any(|i| self.inputs[i].kind == "exact" && canonical[i].is_some());
        let blockable = self.blocking.is_empty()
            || self.blocking.iter().any(|parts| {
                parts.iter().all(|&(f, t)| {
                    canonical[f].is_some()
                        && t.apply(self.inputs[f].normalizer.as_ref(), features[f])
                            .is_some()
                })
            });
        if has_exact {
            self.effect.with_exact_identifier += 1;
        }
        let (mut lost, too_few) = (false, present * 2 < hashed.len());
        if !has_exact && !blockable {
            self.effect.no_blocking_key += 1;
            self.examples.push("", "no_blocking_key", line, "");
            lost = true;
        }
        if !has_exact && too_few {
            self.effect.too_few_fields += 1;
            self.examples.push("", "too_few_fields", line, "");
            lost = true;
        }
        if !lost {
            self.effect.linkable += 1;
        }
        if present >= 3.min(hashed.len()).max(1) {
            let mut h = Sha256::new();
            for &i in &hashed {
                h.update(canonical[i].as_deref().unwrap_or("").as_bytes());
                h.update([0x1f]);
            }
            let key: [u8; 16] = h.finalize()[..16].try_into().expect("16 bytes");
            if *self.details.entry(key).or_insert(own) != own {
                self.likely.same_details += 1;
                self.examples.push("", "same_details", line, "");
            }
        }
        for (i, value) in canonical.iter().enumerate().skip(nf) {
            if self.inputs[i].kind != "exact" {
                continue;
            }
            if let Some(v) = value {
                let first = *self
                    .identifiers
                    .entry((i, v.as_ref().into()))
                    .or_insert(own);
                if first != own {
                    self.likely.same_identifier += 1;
                    self.examples.push("", "same_identifier", line, "");
                }
            }
        }
        if let (Some(f), Some(s)) = (self.forename, self.surname)
            && let (Some(fv), Some(sv)) = (&canonical[f], &canonical[s])
        {
            let (fh, sh) = (fx(fv), fx(sv));
            if fv == sv {
                self.inputs[f].check(&mut self.examples, Check::SameForenameAndSurname, line, fv);
            }
            self.names.push((fh, sh, line));
            if self.name_values.len() < 4096 {
                self.name_values.entry(fh).or_insert_with(|| fv.to_string());
                self.name_values.entry(sh).or_insert_with(|| sv.to_string());
            }
        }
    }

    /// Judge one value: count its outcome, run its checks, and give its canonical form when it
    /// will be encoded.
    fn judge<'v>(&mut self, i: usize, line: u64, raw: &'v str) -> Option<Cow<'v, str>> {
        let input = &mut self.inputs[i];
        if !input.held {
            return None;
        }
        let examples = &mut self.examples;
        let name_role = matches!(input.role, Role::Forename | Role::Name);
        if name_role && !raw.trim().is_empty() {
            if all_capitals(raw) {
                *input.checks.entry(Check::AllCapitals).or_default() += 1;
            }
            if crate::mapping::has_title(raw) {
                input.check(examples, Check::TitleInName, line, raw);
            }
            if wrong_column(raw) {
                input.check(examples, Check::WrongColumn, line, raw);
            } else if raw.bytes().any(|b| b.is_ascii_digit()) {
                input.check(examples, Check::DigitsInName, line, raw);
            }
        }
        if input.role == Role::Postcode {
            let compact: String = raw
                .chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_uppercase)
                .collect();
            if compact.len() == 7 && compact.starts_with("ZZ99") {
                input.check(examples, Check::PseudoPostcode, line, raw);
            } else if outward_only(raw) {
                input.check(examples, Check::PartialPostcode, line, raw);
                input.explained += 1;
            }
        }
        let normalized = match &input.normalizer {
            Some(n) => n.apply(raw),
            None if input.kind == "feature" => Normalized::Value(Cow::Borrowed(raw)),
            None => match raw.trim() {
                "" => Normalized::Missing,
                v => Normalized::Value(Cow::Borrowed(v)),
            },
        };
        let value: Cow<'v, str> = match normalized {
            Normalized::Missing => {
                input.missing += 1;
                return None;
            }
            Normalized::Invalid => {
                input.invalid += 1;
                examples.push(&input.name, "invalid", line, raw);
                return None;
            }
            Normalized::Value(v) => v,
        };
        let value = match &input.hashing {
            Some(h) => match clk_value(h, &value) {
                Err(_) => {
                    input.refused += 1;
                    examples.push(&input.name, "refused", line, raw);
                    return None;
                }
                Ok((_, FieldOutcome::Missing)) => {
                    input.missing += 1;
                    return None;
                }
                Ok((v, _)) if v.is_empty() => {
                    input.missing += 1;
                    return None;
                }
                Ok(_) => value,
            },
            None => value,
        };
        input.present += 1;
        match input.role {
            Role::Date => {
                let ymd = match (&input.normalizer, &input.date_format) {
                    (Some(Normalizer::Date(d)), _) => d.parse(raw),
                    (_, Some(f)) => f.parse_date(raw.trim()),
                    _ => None,
                };
                if let Some(d) = ymd {
                    input.dates += 1;
                    if d.year < 1900
                        || d.year >= 9000
                        || (d.year == 1900 && d.month == 1 && d.day == 1)
                    {
                        input.flagged.insert(value.as_ref().into());
                        input.check(examples, Check::PlaceholderDate, line, raw);
                    } else if d > self.as_of {
                        input.check(examples, Check::FutureDate, line, raw);
                    } else if d.day == 1 {
                        if d.month == 1 {
                            input.january_first += 1;
                            examples.push(&input.name, Check::JanuaryFirst.name(), line, raw);
                        } else {
                            input.first_of_month += 1;
                            examples.push(&input.name, Check::FirstOfMonth.name(), line, raw);
                        }
                    }
                }
            }
            Role::Nhs if value.starts_with("999") => {
                input.check(examples, Check::TestNhsNumber, line, raw);
            }
            Role::Forename | Role::Name if placeholder_name(&normalize::name(&value)) => {
                input.flagged.insert(value.as_ref().into());
                input.check(examples, Check::PlaceholderName, line, raw);
            }
            _ => {}
        }
        // Names are counted (and compared across records) as the name normaliser reads them, also
        // in a plain clkhash schema where nothing normalises them.
        let value = match input.role {
            Role::Forename | Role::Name if input.normalizer.is_none() => {
                Cow::Owned(normalize::name(&value))
            }
            _ => value,
        };
        if !matches!(input.role, Role::Plain | Role::Nhs) {
            *input.values.entry(value.as_ref().into()).or_default() += 1;
        }
        Some(value)
    }

    /// The profile, and the examples behind it.
    pub fn finish(mut self) -> (Profile, Examples) {
        let records = self.records;
        // Dates: 1 January and the 1st of other months against chance (a date of birth is on one
        // day in 365.25, and on the 1st of a month other than January 11 times in 365.25).
        for input in &mut self.inputs {
            let n = input.dates as f64;
            for (count, days, check) in [
                (input.january_first, 1.0, Check::JanuaryFirst),
                (input.first_of_month, 11.0, Check::FirstOfMonth),
            ] {
                let expected = n * days / 365.25;
                let seen = count as f64;
                if count >= 5 && seen > 3.0 * expected + 3.0 * expected.sqrt() {
                    input.checks.insert(check, (seen - expected).round() as u64);
                } else {
                    self.examples
                        .by_problem
                        .remove(&(input.name.clone(), check.name().to_owned()));
                }
            }
            // Values far commoner than a real one would be.
            let (share, least) = match input.role {
                Role::Forename | Role::Name => (0.03, 10),
                Role::Date => (0.01, 10),
                Role::Postcode | Role::Other => (0.05, 20),
                // House numbers repeat by nature; NHS numbers repeat only as duplicates, counted
                // apart.
                Role::Address | Role::Nhs | Role::Plain => continue,
            };
            let present = input.present.max(1) as f64;
            // A stand-in stands out from the values around it: at least three times as common as
            // the tenth commonest (a family's surname in a small extract is common, but so are
            // the next few). And it stands out in a field of many values, not among a few
            // categories (a state, a title): the ten commonest other values hold under half.
            let mut counts: Vec<u32> = input.values.values().copied().collect();
            counts.sort_unstable_by(|a, b| b.cmp(a));
            let tenth = counts.get(9).or(counts.last()).copied().unwrap_or(0);
            let top_others = |c: u32| -> f64 {
                let mut skipped = false;
                let sum: u32 = counts
                    .iter()
                    .filter(|&&x| {
                        let skip = x == c && !skipped;
                        skipped |= skip;
                        !skip
                    })
                    .take(10)
                    .sum();
                f64::from(sum) / present
            };
            let mut repeated: Vec<(&str, u32)> = input
                .values
                .iter()
                .filter(|(v, c)| {
                    **c >= least
                        && f64::from(**c) / present >= share
                        && **c >= 3 * tenth
                        && top_others(**c) < 0.5
                        && !input.flagged.contains(*v)
                })
                .map(|(v, c)| (v.as_ref(), *c))
                .collect();
            repeated.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let total: u64 = repeated.iter().map(|(_, c)| u64::from(*c)).sum();
            if total > 0 {
                input.checks.insert(Check::RepeatedValue, total);
                for (v, c) in repeated.iter().take(EXAMPLES) {
                    self.examples
                        .push(&input.name, Check::RepeatedValue.name(), u64::from(*c), v);
                }
            }
        }
        // Swapped names: a forename seen more often as a surname, with a surname seen more often as
        // a forename, each at least twice.
        if let (Some(f), Some(s)) = (self.forename, self.surname) {
            let count = |i: usize| -> FxHashMap<u64, u32> {
                let mut m = FxHashMap::default();
                for (v, c) in &self.inputs[i].values {
                    *m.entry(fx(v)).or_default() += *c;
                }
                m
            };
            let (fore, sur) = (count(f), count(s));
            let get = |m: &FxHashMap<u64, u32>, h: u64| m.get(&h).copied().unwrap_or(0);
            let mut swapped = 0;
            for &(fh, sh, line) in &self.names {
                let f_as_surname = get(&sur, fh);
                let s_as_forename = get(&fore, sh);
                if f_as_surname >= 2
                    && s_as_forename >= 2
                    && f_as_surname > get(&fore, fh).saturating_sub(1)
                    && s_as_forename > get(&sur, sh).saturating_sub(1)
                {
                    swapped += 1;
                    let shown = format!(
                        "{} / {}",
                        self.name_values.get(&fh).map_or("…", String::as_str),
                        self.name_values.get(&sh).map_or("…", String::as_str)
                    );
                    self.examples.push(
                        &self.inputs[f].name,
                        Check::SwappedNames.name(),
                        line,
                        &shown,
                    );
                }
            }
            if swapped > 0 {
                self.inputs[f].checks.insert(Check::SwappedNames, swapped);
            }
        }
        let dup_rows: u64 = self
            .ids
            .values()
            .filter(|&&c| c > 1)
            .map(|&c| u64::from(c))
            .sum();
        let duplicate_ids = DuplicateIds {
            id_column: self.has_id,
            ids: self.ids.values().filter(|&&c| c > 1).count() as u64,
            rows: dup_rows,
            empty: self.empty_ids,
        };
        let fields: Vec<FieldProfile> = self
            .inputs
            .iter()
            .map(|i| FieldProfile {
                name: i.name.clone(),
                kind: i.kind,
                held: i.held,
                normalize: i.normalizer.as_ref().map(Normalizer::name),
                present: i.present,
                missing: i.missing,
                invalid: i.invalid,
                refused: i.refused,
                distinct: (!matches!(i.role, Role::Plain | Role::Nhs))
                    .then_some(i.values.len() as u64),
                checks: i.checks.iter().map(|(c, n)| (c.name(), *n)).collect(),
            })
            .collect();
        let verdict = verdict(
            records,
            &self.inputs,
            &duplicate_ids,
            &self.effect,
            &self.likely,
        );
        let profile = Profile {
            format: "kith-profile",
            version: PROFILE_VERSION,
            party: self.party,
            schema_fingerprint: self.fingerprint,
            as_of: format!(
                "{:04}-{:02}-{:02}",
                self.as_of.year, self.as_of.month, self.as_of.day
            ),
            records,
            fields,
            duplicate_ids,
            likely_duplicates: self.likely,
            linkage: self.effect,
            verdict,
        };
        (profile, self.examples)
    }
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

fn verdict(
    records: u64,
    inputs: &[Input],
    ids: &DuplicateIds,
    effect: &LinkageEffect,
    likely: &LikelyDuplicates,
) -> Verdict {
    // (weight, weight × records, problem)
    let mut problems: Vec<(u64, u64, Problem)> = Vec::new();
    let mut push = |weight: u64,
                    field: &str,
                    problem: &str,
                    n: u64,
                    what: &str,
                    effect: &str,
                    advice: &str| {
        if n > 0 && weight > 0 {
            problems.push((
                weight,
                weight * n,
                Problem {
                    field: field.to_owned(),
                    problem: problem.to_owned(),
                    records: n,
                    what: what.to_owned(),
                    effect: effect.to_owned(),
                    advice: advice.to_owned(),
                },
            ));
        }
    };
    push(
        4,
        "",
        "duplicate_ids",
        ids.rows + ids.empty,
        "local IDs used by more than one row, or empty",
        "the holder cannot tell which of its rows a returned link is about",
        "give every row its own ID (or drop exact duplicate rows)",
    );
    for i in inputs.iter().filter(|i| i.held) {
        push(
            4,
            &i.name,
            "refused",
            i.refused,
            "values the schema's format refuses",
            "kith encode stops at the first (or skips the row with --on-error skip)",
            "correct the values, or agree a schema whose format accepts them",
        );
        push(
            2,
            &i.name,
            "invalid",
            i.invalid.saturating_sub(i.explained),
            "values the normaliser cannot read",
            "encoded as missing: this field gives no evidence for them",
            if i.role == Role::Date {
                "correct the dates, or give their format in the mapping's date_formats"
            } else {
                "correct the values (see the examples)"
            },
        );
        // Missing values only count where they are many: most fields are missing somewhere.
        if share(i.missing, records) > 0.05 && i.kind != "criterion" {
            push(
                1,
                &i.name,
                "missing",
                i.missing,
                "empty values and codes for unknown",
                "this field gives no evidence for them",
                "fill them from the source system if it holds them",
            );
        }
        for (c, n) in &i.checks {
            push(
                c.weight(),
                &i.name,
                c.name(),
                *n,
                c.label(),
                c.effect(),
                c.advice(),
            );
        }
    }
    // Missing values come last: a holder can seldom fill them, and can fix the rest.
    problems.sort_by(|a, b| {
        (a.2.problem == "missing")
            .cmp(&(b.2.problem == "missing"))
            .then(b.1.cmp(&a.1))
            .then(a.2.field.cmp(&b.2.field))
            .then(a.2.problem.cmp(&b.2.problem))
    });
    let lost = records - effect.linkable;
    let mut reasons = Vec::new();
    let pct = |n: u64| 100.0 * share(n, records);
    let unfit = share(lost, records) > 0.20
        || share(ids.rows + ids.empty, records) > 0.05
        || inputs.iter().any(|i| share(i.refused, records) > 0.05)
        || records == 0;
    if records == 0 {
        reasons.push("the extract has no records".to_owned());
    }
    if lost > 0 {
        reasons.push(format!(
            "{lost} records ({:.1}%) cannot be linked: {} have no blocking key and no exact identifier, {} too few fields",
            pct(lost),
            effect.no_blocking_key,
            effect.too_few_fields
        ));
    }
    if ids.rows + ids.empty > 0 {
        reasons.push(format!(
            "{} rows ({:.1}%) share a local ID with another row or have none",
            ids.rows + ids.empty,
            pct(ids.rows + ids.empty)
        ));
    }
    for i in inputs.iter().filter(|i| i.refused > 0) {
        reasons.push(format!(
            "{} values of {} ({:.1}%) are refused by the schema's format",
            i.refused,
            i.name,
            pct(i.refused)
        ));
    }
    // Problems that make the verdict: those that cost evidence (weight 2 and up, not missing
    // values, which are reported but seldom fixable) in more than one record in a hundred.
    let serious: Vec<&Problem> = problems
        .iter()
        .filter(|(w, _, p)| *w >= 2 && p.problem != "missing" && share(p.records, records) > 0.01)
        .map(|(_, _, p)| p)
        .collect();
    for p in &serious {
        if !matches!(p.problem.as_str(), "refused" | "duplicate_ids") {
            reasons.push(format!(
                "{} of {}: {} records ({:.1}%)",
                p.what,
                p.field,
                p.records,
                pct(p.records)
            ));
        }
    }
    if likely.same_details + likely.same_identifier > 0 {
        reasons.push(format!(
            "{} records look like a second record of one person under another local ID ({} agree on every field, {} share an exact identifier); linkage will join them",
            likely.same_details + likely.same_identifier,
            likely.same_details,
            likely.same_identifier
        ));
    }
    let fit = if unfit {
        "not fit"
    } else if share(lost, records) > 0.02
        || ids.rows + ids.empty > 0
        || inputs.iter().any(|i| i.refused > 0)
        || !serious.is_empty()
    {
        "fit once fixed"
    } else {
        "fit"
    };
    Verdict {
        fit,
        reasons,
        fix_first: problems.into_iter().map(|(_, _, p)| p).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: [&str; 9] = [
        "id",
        "given_name",
        "surname",
        "dob",
        "sex",
        "postcode",
        "nhs_number",
        "address",
        "household_ref",
    ];

    fn profile(rows: &[[&str; 9]]) -> (Profile, Examples) {
        let schema =
            Schema::from_json_str(include_str!("../data/demo-schema.json")).expect("schema");
        let layout = Layout::resolve(&schema, None, Some("id"), &HEADER).expect("layout");
        let options = ProfileOptions {
            party: "council".to_owned(),
            extra_date_formats: BTreeMap::new(),
            as_of: Ymd {
                year: 2026,
                month: 12,
                day: 5,
            },
        };
        let mut p = Profiler::new(&schema, &layout, &options);
        for (i, row) in rows.iter().enumerate() {
            let (mut f, mut x) = (Vec::new(), Vec::new());
            layout.extract(row, &mut f, &mut x);
            p.add(i as u64 + 2, layout.local_id(row), &f, &x);
        }
        p.finish()
    }

    fn field<'p>(p: &'p Profile, name: &str) -> &'p FieldProfile {
        p.fields.iter().find(|f| f.name == name).expect("field")
    }

    /// A clean row: a distinct person per `i`, with names from pools of 48 forenames and 70
    /// surnames (none commoner than a real name would be).
    fn person(i: usize) -> [String; 9] {
        const A: [&str; 8] = ["Ma", "Jo", "Ka", "Li", "Sa", "Be", "Ro", "Ta"];
        const B: [&str; 6] = ["rin", "bel", "dan", "mon", "lia", "ther"];
        const C: [&str; 10] = [
            "Ash", "Brad", "Cal", "Dun", "Elm", "Fair", "Gold", "Hart", "Ivy", "Kent",
        ];
        const D: [&str; 7] = ["ford", "well", "ton", "by", "ham", "ley", "wood"];
        [
            format!("C{i}"),
            format!("{}{}", A[i % 8], B[(i / 8) % 6]),
            format!("{}{}", C[(i / 3) % 10], D[(i / 30) % 7]),
            format!("{:02}/{:02}/{}", 2 + i % 27, 1 + i % 12, 1950 + i % 60),
            if i.is_multiple_of(2) { "F" } else { "M" }.to_owned(),
            format!("LS{} {}AB", 1 + i % 9, i % 10),
            String::new(),
            format!("{} Mill Lane", i % 40),
            format!("H{}", i / 3),
        ]
    }

    fn rows(people: &[[String; 9]]) -> Vec<[&str; 9]> {
        people
            .iter()
            .map(|p| std::array::from_fn(|i| p[i].as_str()))
            .collect()
    }

    #[test]
    fn a_clean_extract_is_fit_to_link() {
        let people: Vec<_> = (0..400).map(person).collect();
        let (p, _) = profile(&rows(&people));
        assert_eq!(p.records, 400);
        assert_eq!(p.verdict.fit, "fit", "{:?}", p.verdict);
        assert_eq!(p.linkage.linkable, 400);
        assert_eq!(p.duplicate_ids.rows, 0);
        for f in p.fields.iter().filter(|f| f.held && f.kind == "feature") {
            assert!(f.checks.is_empty(), "{}: {:?}", f.name, f.checks);
        }
    }

    #[test]
    fn placeholder_test_and_partial_values_are_named_with_their_lines() {
        let mut people: Vec<_> = (0..200).map(person).collect();
        people[3][3] = "01/01/1900".to_owned();
        people[4][3] = "2031-05-01".to_owned();
        people[5][6] = "999 000 0018".to_owned();
        people[6][5] = "ZZ99 3VZ".to_owned();
        people[7][5] = "LS6".to_owned();
        people[8][1] = "BABY".to_owned();
        people[9][1] = "Mrs Ann".to_owned();
        people[10][1] = "LS6 2AB".to_owned();
        people[11][2] = "Ashford2".to_owned();
        people[12][1] = people[12][2].clone();
        let (p, ex) = profile(&rows(&people));
        let checks = |f: &str| field(&p, f).checks.clone();
        assert_eq!(checks("dob").get("placeholder_date"), Some(&1));
        assert_eq!(checks("dob").get("future_date"), Some(&1));
        assert_eq!(checks("nhs_number").get("test_nhs_number"), Some(&1));
        assert_eq!(checks("postcode").get("pseudo_postcode"), Some(&1));
        assert_eq!(checks("postcode").get("partial_postcode"), Some(&1));
        assert_eq!(checks("given_name").get("placeholder_name"), Some(&1));
        assert_eq!(checks("given_name").get("title_in_name"), Some(&1));
        assert_eq!(checks("given_name").get("wrong_column"), Some(&1));
        assert_eq!(checks("surname").get("digits_in_name"), Some(&1));
        assert_eq!(
            checks("given_name").get("same_forename_and_surname"),
            Some(&1)
        );
        assert_eq!(
            ex.of("dob", "placeholder_date"),
            &[(5, "01/01/1900".to_owned())]
        );
        assert_eq!(ex.of("postcode", "partial_postcode")[0].0, 9);
        // The partial postcode is invalid, and explained: it is not a second problem.
        assert_eq!(field(&p, "postcode").invalid, 1);
        assert!(
            !p.verdict
                .fix_first
                .iter()
                .any(|f| f.field == "postcode" && f.problem == "invalid")
        );
        assert_eq!(
            p.verdict.fit, "fit",
            "each problem is under 1%: {:?}",
            p.verdict
        );
    }

    #[test]
    fn the_first_of_january_is_flagged_only_in_excess() {
        // Spread over the year: no excess.
        let people: Vec<_> = (0..730)
            .map(|i| {
                let mut p = person(i);
                let d = 1 + (i % 365) as i64;
                let date = jiff::civil::date(1980, 1, 1)
                    .checked_add(jiff::Span::new().days(d - 1))
                    .expect("a date");
                p[3] = format!("{:02}/{:02}/{}", date.day(), date.month(), 1960 + i % 40);
                p
            })
            .collect();
        let (p, _) = profile(&rows(&people));
        assert!(field(&p, "dob").checks.is_empty(), "{:?}", field(&p, "dob"));
        // One in ten on 1 January: about 70 more than the 2 chance gives.
        let mut people = people;
        for p in people.iter_mut().step_by(10) {
            p[3] = format!("01/01/{}", &p[3][6..]);
        }
        let (p, ex) = profile(&rows(&people));
        let excess = field(&p, "dob").checks["january_first"];
        assert!((65..=75).contains(&excess), "{excess}");
        assert!(!ex.of("dob", "january_first").is_empty());
    }

    #[test]
    fn a_stand_in_value_far_commoner_than_a_name_is_flagged() {
        let mut people: Vec<_> = (0..400).map(person).collect();
        for p in people.iter_mut().step_by(20) {
            p[2] = "Xyzzy".to_owned();
        }
        let (p, ex) = profile(&rows(&people));
        assert_eq!(field(&p, "surname").checks.get("repeated_value"), Some(&20));
        assert_eq!(
            ex.of("surname", "repeated_value"),
            &[(20, "xyzzy".to_owned())]
        );
        // Twenty of one value in forty records is not a stand-in when the extract has only a few
        // distinct values, each about as common.
        let mut few: Vec<_> = (0..40).map(person).collect();
        for (i, p) in few.iter_mut().enumerate() {
            p[2] = ["Ashford", "Bradwell"][i % 2].to_owned();
        }
        let (few, _) = profile(&rows(&few));
        assert!(
            field(&few, "surname").checks.is_empty(),
            "{:?}",
            field(&few, "surname")
        );
    }

    #[test]
    fn swapped_names_are_found_from_the_extract_itself() {
        let mut people: Vec<_> = (0..400).map(person).collect();
        for i in [17, 101, 230] {
            let (f, s) = (people[i][1].clone(), people[i][2].clone());
            people[i][1] = s;
            people[i][2] = f;
        }
        let (p, ex) = profile(&rows(&people));
        assert_eq!(
            field(&p, "given_name").checks.get("swapped_names"),
            Some(&3)
        );
        let lines: Vec<u64> = ex
            .of("given_name", "swapped_names")
            .iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(lines, [19, 103, 232]);
    }

    #[test]
    fn duplicates_and_records_linkage_cannot_find_are_counted() {
        let mut people: Vec<_> = (0..100).map(person).collect();
        people[1][0] = "C0".to_owned(); // a duplicate local ID
        people[2][0] = String::new(); // no ID
        people[3] = person(50); // person 50 again, under another ID
        people[3][0] = "C3".to_owned();
        people[4] = person(60);
        people[4][0] = "C4".to_owned();
        people[4][6] = "400 000 0004".to_owned();
        people[60][6] = "4000000004".to_owned(); // one NHS number under two IDs
        // Nothing to block on and no NHS number: only a sex and an address.
        people[5] = ["C5", "", "", "", "F", "", "", "1 Mill Lane", "H9"].map(str::to_owned);
        let (p, _) = profile(&rows(&people));
        assert_eq!(
            p.duplicate_ids,
            DuplicateIds {
                id_column: true,
                ids: 1,
                rows: 2,
                empty: 1
            }
        );
        assert_eq!(p.likely_duplicates.same_details, 2);
        assert_eq!(p.likely_duplicates.same_identifier, 1);
        assert_eq!(p.linkage.no_blocking_key, 1);
        assert_eq!(p.linkage.too_few_fields, 1);
        assert_eq!(p.linkage.linkable, 99);
        assert_eq!(p.verdict.fit, "fit once fixed", "{:?}", p.verdict);
        assert_eq!(p.verdict.fix_first[0].problem, "duplicate_ids");
    }

    #[test]
    fn an_extract_with_a_fifth_unlinkable_is_not_fit() {
        let mut people: Vec<_> = (0..100).map(person).collect();
        for p in people.iter_mut().take(25) {
            p[1].clear();
            p[2].clear();
            p[3].clear();
        }
        let (p, _) = profile(&rows(&people));
        assert_eq!(p.linkage.no_blocking_key, 25);
        assert_eq!(p.linkage.too_few_fields, 25);
        assert_eq!(p.verdict.fit, "not fit", "{:?}", p.verdict);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_value_has_one_outcome_and_no_value_reaches_the_profile(
            values in prop::collection::vec(
                prop::collection::vec("[QXZJKVWY]{6,10}|[0-9/ -]{0,12}|", 9),
                1..40,
            )
        ) {
            let rows: Vec<[&str; 9]> = values
                .iter()
                .map(|r| std::array::from_fn(|i| r[i].as_str()))
                .collect();
            let (p, _) = profile(&rows);
            prop_assert_eq!(p.records, rows.len() as u64);
            for f in p.fields.iter().filter(|f| f.held) {
                prop_assert_eq!(
                    f.present + f.missing + f.invalid + f.refused,
                    p.records,
                    "{}", &f.name
                );
            }
            let json = serde_json::to_string(&p).expect("json");
            for v in values.iter().flatten().filter(|v| v.len() >= 6 && v.chars().all(|c| c.is_ascii_uppercase())) {
                prop_assert!(!json.contains(v.as_str()) && !json.contains(&v.to_lowercase()), "{v} in {json}");
            }
        }
    }
}
