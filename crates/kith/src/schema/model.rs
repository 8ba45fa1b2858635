//! The schema model: `clkConfig`, features and their hashing, and the `kith` section.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::canonical::canonical_format;
use crate::datefmt::DateFormat;
use crate::normalize::Normalizer;

/// `clkConfig`: output length, folding and key derivation.
#[derive(Debug, Clone, PartialEq)]
pub struct ClkConfig {
    /// Output length in bits, after folding.
    pub l: u32,
    /// Number of XOR folds (read from `xor_folds`; see the `xorFolds` quirk in the spec).
    pub xor_folds: u32,
    /// Key derivation.
    pub kdf: Kdf,
}

/// HKDF parameters.
#[derive(Clone, PartialEq, Eq)]
pub struct Kdf {
    /// Hash used by HKDF.
    pub hash: KdfHash,
    /// Salt, decoded from base64; `None` when absent.
    pub salt: Option<Vec<u8>>,
    /// Info, decoded from base64; `None` when absent (used as empty).
    pub info: Option<Vec<u8>>,
    /// Size of each derived key in bytes.
    pub key_size: usize,
}

impl std::fmt::Debug for Kdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kdf")
            .field("hash", &self.hash)
            .field("salt_len", &self.salt.as_ref().map(Vec::len))
            .field("info_len", &self.info.as_ref().map(Vec::len))
            .field("key_size", &self.key_size)
            .finish()
    }
}

/// HKDF hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KdfHash {
    /// SHA-256 (the default).
    Sha256,
    /// SHA-512.
    Sha512,
}

/// One schema feature (one CSV column in clkhash terms).
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// The feature's identifier.
    pub identifier: String,
    /// How it is hashed; `None` for an ignored feature.
    pub hashing: Option<FeatureHashing>,
}

/// How a non-ignored feature is formatted, tokenised and hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureHashing {
    /// Value format and its validation.
    pub format: Format,
    /// Text encoding that turns tokens into bytes.
    pub encoding: TextEncoding,
    /// Tokenisation.
    pub comparison: Comparison,
    /// Bits per token.
    pub strategy: Strategy,
    /// Hash that maps a token to bit indices.
    pub hash: HashKind,
    /// Missing-value sentinel and replacement.
    pub missing: Option<MissingValue>,
}

/// The `format` of a feature.
#[derive(Debug, Clone)]
pub enum Format {
    /// Free text, optionally checked against a pattern or case and length rules.
    String {
        /// A regular expression the whole value must match.
        pattern: Option<Pattern>,
        /// Required case.
        case: Case,
        /// Minimum length in code points.
        min_length: Option<u64>,
        /// Maximum length in code points.
        max_length: Option<u64>,
    },
    /// A base-10 integer, reformatted as Python's `str(int(v))`.
    Integer {
        /// Smallest value accepted.
        minimum: Option<i64>,
        /// Largest value accepted.
        maximum: Option<i64>,
    },
    /// A date read with a `strptime` format and written as `%Y%m%d`.
    Date(DateFormat),
    /// One of a fixed set of strings.
    Enum(Vec<String>),
}

impl PartialEq for Format {
    fn eq(&self, other: &Self) -> bool {
        canonical_format(self) == canonical_format(other)
    }
}

/// A compiled `pattern` with its source.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern as written in the schema.
    pub source: String,
    /// Compiled for a whole-string match.
    pub regex: regex::Regex,
}

/// Case rule of a string format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Upper case only.
    Upper,
    /// Lower case only.
    Lower,
    /// Anything (the default).
    Mixed,
}

/// Token-to-bytes encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// ASCII; other characters are an invalid entry.
    Ascii,
    /// UTF-8 (the default).
    Utf8,
    /// Python's `utf-16`: a BOM then UTF-16LE, for every token.
    Utf16,
    /// Python's `utf-32`: a BOM then UTF-32LE, for every token.
    Utf32,
}

/// How a value is cut into tokens.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// n-grams of code points, padded with n-1 spaces on each side when n > 1.
    Ngram {
        /// n.
        n: usize,
        /// Prefix each gram with its 1-based position.
        positional: bool,
    },
    /// The whole value is one token.
    Exact,
    /// Numbers near each other share tokens.
    Numeric(NumericComparison),
}

/// Parameters of a numeric comparison, with the derived integer distance.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericComparison {
    /// `thresholdDistance` as written.
    pub threshold_distance: serde_json::Number,
    /// `resolution`.
    pub resolution: u32,
    /// `fractional_precision`.
    pub fractional_precision: u32,
    /// `int(round(thresholdDistance * 10**fractional_precision))`, always positive.
    pub distance: i128,
}

/// Bits per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Every token gets k bits.
    BitsPerToken(u32),
    /// The feature's tokens share this many bits.
    BitsPerFeature(u32),
}

/// The hash that maps a token to bit indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// Keyed BLAKE2b (the default).
    Blake,
    /// HMAC-SHA1 and HMAC-MD5 double hashing.
    Double {
        /// Re-hash while the second hash is 0 mod L.
        prevent_singularity: bool,
    },
}

/// `missingValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingValue {
    /// The exact string that means missing.
    pub sentinel: String,
    /// What to hash instead; the sentinel itself when absent.
    pub replace_with: Option<String>,
}

impl MissingValue {
    /// The value hashed in place of the sentinel.
    pub fn replacement(&self) -> &str {
        self.replace_with.as_deref().unwrap_or(&self.sentinel)
    }
}

/// The `kith` section: everything kith adds to a clkhash v3 schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KithSection {
    /// The section's version (1), or 0 when the schema has no `kith` section.
    pub version: i64,
    /// Default local ID column for holders (a holder may override it).
    pub id_column: Option<String>,
    /// Normalisers per feature identifier.
    pub normalize: BTreeMap<String, Normalizer>,
    /// Identifiers encoded as keyed exact-match tokens rather than in the CLK.
    pub exact: Vec<ExactIdentifier>,
    /// Keyed blocking keys, computed by holders at encode time.
    pub blocking: Vec<BlockingKey>,
    /// Field-level Bloom filters, for field-by-field scoring at the linkage party.
    pub fields: Vec<FieldFilter>,
    /// The twin rule for field scoring, if any.
    pub twins: Option<TwinRule>,
    /// What holders encode about households, if anything.
    pub household: Option<Household>,
    /// Criteria flags holders may attach to records (an identification run's criteria).
    pub criteria: Vec<Criterion>,
    /// Coarse areas sent in clear for aggregate counts (`kith patterns`), by name.
    pub areas: Vec<Area>,
    /// Hardening of the CLK itself (none by default: CLKs stay byte-identical to clkhash's).
    pub clk: ClkHardening,
}

/// Hardening applied to each CLK after folding, in this order: rule 90, rehashing, BLIP,
/// balancing. Any of
/// them makes CLKs differ from clkhash's, so that a partner using anonlink's tools cannot link
/// with them; it is an explicit choice in the schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClkHardening {
    /// Rule 90: each bit becomes the XOR of its two neighbours (cyclically), so that no bit
    /// position belongs to a single token.
    pub rule90: bool,
    /// Randomised response: each bit flipped with probability `1 / (1 + e^ε)` by a keyed stream
    /// per record token; this is `ε`.
    pub blip: Option<f64>,
    /// Balancing: the CLK followed by its complement, both permuted by a keyed permutation, so
    /// that every CLK has the same number of set bits (and twice the length).
    pub balance: bool,
    /// Rehashing (Schnell 2018): each window of the CLK's bits, read as a number, seeds a keyed
    /// stream that sets `k` bits of a new CLK of the same length.
    pub rehash: Option<Rehash>,
    /// Date features hash their parts (`"dates": "parts"`: the year five times over, the month,
    /// the day, the day and month as a pair, as [`FieldTokens::Date`]) instead of their digits by
    /// position, so that the CLK does not lay out a date digit by digit.
    pub date_parts: bool,
    /// Record-level salt: the CLK's bits (after folding) are permuted by a keyed permutation
    /// chosen by this part of the record (a missing salt is a salt of its own), so that CLKs
    /// compare only between records whose salts agree.
    pub salt: Option<BlockingPart>,
}

/// Rehashing's windows: `window` bits wide, a new one every `step` bits, `k` bits set per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rehash {
    /// Bits per window (1 to 32).
    pub window: u32,
    /// Bits from one window's start to the next's (1 to `window`).
    pub step: u32,
    /// Bits set per window.
    pub k: u32,
}

impl ClkHardening {
    /// True when any hardening is set.
    pub fn any(&self) -> bool {
        self.rule90
            || self.blip.is_some()
            || self.balance
            || self.rehash.is_some()
            || self.date_parts
            || self.salt.is_some()
    }
}

/// What holders encode about households: keyed tokens that let the linkage party group linked
/// people into families without seeing an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    /// The dwelling token: the postcode feature's normalised value and the premise (house and flat
    /// numbers) of an address input, HMAC'd together. Neighbours and flats of one building differ.
    pub dwelling: Option<Dwelling>,
    /// The name of an input carrying the holder's own household grouping (a council's household
    /// register reference), encoded as a token keyed to the holder, so that it groups only that
    /// holder's records.
    pub register: Option<String>,
}

/// Where a dwelling token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dwelling {
    /// The feature holding the postcode.
    pub postcode: String,
    /// The name of the input holding the address line (not a feature: it is never hashed into a
    /// CLK, only its premise into the dwelling token).
    pub address: String,
}

/// A criterion flag: one yes/no input, carried to the linkage party as a flag only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion {
    /// Its name: the input's name in mappings and its column (`flag:<name>`) in encodings files.
    pub name: String,
}

/// A coarse area a holder sends in clear beside its encodings (`area:<name>` columns): a
/// postcode's district or area, for aggregate counts by area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Area {
    /// Its name: the column `area:<name>` in encodings files.
    pub name: String,
    /// The feature and the (coarse) transform it is taken by.
    pub part: BlockingPart,
}

/// What one keyed input (an input that is not a CLK feature) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// An exact identifier.
    Exact,
    /// The address line of the dwelling token.
    Address,
    /// The holder's household register reference.
    Register,
    /// A criterion flag.
    Criterion,
}

impl KithSection {
    /// The inputs other than CLK features, in the order an encoder takes their values: the exact
    /// identifiers, then the household inputs (address, register), then the criteria.
    pub fn keyed_inputs(&self) -> Vec<(&str, InputKind)> {
        let mut v: Vec<(&str, InputKind)> = self
            .exact
            .iter()
            .map(|e| (e.name.as_str(), InputKind::Exact))
            .collect();
        if let Some(h) = &self.household {
            if let Some(d) = &h.dwelling {
                v.push((d.address.as_str(), InputKind::Address));
            }
            if let Some(r) = &h.register {
                v.push((r.as_str(), InputKind::Register));
            }
        }
        v.extend(
            self.criteria
                .iter()
                .map(|c| (c.name.as_str(), InputKind::Criterion)),
        );
        v
    }
}

/// Which field-level filters tell twins from duplicates: two records of one holder that agree on
/// every `agree` field but one of whose `differ` fields clearly disagrees are possible twins,
/// never merged as duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwinRule {
    /// The fields that may differ between twins (the forename, the sex); written in the schema as
    /// one name or a list.
    pub differ: Vec<String>,
    /// The fields twins share (date of birth, surname).
    pub agree: Vec<String>,
    /// The fields each person holds a value of their own in (an identity number typed by hand,
    /// compared through its field filter): when one agrees, two records are not twins or
    /// relatives, whatever the others say. Empty unless the schema names them.
    pub personal: Vec<String>,
}

/// A field-level Bloom filter: one feature's tokens (as its CLK hashing makes them) hashed, under
/// a key of their own, into a small filter of their own, so that the linkage party can compare
/// records field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFilter {
    /// The feature identifier (also the filter's column name).
    pub feature: String,
    /// Filter length in bits (a multiple of 64, at most 1024).
    pub bits: u32,
    /// Bits set per token.
    pub k: u32,
    /// Key group: filters with the same group are hashed under one key, so the linkage party can
    /// compare them crosswise (a forename entered as the surname).
    pub group: String,
    /// Which tokens go into the filter.
    pub tokens: FieldTokens,
    /// How a token's bits are placed.
    pub hash: FieldHash,
    /// Record-level salt: the value of this part of the record (another feature, cut as a
    /// blocking key cuts it) is hashed with every token, so that one value gives different
    /// filters in records with different salts. Two records compare only when their salts agree.
    pub salt: Option<BlockingPart>,
    /// Randomised response (BLIP): each bit of the finished filter is flipped with probability
    /// `1 / (1 + e^ε)`, by a keyed pseudo-random stream per record; this is `ε`.
    pub blip: Option<f64>,
    /// XOR folds: the filter's two halves XORed together, this many times (each halves it).
    pub folds: u32,
    /// Rule 90, rehashing and balancing, as [`ClkHardening`] describes them, applied after
    /// folding and before BLIP (balancing last); rehashing and balancing are keyed per group.
    pub rule90: bool,
    /// See [`ClkHardening::rehash`].
    pub rehash: Option<Rehash>,
    /// See [`ClkHardening::balance`].
    pub balance: bool,
}

impl FieldFilter {
    /// The filter's length as encoded: `bits` halved by each fold, doubled by balancing.
    pub fn encoded_bits(&self) -> u32 {
        (self.bits >> self.folds) * if self.balance { 2 } else { 1 }
    }

    /// The transforms that must agree across a key group for its filters to compare crosswise.
    pub fn transforms(&self) -> (u32, bool, Option<Rehash>, bool) {
        (self.folds, self.rule90, self.rehash, self.balance)
    }
}

/// How a field filter places a token's `k` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldHash {
    /// Double hashing (`"double"`, the default): `a + i·b (mod bits)` from the token's keyed hash.
    /// The `k` bits form an arithmetic progression, which an attacker can find in any filter
    /// without the key (see `kith audit`).
    #[default]
    Double,
    /// Random hashing (`"random"`): each bit's position is drawn from the token's keyed hash on
    /// its own, so the bits have no structure to find.
    Random,
}

impl FieldHash {
    /// Its name in the schema.
    pub fn name(self) -> &'static str {
        match self {
            FieldHash::Double => "double",
            FieldHash::Random => "random",
        }
    }
}

/// How a field filter's tokens are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldTokens {
    /// The feature's own CLK tokens (its `comparison`): `"clk"`, the default.
    #[default]
    Clk,
    /// A date's parts (`"date"`, for date features): the year five times over, the month, the
    /// day, and the day and month as an unordered pair. A swapped day and month, or one wrong
    /// day or month, keeps six of eight tokens (field Dice about 0.75); another year keeps at
    /// most three (about 0.38). Positional characters, the CLK's tokens, rate a year one digit
    /// out (1940 for 1945) as close as a day one out.
    Date,
    /// A date in two parts compared apart (`"date_parts"`): the year in the filter's first half,
    /// the day and month in its second. The year part holds the year and, twice each, the years
    /// from one before to one after it: a year one out keeps four of seven tokens (part Dice about
    /// 0.57), two out two (0.29). The day-and-month part holds the month, the day, three times the
    /// two as an unordered pair, and the month with each of the day's neighbours: swapped day and
    /// month, or a day one out, keep three of eight (about 0.4), a shared month or day alone one.
    /// A year typed one out with the right day and month, which one filter of the whole date
    /// cannot tell from a stranger born that year, is then evidence for a match.
    DateParts,
    /// The feature's bigrams and, as tokens of the same kind, the pairs of characters one apart
    /// (`"skips"`, for a feature compared by plain bigrams): `asif` gives ` a`, `as`, `si`, `if`,
    /// `f ` and ` s`, `ai`, `sf`, `i `. Two neighbouring letters typed the wrong way round (Asfi,
    /// Tnoi) break three bigrams, so that a short name keeps under half its filter and passes for
    /// another name (a twin's); with the pairs one apart it keeps all but three tokens a side
    /// (Dice 0.67 for four letters, 0.8 for seven). Names that differ otherwise gain little.
    Skips,
}

impl FieldTokens {
    /// Its name in the schema.
    pub fn name(self) -> &'static str {
        match self {
            FieldTokens::Clk => "clk",
            FieldTokens::Date => "date",
            FieldTokens::DateParts => "date_parts",
            FieldTokens::Skips => "skips",
        }
    }

    /// The names of the parts the filter is cut into, compared apart (empty: compared whole).
    pub fn parts(self) -> &'static [&'static str] {
        match self {
            FieldTokens::DateParts => &["year", "day_month"],
            FieldTokens::Clk | FieldTokens::Date | FieldTokens::Skips => &[],
        }
    }
}

/// A keyed blocking key: its parts are joined and HMAC'd into a 64-bit token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingKey {
    /// Its name: the token's column in encodings files.
    pub name: String,
    /// Its parts, in order.
    pub parts: Vec<BlockingPart>,
    /// The parts' values are sorted before they are joined, so that two records holding the same
    /// values in other parts share the key: a forename and surname entered the wrong way round
    /// (`{"parts": [...], "any_order": true}` in the schema).
    pub any_order: bool,
}

/// One part of a blocking key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingPart {
    /// The feature identifier it reads.
    pub feature: String,
    /// What it takes from the feature's normalised value.
    pub transform: crate::blocking::Transform,
}

/// An identifier (such as the NHS number) that becomes a keyed HMAC token.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactIdentifier {
    /// Its name: the token's column in encodings files.
    pub name: String,
    /// Normaliser applied first (whitespace is trimmed when none is given).
    pub normalize: Option<Normalizer>,
}

impl TwinRule {
    /// `differ` as the schema writes it: one name as a string (as schemas before lists wrote it,
    /// so that their fingerprints stay the same), several as a list.
    pub fn differ_json(&self) -> Value {
        match self.differ.as_slice() {
            [one] => json!(one),
            many => json!(many),
        }
    }
}

pub use kith_core::encodings::MAX_FIELD_FILTERS;
