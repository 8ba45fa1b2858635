//! Linkage schemas: clkhash v1, v2 and v3, plus kith's optional `kith` section.
//!
//! Loading follows clkhash 0.18.3 step for step: validate the document against its own version's
//! rules, convert v1 to v2 and v2 to v3 as clkhash does, validate the result as v3, then build the
//! model. Every error names the JSON path of the offending field (for v1 and v2 documents, a path in
//! the converted v3 form is marked as such). See `docs/schema.md` and `docs/clkhash-spec.md`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::datefmt::DateFormat;
use crate::error::SchemaError;
use crate::jsonpath::{
    JPath, as_bool, as_int, as_number, as_object, as_str, kind, no_other_keys, opt, required,
};
use crate::normalize::{DateNormalizer, Normalizer};

/// The version of the `kith` section this build reads and writes.
pub const KITH_SECTION_VERSION: i64 = 1;

/// A loaded, validated linkage schema.
#[derive(Debug, Clone)]
pub struct Schema {
    source_version: u8,
    clk: ClkConfig,
    features: Vec<Feature>,
    kith: KithSection,
    fingerprint: String,
}

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
}

/// A field-level Bloom filter: one feature's tokens (as its CLK hashing makes them) hashed, under
/// a key of their own, into a small filter of their own, so that the linkage party can compare
/// records field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl FieldTokens {
    /// Its name in the schema.
    pub fn name(self) -> &'static str {
        match self {
            FieldTokens::Clk => "clk",
            FieldTokens::Date => "date",
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

impl Schema {
    /// Load a schema from JSON text.
    pub fn from_json_str(text: &str) -> Result<Schema, SchemaError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            SchemaError::new(
                format!("line {} column {}", e.line(), e.column()),
                format!("the schema is not valid JSON: {e}"),
            )
        })?;
        Schema::from_value(&value)
    }

    /// Load a schema from a parsed JSON document.
    pub fn from_value(doc: &Value) -> Result<Schema, SchemaError> {
        let root = JPath::root();
        let top = doc.as_object().ok_or_else(|| {
            root.err(format!(
                "the top level of a schema must be an object, found {}",
                kind(doc)
            ))
        })?;
        let version = required(top, "version", &root)?;
        let version = match version.as_i64() {
            Some(v @ 1..=3) => v as u8,
            _ => {
                return Err(root.key("version").err(format!(
                    "schema version {version} is not supported (expected 1, 2 or 3)"
                )));
            }
        };
        let v3 = match version {
            1 => {
                validate_v1(top)?;
                let v2 = convert_v1_to_v2(top);
                validate_v2(&v2).map_err(converted)?;
                convert_v2_to_v3(&v2)
            }
            2 => {
                validate_v2(top)?;
                convert_v2_to_v3(top)
            }
            _ => top.clone(),
        };
        let (clk, features) =
            build_v3(&v3).map_err(|e| if version == 3 { e } else { converted(e) })?;
        let kith = match top.get("kith") {
            Some(k) => parse_kith(k, &root.key("kith"), &features)?,
            None => KithSection::default(),
        };
        let mut schema = Schema {
            source_version: version,
            clk,
            features,
            kith,
            fingerprint: String::new(),
        };
        schema.fingerprint = fingerprint_of(&schema.canonical_json());
        Ok(schema)
    }

    /// The version the document was written in (1, 2 or 3).
    pub fn source_version(&self) -> u8 {
        self.source_version
    }

    /// `clkConfig`.
    pub fn clk(&self) -> &ClkConfig {
        &self.clk
    }

    /// Features in schema order, ignored ones included.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The `kith` section (empty when absent).
    pub fn kith(&self) -> &KithSection {
        &self.kith
    }

    /// Whether the document had a `kith` section.
    pub fn has_kith_section(&self) -> bool {
        self.kith.version != 0
    }

    /// The CLK length in bits after folding.
    pub fn clk_bits(&self) -> u32 {
        self.clk.l
    }

    /// `sha256:<hex>` of the canonical form of everything that affects the encodings.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The canonical form hashed into the fingerprint: the schema as v3 with every default written
    /// out and descriptions dropped, plus the parts of the `kith` section that affect encodings.
    /// A holder's column mapping and default ID column are not part of it.
    pub fn canonical_json(&self) -> Value {
        let kdf = &self.clk.kdf;
        let features: Vec<Value> = self
            .features
            .iter()
            .map(|f| match &f.hashing {
                None => json!({"identifier": f.identifier, "ignored": true}),
                Some(h) => json!({
                    "identifier": f.identifier,
                    "format": canonical_format(&h.format),
                    "hashing": {
                        "encoding": match h.encoding {
                            TextEncoding::Ascii => "ascii",
                            TextEncoding::Utf8 => "utf-8",
                            TextEncoding::Utf16 => "utf-16",
                            TextEncoding::Utf32 => "utf-32",
                        },
                        "comparison": match &h.comparison {
                            Comparison::Ngram { n, positional } => json!({"type": "ngram", "n": n, "positional": positional}),
                            Comparison::Exact => json!({"type": "exact"}),
                            Comparison::Numeric(c) => json!({
                                "type": "numeric",
                                "thresholdDistance": c.threshold_distance,
                                "resolution": c.resolution,
                                "fractional_precision": c.fractional_precision,
                            }),
                        },
                        "strategy": match h.strategy {
                            Strategy::BitsPerToken(k) => json!({"bitsPerToken": k}),
                            Strategy::BitsPerFeature(k) => json!({"bitsPerFeature": k}),
                        },
                        "hash": match h.hash {
                            HashKind::Blake => json!({"type": "blakeHash"}),
                            HashKind::Double { prevent_singularity } => json!({"type": "doubleHash", "prevent_singularity": prevent_singularity}),
                        },
                        "missingValue": h.missing.as_ref().map(|m| json!({"sentinel": m.sentinel, "replaceWith": m.replace_with})),
                    },
                }),
            })
            .collect();
        let kith = if self.has_kith_section() {
            let mut k = json!({
                "version": self.kith.version,
                "normalize": self.kith.normalize.iter().map(|(k, n)| (k.clone(), canonical_normalizer(n))).collect::<Map<_, _>>(),
                "exact": self.kith.exact.iter().map(|e| json!({"name": e.name, "normalize": e.normalize.as_ref().map(canonical_normalizer)})).collect::<Vec<_>>(),
            });
            if !self.kith.blocking.is_empty() {
                // Only present when used, so that schemas without blocking keys keep their
                // fingerprints.
                k["blocking"] = self
                    .kith
                    .blocking
                    .iter()
                    .map(|b| {
                        json!({"name": b.name, "parts": b.parts.iter().map(|p| json!({"feature": p.feature, "transform": p.transform.name()})).collect::<Vec<_>>()})
                    })
                    .collect();
            }
            if !self.kith.fields.is_empty() {
                k["fields"] = self
                    .kith
                    .fields
                    .iter()
                    .map(|f| {
                        let mut v = json!({"feature": f.feature, "bits": f.bits, "k": f.k, "group": f.group});
                        // Only a non-default choice is written, so that schemas from before the
                        // choice existed keep their fingerprints.
                        if f.tokens != FieldTokens::Clk {
                            v["tokens"] = json!(f.tokens.name());
                        }
                        v
                    })
                    .collect();
            }
            if let Some(t) = &self.kith.twins {
                k["twins"] = json!({"differ": t.differ_json(), "agree": t.agree});
            }
            if let Some(h) = &self.kith.household {
                k["household"] = json!({
                    "dwelling": h.dwelling.as_ref().map(|d| json!({"postcode": d.postcode, "address": d.address})),
                    "register": h.register,
                });
            }
            if !self.kith.criteria.is_empty() {
                k["criteria"] = self.kith.criteria.iter().map(|c| json!(c.name)).collect();
            }
            k
        } else {
            Value::Null
        };
        json!({
            "kith_canonical_schema": 1,
            "clkConfig": {
                "l": self.clk.l,
                "xor_folds": self.clk.xor_folds,
                "kdf": {
                    "type": "HKDF",
                    "hash": match kdf.hash { KdfHash::Sha256 => "SHA256", KdfHash::Sha512 => "SHA512" },
                    "salt": kdf.salt.as_ref().map(|s| B64.encode(s)),
                    "info": kdf.info.as_ref().map(|s| B64.encode(s)),
                    "keySize": kdf.key_size,
                },
            },
            "features": features,
            "kith": kith,
        })
    }
}

fn fingerprint_of(canonical: &Value) -> String {
    // serde_json's Map is ordered by key, so this serialisation is canonical.
    let bytes = canonical.to_string();
    let digest = Sha256::digest(bytes.as_bytes());
    format!("sha256:{}", crate::hex(&digest))
}

fn canonical_format(f: &Format) -> Value {
    match f {
        Format::String {
            pattern,
            case,
            min_length,
            max_length,
        } => json!({
            "type": "string",
            "pattern": pattern.as_ref().map(|p| p.source.clone()),
            "case": match case { Case::Upper => "upper", Case::Lower => "lower", Case::Mixed => "mixed" },
            "minLength": min_length,
            "maxLength": max_length,
        }),
        Format::Integer { minimum, maximum } => {
            json!({"type": "integer", "minimum": minimum, "maximum": maximum})
        }
        Format::Date(d) => json!({"type": "date", "format": d.as_str()}),
        Format::Enum(values) => json!({"type": "enum", "values": values}),
    }
}

fn canonical_normalizer(n: &Normalizer) -> Value {
    match n {
        Normalizer::Date(d) => json!({
            "type": "date",
            "formats": d.formats.iter().map(DateFormat::as_str).collect::<Vec<_>>(),
            "output": d.output.as_str(),
        }),
        other => json!({"type": other.name()}),
    }
}

fn converted(mut e: SchemaError) -> SchemaError {
    e.path = format!("{} (in the schema as converted to v3)", e.path);
    e
}

// ---------------------------------------------------------------------------------------------
// v1 and v2: validation of the parts that the conversion reads, then clkhash's conversions.
// ---------------------------------------------------------------------------------------------

fn validate_common_top(top: &Map<String, Value>) -> Result<(), SchemaError> {
    let root = JPath::root();
    as_object(required(top, "clkConfig", &root)?, &root.key("clkConfig"))?;
    let features = required(top, "features", &root)?;
    features.as_array().ok_or_else(|| {
        root.key("features")
            .err(format!("expected an array, found {}", kind(features)))
    })?;
    Ok(())
}

fn validate_hash_object(v: &Value, p: &JPath) -> Result<(), SchemaError> {
    let m = as_object(v, p)?;
    let t = as_str(required(m, "type", p)?, &p.key("type"))?;
    if t != "blakeHash" && t != "doubleHash" {
        return Err(p.key("type").err(format!(
            "expected \"blakeHash\" or \"doubleHash\", found {t:?}"
        )));
    }
    if let Some(ps) = m.get("prevent_singularity") {
        as_bool(ps, &p.key("prevent_singularity"))?;
    }
    Ok(())
}

fn validate_v1(top: &Map<String, Value>) -> Result<(), SchemaError> {
    validate_common_top(top)?;
    let root = JPath::root();
    let cp = root.key("clkConfig");
    let clk = as_object(&top["clkConfig"], &cp)?;
    as_int(required(clk, "l", &cp)?, &cp.key("l"), 1)?;
    as_int(required(clk, "k", &cp)?, &cp.key("k"), 1)?;
    required(clk, "kdf", &cp)?;
    validate_hash_object(required(clk, "hash", &cp)?, &cp.key("hash"))?;
    for (i, f) in top["features"].as_array().into_iter().flatten().enumerate() {
        let fp = root.key("features").idx(i);
        let m = as_object(f, &fp)?;
        as_str(required(m, "identifier", &fp)?, &fp.key("identifier"))?;
        if m.get("ignored").is_some_and(|v| v == &Value::Bool(true)) && !m.contains_key("hashing") {
            continue;
        }
        let hp = fp.key("hashing");
        let h = as_object(required(m, "hashing", &fp)?, &hp)?;
        required(m, "format", &fp)?;
        as_int(required(h, "ngram", &hp)?, &hp.key("ngram"), 0)?;
        if let Some(w) = h.get("weight")
            && as_number(w, &hp.key("weight"))? < 0.0
        {
            return Err(hp.key("weight").err("must be at least 0"));
        }
        if let Some(pos) = h.get("positional") {
            as_bool(pos, &hp.key("positional"))?;
        }
    }
    Ok(())
}

fn validate_v2(top: &Map<String, Value>) -> Result<(), SchemaError> {
    validate_common_top(top)?;
    let root = JPath::root();
    for (i, f) in top["features"].as_array().into_iter().flatten().enumerate() {
        let fp = root.key("features").idx(i);
        let m = as_object(f, &fp)?;
        if m.get("ignored") == Some(&Value::Bool(true)) && !m.contains_key("hashing") {
            continue;
        }
        let hp = fp.key("hashing");
        let h = as_object(required(m, "hashing", &fp)?, &hp)?;
        no_other_keys(
            h,
            &["hash", "strategy", "ngram", "positional", "missingValue"],
            &hp,
        )?;
        as_int(required(h, "ngram", &hp)?, &hp.key("ngram"), 1)?;
        let sp = hp.key("strategy");
        let s = as_object(required(h, "strategy", &hp)?, &sp)?;
        match (s.get("k"), s.get("numBits")) {
            (Some(k), None) => {
                as_int(k, &sp.key("k"), 1)?;
            }
            (None, Some(n)) => {
                as_int(n, &sp.key("numBits"), 1)?;
            }
            _ => return Err(sp.err("must have exactly one of `k` and `numBits`")),
        }
    }
    Ok(())
}

/// Python's `round()` (half to even) to an integer.
fn py_round(x: f64) -> f64 {
    x.round_ties_even()
}

fn convert_v1_to_v2(top: &Map<String, Value>) -> Map<String, Value> {
    let clk = top["clkConfig"].as_object().cloned().unwrap_or_default();
    let k = clk.get("k").and_then(Value::as_i64).unwrap_or(0);
    let hash = clk.get("hash").cloned().unwrap_or(Value::Null);
    let features: Vec<Value> = top["features"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let mut f = f.as_object().cloned().unwrap_or_default();
            if f.get("ignored").and_then(Value::as_bool).unwrap_or(false) {
                return Value::Object(f);
            }
            let mut hashing = f.get("hashing").and_then(Value::as_object).cloned().unwrap_or_default();
            let weight = hashing.get("weight").and_then(Value::as_f64).unwrap_or(1.0);
            if weight == 0.0 {
                return json!({"identifier": f.get("identifier").cloned().unwrap_or(Value::Null), "ignored": true});
            }
            hashing.remove("weight");
            hashing.insert("strategy".into(), json!({"k": py_round(weight * k as f64) as i64}));
            hashing.insert("hash".into(), hash.clone());
            f.insert("hashing".into(), Value::Object(hashing));
            Value::Object(f)
        })
        .collect();
    let mut clk2 = Map::new();
    clk2.insert("l".into(), clk.get("l").cloned().unwrap_or(Value::Null));
    // clkhash reads the snake_case key here too.
    clk2.insert(
        "xor_folds".into(),
        clk.get("xor_folds").cloned().unwrap_or(json!(0)),
    );
    clk2.insert("kdf".into(), clk.get("kdf").cloned().unwrap_or(Value::Null));
    let mut out = Map::new();
    out.insert("version".into(), json!(2));
    out.insert("clkConfig".into(), Value::Object(clk2));
    out.insert("features".into(), Value::Array(features));
    out
}

fn convert_v2_to_v3(top: &Map<String, Value>) -> Map<String, Value> {
    let mut out = top.clone();
    out.insert("version".into(), json!(3));
    if let Some(Value::Array(features)) = out.get_mut("features") {
        for f in features.iter_mut().filter_map(Value::as_object_mut) {
            if f.get("ignored").and_then(Value::as_bool).unwrap_or(false) {
                continue;
            }
            let Some(h) = f.get_mut("hashing").and_then(Value::as_object_mut) else {
                continue;
            };
            if let Some(s) = h.get_mut("strategy").and_then(Value::as_object_mut) {
                if let Some(k) = s.remove("k") {
                    s.insert("bitsPerToken".into(), k);
                } else if let Some(n) = s.remove("numBits") {
                    s.insert("bitsPerFeature".into(), n);
                }
            }
            let n = h.remove("ngram").unwrap_or(json!(2));
            let positional = h.remove("positional").unwrap_or(json!(false));
            h.insert(
                "comparison".into(),
                json!({"type": "ngram", "n": n, "positional": positional}),
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// v3: validation and model.
// ---------------------------------------------------------------------------------------------

fn build_v3(top: &Map<String, Value>) -> Result<(ClkConfig, Vec<Feature>), SchemaError> {
    let root = JPath::root();
    let cp = root.key("clkConfig");
    let clk = as_object(required(top, "clkConfig", &root)?, &cp)?;
    let l = as_int(required(clk, "l", &cp)?, &cp.key("l"), 1)?;
    let l = u32::try_from(l).map_err(|_| cp.key("l").err("is too large"))?;
    if let Some(x) = clk.get("xorFolds") {
        as_int(x, &cp.key("xorFolds"), 0)?; // validated, but clkhash never reads it
    }
    let xor_folds = match clk.get("xor_folds") {
        Some(x) => as_int(x, &cp.key("xor_folds"), 0)?,
        None => 0,
    };
    if xor_folds > 16 || u64::from(l) << xor_folds > u64::from(u32::MAX) {
        return Err(cp.key("xor_folds").err("l * 2^xor_folds is too large"));
    }
    let xor_folds = xor_folds as u32;
    let kdf = parse_kdf(required(clk, "kdf", &cp)?, &cp.key("kdf"))?;
    let clk = ClkConfig { l, xor_folds, kdf };

    let fsp = root.key("features");
    let list = required(top, "features", &root)?;
    let list = list
        .as_array()
        .ok_or_else(|| fsp.err(format!("expected an array, found {}", kind(list))))?;
    let mut features = Vec::with_capacity(list.len());
    for (i, f) in list.iter().enumerate() {
        let feature = parse_feature(f, &fsp.idx(i), &clk)?;
        if let Some(j) = features
            .iter()
            .position(|g: &Feature| g.identifier == feature.identifier)
        {
            return Err(fsp.idx(i).key("identifier").err(format!(
                "identifier {:?} is also used by feature {j}; identifiers must be unique",
                feature.identifier
            )));
        }
        features.push(feature);
    }
    let hkdf_max = 255
        * match clk.kdf.hash {
            KdfHash::Sha256 => 32,
            KdfHash::Sha512 => 64,
        };
    if features.len() * 2 * clk.kdf.key_size > hkdf_max {
        return Err(cp.key("kdf").key("keySize").err(format!(
            "{} features × 2 keys × {} bytes exceeds what HKDF can derive ({hkdf_max} bytes)",
            features.len(),
            clk.kdf.key_size
        )));
    }
    Ok((clk, features))
}

fn parse_kdf(v: &Value, p: &JPath) -> Result<Kdf, SchemaError> {
    let m = as_object(v, p)?;
    let t = as_str(required(m, "type", p)?, &p.key("type"))?;
    if t != "HKDF" {
        return Err(p
            .key("type")
            .err(format!("only \"HKDF\" is supported, found {t:?}")));
    }
    let hash = match opt(m, "hash") {
        None => KdfHash::Sha256,
        Some(h) => match as_str(h, &p.key("hash"))? {
            "SHA256" => KdfHash::Sha256,
            "SHA512" => KdfHash::Sha512,
            other => {
                return Err(p.key("hash").err(format!(
                    "expected \"SHA256\" or \"SHA512\", found {other:?}"
                )));
            }
        },
    };
    let b64 = |key: &str| -> Result<Option<Vec<u8>>, SchemaError> {
        match opt(m, key) {
            None => Ok(None),
            Some(s) => {
                let s = as_str(s, &p.key(key))?;
                B64.decode(s).map(Some).map_err(|e| {
                    p.key(key)
                        .err(format!("expected base64-encoded bytes: {e}"))
                })
            }
        }
    };
    let key_size = match opt(m, "keySize") {
        None => 64,
        Some(k) => as_int(k, &p.key("keySize"), 1)? as usize,
    };
    Ok(Kdf {
        hash,
        salt: b64("salt")?,
        info: b64("info")?,
        key_size,
    })
}

fn parse_feature(v: &Value, p: &JPath, clk: &ClkConfig) -> Result<Feature, SchemaError> {
    let m = as_object(v, p)?;
    let identifier = as_str(required(m, "identifier", p)?, &p.key("identifier"))?.to_owned();
    if let Some(d) = m.get("description") {
        as_str(d, &p.key("description"))?;
    }
    let has_config = m.contains_key("format") || m.contains_key("hashing");
    let ignored = match m.get("ignored") {
        Some(i) => as_bool(i, &p.key("ignored"))?,
        None => false,
    };
    if !has_config {
        // ignoreFeature: {identifier, ignored: true, description?}, nothing else.
        no_other_keys(m, &["identifier", "ignored", "description"], p)?;
        if !ignored {
            return Err(p.err("a feature needs `format` and `hashing`, or `\"ignored\": true`"));
        }
        return Ok(Feature {
            identifier,
            hashing: None,
        });
    }
    // featureConfig: format and hashing are both required, even when ignored is true.
    let format_v = required(m, "format", p)?;
    let hashing_v = required(m, "hashing", p)?;
    let hashing = parse_hashing(
        format_v,
        &p.key("format"),
        hashing_v,
        &p.key("hashing"),
        clk,
    )?;
    Ok(Feature {
        identifier,
        // clkhash: `if json_dict.get('ignored', False)` → an ignored feature, whatever else it says.
        hashing: if ignored { None } else { Some(hashing) },
    })
}

fn parse_format(v: &Value, p: &JPath) -> Result<(Format, TextEncoding), SchemaError> {
    let m = as_object(v, p)?;
    let t = as_str(required(m, "type", p)?, &p.key("type"))?;
    let desc_ok = |m: &Map<String, Value>| -> Result<(), SchemaError> {
        match m.get("description") {
            Some(d) => as_str(d, &p.key("description")).map(|_| ()),
            None => Ok(()),
        }
    };
    desc_ok(m)?;
    let mut encoding = TextEncoding::Utf8;
    let format = match t {
        "string" => {
            if let Some(e) = m.get("encoding") {
                encoding = match as_str(e, &p.key("encoding"))? {
                    "ascii" => TextEncoding::Ascii,
                    "utf-8" => TextEncoding::Utf8,
                    "utf-16" => TextEncoding::Utf16,
                    "utf-32" => TextEncoding::Utf32,
                    other => {
                        return Err(p.key("encoding").err(format!(
                            "expected one of \"ascii\", \"utf-8\", \"utf-16\", \"utf-32\", found {other:?}"
                        )));
                    }
                };
            }
            if let Some(pat) = m.get("pattern") {
                no_other_keys(m, &["type", "encoding", "pattern", "description"], p).map_err(
                    |e| {
                        SchemaError::new(
                            e.path,
                            format!(
                                "{} (a string format with a pattern takes no case or length rules)",
                                e.message
                            ),
                        )
                    },
                )?;
                let source = as_str(pat, &p.key("pattern"))?.to_owned();
                let regex = regex::Regex::new(&format!("^(?:{source})$")).map_err(|e| {
                    p.key("pattern")
                        .err(format!("not a regular expression kith can run: {e}"))
                })?;
                Format::String {
                    pattern: Some(Pattern { source, regex }),
                    case: Case::Mixed,
                    min_length: None,
                    max_length: None,
                }
            } else {
                no_other_keys(
                    m,
                    &[
                        "type",
                        "encoding",
                        "case",
                        "minLength",
                        "maxLength",
                        "description",
                    ],
                    p,
                )?;
                let case = match m.get("case") {
                    None => Case::Mixed,
                    Some(c) => match as_str(c, &p.key("case"))? {
                        "upper" => Case::Upper,
                        "lower" => Case::Lower,
                        "mixed" => Case::Mixed,
                        other => {
                            return Err(p.key("case").err(format!(
                                "expected \"upper\", \"lower\" or \"mixed\", found {other:?}"
                            )));
                        }
                    },
                };
                let min_length = m
                    .get("minLength")
                    .map(|v| as_int(v, &p.key("minLength"), 0))
                    .transpose()?;
                let max_length = m
                    .get("maxLength")
                    .map(|v| as_int(v, &p.key("maxLength"), 1))
                    .transpose()?;
                Format::String {
                    pattern: None,
                    case,
                    min_length: min_length.map(|v| v as u64),
                    max_length: max_length.map(|v| v as u64),
                }
            }
        }
        "integer" => {
            no_other_keys(m, &["type", "minimum", "maximum", "description"], p)?;
            Format::Integer {
                minimum: m
                    .get("minimum")
                    .map(|v| as_int(v, &p.key("minimum"), i64::MIN))
                    .transpose()?,
                maximum: m
                    .get("maximum")
                    .map(|v| as_int(v, &p.key("maximum"), i64::MIN))
                    .transpose()?,
            }
        }
        "date" => {
            no_other_keys(m, &["type", "format", "description"], p)?;
            let f = as_str(required(m, "format", p)?, &p.key("format"))?;
            Format::Date(DateFormat::parse(f).map_err(|e| p.key("format").err(e))?)
        }
        "enum" => {
            no_other_keys(m, &["type", "values", "description"], p)?;
            let vp = p.key("values");
            let values = required(m, "values", p)?;
            let values = values.as_array().ok_or_else(|| {
                vp.err(format!(
                    "expected an array of strings, found {}",
                    kind(values)
                ))
            })?;
            Format::Enum(
                values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| as_str(v, &vp.idx(i)).map(str::to_owned))
                    .collect::<Result<_, _>>()?,
            )
        }
        other => {
            return Err(p.key("type").err(format!(
                "expected one of \"string\", \"integer\", \"date\", \"enum\", found {other:?}"
            )));
        }
    };
    Ok((format, encoding))
}

fn parse_hashing(
    format_v: &Value,
    format_p: &JPath,
    v: &Value,
    p: &JPath,
    clk: &ClkConfig,
) -> Result<FeatureHashing, SchemaError> {
    let (format, encoding) = parse_format(format_v, format_p)?;
    let m = as_object(v, p)?;
    no_other_keys(m, &["hash", "strategy", "comparison", "missingValue"], p)?;

    let sp = p.key("strategy");
    let s = as_object(required(m, "strategy", p)?, &sp)?;
    let strategy = match (s.get("bitsPerToken"), s.get("bitsPerFeature"), s.len()) {
        (Some(k), None, 1) => Strategy::BitsPerToken(to_u32(
            as_int(k, &sp.key("bitsPerToken"), 1)?,
            &sp.key("bitsPerToken"),
        )?),
        (None, Some(f), 1) => Strategy::BitsPerFeature(to_u32(
            as_int(f, &sp.key("bitsPerFeature"), 1)?,
            &sp.key("bitsPerFeature"),
        )?),
        _ => {
            return Err(
                sp.err("must have exactly one property: `bitsPerToken` or `bitsPerFeature`")
            );
        }
    };

    let cp = p.key("comparison");
    let c = as_object(required(m, "comparison", p)?, &cp)?;
    let ct = as_str(required(c, "type", &cp)?, &cp.key("type"))?;
    let comparison = match ct {
        "ngram" => {
            let n = as_int(required(c, "n", &cp)?, &cp.key("n"), 1)?;
            let positional = match c.get("positional") {
                Some(v) => as_bool(v, &cp.key("positional"))?,
                None => false,
            };
            Comparison::Ngram {
                n: usize::try_from(n).map_err(|_| cp.key("n").err("is too large"))?,
                positional,
            }
        }
        "exact" => Comparison::Exact,
        "numeric" => {
            let tp = cp.key("thresholdDistance");
            let td = required(c, "thresholdDistance", &cp)?;
            let threshold = as_number(td, &tp)?;
            if threshold <= 0.0 {
                return Err(tp.err("must be greater than 0"));
            }
            let resolution = to_u32(
                as_int(required(c, "resolution", &cp)?, &cp.key("resolution"), 1)?,
                &cp.key("resolution"),
            )?;
            let precision = match c.get("fractional_precision") {
                Some(v) => as_int(v, &cp.key("fractional_precision"), 0)?,
                None => 0,
            };
            if precision > 18 {
                return Err(cp
                    .key("fractional_precision")
                    .err("at most 18 is supported"));
            }
            let precision = precision as u32;
            let scale = 10i128.pow(precision);
            let distance = match td.as_i64() {
                Some(i) => i128::from(i) * scale,
                None => py_round(threshold * scale as f64) as i128,
            };
            if distance <= 0 {
                return Err(tp.err(format!(
                    "thresholdDistance × 10^fractional_precision rounds to {distance}; it must round to at least 1"
                )));
            }
            let Value::Number(threshold_distance) = td.clone() else {
                return Err(tp.err("expected a number"));
            };
            Comparison::Numeric(NumericComparison {
                threshold_distance,
                resolution,
                fractional_precision: precision,
                distance,
            })
        }
        other => {
            return Err(cp.key("type").err(format!(
                "expected one of \"ngram\", \"exact\", \"numeric\", found {other:?}"
            )));
        }
    };

    let hash = match m.get("hash") {
        None => HashKind::Blake,
        Some(h) => {
            let hp = p.key("hash");
            let hm = as_object(h, &hp)?;
            let ps = hm.get("prevent_singularity");
            match as_str(required(hm, "type", &hp)?, &hp.key("type"))? {
                "blakeHash" => {
                    if ps.is_some() {
                        return Err(hp
                            .key("prevent_singularity")
                            .err("prevent_singularity may only be given with \"doubleHash\""));
                    }
                    HashKind::Blake
                }
                "doubleHash" => HashKind::Double {
                    prevent_singularity: ps
                        .map(|v| as_bool(v, &hp.key("prevent_singularity")))
                        .transpose()?
                        .unwrap_or(false),
                },
                other => {
                    return Err(hp.key("type").err(format!(
                        "expected \"blakeHash\" or \"doubleHash\", found {other:?}"
                    )));
                }
            }
        }
    };
    if hash == HashKind::Blake {
        let big_l = u64::from(clk.l) << clk.xor_folds;
        if !big_l.is_power_of_two() {
            return Err(p.key("hash").err(format!(
                "blakeHash needs l × 2^xor_folds to be a power of two, but it is {big_l}; \
                 use doubleHash or change l"
            )));
        }
        if clk.kdf.key_size > 64 {
            return Err(p
                .key("hash")
                .err("blakeHash keys are at most 64 bytes; clkConfig.kdf.keySize is larger"));
        }
    }

    let missing = match m.get("missingValue") {
        None => None,
        Some(mv) => {
            let mp = p.key("missingValue");
            let mm = as_object(mv, &mp)?;
            Some(MissingValue {
                sentinel: as_str(required(mm, "sentinel", &mp)?, &mp.key("sentinel"))?.to_owned(),
                replace_with: mm
                    .get("replaceWith")
                    .map(|r| as_str(r, &mp.key("replaceWith")).map(str::to_owned))
                    .transpose()?,
            })
        }
    };
    Ok(FeatureHashing {
        format,
        encoding,
        comparison,
        strategy,
        hash,
        missing,
    })
}

fn to_u32(v: i64, p: &JPath) -> Result<u32, SchemaError> {
    u32::try_from(v).map_err(|_| p.err("is too large"))
}

// ---------------------------------------------------------------------------------------------
// The kith section.
// ---------------------------------------------------------------------------------------------

fn parse_kith(v: &Value, p: &JPath, features: &[Feature]) -> Result<KithSection, SchemaError> {
    let m = as_object(v, p)?;
    no_other_keys(
        m,
        &[
            "version",
            "id_column",
            "normalize",
            "exact",
            "blocking",
            "fields",
            "twins",
            "household",
            "criteria",
            "description",
        ],
        p,
    )?;
    let version = as_int(required(m, "version", p)?, &p.key("version"), 1)?;
    if version != KITH_SECTION_VERSION {
        return Err(p.key("version").err(format!(
            "kith section version {version} is not supported by this kith (it reads version {KITH_SECTION_VERSION})"
        )));
    }
    let id_column = m
        .get("id_column")
        .map(|c| as_str(c, &p.key("id_column")).map(str::to_owned))
        .transpose()?;
    let mut normalize = BTreeMap::new();
    if let Some(n) = m.get("normalize") {
        let np = p.key("normalize");
        for (feature, spec) in as_object(n, &np)? {
            let fp = np.key(feature);
            let Some(f) = features.iter().find(|f| &f.identifier == feature) else {
                return Err(fp.err(format!("there is no feature {feature:?} in the schema")));
            };
            let Some(h) = &f.hashing else {
                return Err(fp.err(format!(
                    "feature {feature:?} is ignored; it cannot be normalised"
                )));
            };
            let normalizer = parse_normalizer(spec, &fp, Some(&h.format))?;
            check_normalizer_fits(&normalizer, &h.format, &fp)?;
            normalize.insert(feature.clone(), normalizer);
        }
    }
    let mut exact: Vec<ExactIdentifier> = Vec::new();
    if let Some(e) = m.get("exact") {
        let ep = p.key("exact");
        for (name, spec) in as_object(e, &ep)? {
            let xp = ep.key(name);
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(xp.err(
                    "exact identifier names may use only ASCII letters, digits, '_' and '-'",
                ));
            }
            if features.iter().any(|f| &f.identifier == name) {
                return Err(xp.err(format!("{name:?} is already a feature identifier; exact identifiers need their own names")));
            }
            let sm = as_object(spec, &xp)?;
            no_other_keys(sm, &["normalize", "description"], &xp)?;
            let normalize = sm
                .get("normalize")
                .map(|n| parse_normalizer(n, &xp.key("normalize"), None))
                .transpose()?;
            exact.push(ExactIdentifier {
                name: name.clone(),
                normalize,
            });
        }
    }
    let blocking = match m.get("blocking") {
        Some(b) => parse_blocking(b, &p.key("blocking"), features, &normalize, &exact)?,
        None => Vec::new(),
    };
    let fields = match m.get("fields") {
        Some(f) => parse_fields(f, &p.key("fields"), features)?,
        None => Vec::new(),
    };
    let twins = match m.get("twins") {
        Some(t) => Some(parse_twins(t, &p.key("twins"), &fields)?),
        None => None,
    };
    let household = m
        .get("household")
        .map(|h| parse_household(h, &p.key("household"), features, &exact))
        .transpose()?;
    let mut criteria: Vec<Criterion> = Vec::new();
    if let Some(c) = m.get("criteria") {
        let cp = p.key("criteria");
        for (name, spec) in as_object(c, &cp)? {
            let np = cp.key(name);
            check_input_name(name, &np, features, &exact)?;
            if household.as_ref().is_some_and(|h| {
                h.register.as_deref() == Some(name)
                    || h.dwelling.as_ref().is_some_and(|d| &d.address == name)
            }) {
                return Err(np.err(format!("{name:?} is already a household input")));
            }
            no_other_keys(as_object(spec, &np)?, &["description"], &np)?;
            criteria.push(Criterion { name: name.clone() });
        }
    }
    Ok(KithSection {
        version,
        id_column,
        normalize,
        exact,
        blocking,
        fields,
        twins,
        household,
        criteria,
    })
}

/// An input name must be plain and must not already name a feature or an exact identifier.
fn check_input_name(
    name: &str,
    p: &JPath,
    features: &[Feature],
    exact: &[ExactIdentifier],
) -> Result<(), SchemaError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(p.err("input names may use only ASCII letters, digits, '_' and '-'"));
    }
    if features.iter().any(|f| f.identifier == name) || exact.iter().any(|e| e.name == name) {
        return Err(p.err(format!(
            "{name:?} is already a feature or exact identifier; give this input its own name"
        )));
    }
    Ok(())
}

/// Parse `{"dwelling": {"postcode": "postcode", "address": "address"}, "register": "household_ref"}`.
fn parse_household(
    v: &Value,
    p: &JPath,
    features: &[Feature],
    exact: &[ExactIdentifier],
) -> Result<Household, SchemaError> {
    let m = as_object(v, p)?;
    no_other_keys(m, &["dwelling", "register", "description"], p)?;
    let dwelling = match m.get("dwelling") {
        None => None,
        Some(d) => {
            let dp = p.key("dwelling");
            let dm = as_object(d, &dp)?;
            no_other_keys(dm, &["postcode", "address", "description"], &dp)?;
            let postcode = as_str(required(dm, "postcode", &dp)?, &dp.key("postcode"))?;
            if !features
                .iter()
                .any(|f| f.identifier == postcode && f.hashing.is_some())
            {
                return Err(dp.key("postcode").err(format!(
                    "there is no (hashed) feature {postcode:?} in the schema"
                )));
            }
            let address = as_str(required(dm, "address", &dp)?, &dp.key("address"))?;
            check_input_name(address, &dp.key("address"), features, exact)?;
            Some(Dwelling {
                postcode: postcode.to_owned(),
                address: address.to_owned(),
            })
        }
    };
    let register = match m.get("register") {
        None => None,
        Some(r) => {
            let rp = p.key("register");
            let name = as_str(r, &rp)?;
            check_input_name(name, &rp, features, exact)?;
            if dwelling.as_ref().is_some_and(|d| d.address == name) {
                return Err(rp.err(format!("{name:?} is already the address input")));
            }
            Some(name.to_owned())
        }
    };
    if dwelling.is_none() && register.is_none() {
        return Err(p.err("name a \"dwelling\", a \"register\", or both"));
    }
    Ok(Household { dwelling, register })
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

/// Parse `{"differ": "given_name" | ["given_name", "sex"], "agree": ["dob", "surname"]}`; every
/// name must have a field filter, and none may be named twice.
fn parse_twins(v: &Value, p: &JPath, fields: &[FieldFilter]) -> Result<TwinRule, SchemaError> {
    let m = as_object(v, p)?;
    no_other_keys(m, &["differ", "agree", "description"], p)?;
    let known = |name: &str, at: &JPath| -> Result<String, SchemaError> {
        if fields.iter().any(|f| f.feature == name) {
            Ok(name.to_owned())
        } else {
            Err(at.err(format!("{name:?} has no field-level filter (kith.fields)")))
        }
    };
    let dp = p.key("differ");
    let mut differ = Vec::new();
    match required(m, "differ", p)? {
        Value::Array(list) => {
            if list.is_empty() {
                return Err(dp.err("name at least one field that differs between twins"));
            }
            for (i, d) in list.iter().enumerate() {
                let name = known(as_str(d, &dp.idx(i))?, &dp.idx(i))?;
                if differ.contains(&name) {
                    return Err(dp.idx(i).err(format!("{name:?} is named twice")));
                }
                differ.push(name);
            }
        }
        d => differ.push(known(as_str(d, &dp)?, &dp)?),
    }
    let ap = p.key("agree");
    let list = required(m, "agree", p)?
        .as_array()
        .ok_or_else(|| ap.err("expected a list of field names"))?;
    if list.is_empty() {
        return Err(ap.err("name at least one field twins share"));
    }
    let mut agree = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let name = known(as_str(a, &ap.idx(i))?, &ap.idx(i))?;
        if differ.contains(&name) || agree.contains(&name) {
            return Err(ap.idx(i).err(format!("{name:?} is named twice")));
        }
        agree.push(name);
    }
    Ok(TwinRule { differ, agree })
}

pub use kith_core::encodings::MAX_FIELD_FILTERS;

/// Parse `{"surname": {"bits": 256, "k": 8, "group": "name"}, ...}`.
fn parse_fields(
    v: &Value,
    p: &JPath,
    features: &[Feature],
) -> Result<Vec<FieldFilter>, SchemaError> {
    let mut out: Vec<FieldFilter> = Vec::new();
    let m = as_object(v, p)?;
    if m.len() > MAX_FIELD_FILTERS {
        return Err(p.err(format!(
            "at most {MAX_FIELD_FILTERS} field filters, found {}",
            m.len()
        )));
    }
    for (feature, spec) in m {
        let fp = p.key(feature);
        let hashing = match features.iter().find(|f| &f.identifier == feature) {
            None => return Err(fp.err(format!("there is no feature {feature:?} in the schema"))),
            Some(Feature { hashing: None, .. }) => {
                return Err(fp.err(format!(
                    "feature {feature:?} is ignored; holders do not read it"
                )));
            }
            Some(Feature {
                hashing: Some(h), ..
            }) => h,
        };
        let sm = as_object(spec, &fp)?;
        no_other_keys(sm, &["bits", "k", "group", "tokens", "description"], &fp)?;
        let tokens = match sm.get("tokens") {
            None => FieldTokens::Clk,
            Some(t) => match as_str(t, &fp.key("tokens"))? {
                "clk" => FieldTokens::Clk,
                "date" if matches!(hashing.format, Format::Date(_)) => FieldTokens::Date,
                "date" => {
                    return Err(fp.key("tokens").err(format!(
                        "\"date\" tokens need a date feature; {feature:?} is not one"
                    )));
                }
                other => {
                    return Err(fp
                        .key("tokens")
                        .err(format!("expected \"clk\" or \"date\", found {other:?}")));
                }
            },
        };
        let bits = as_int(required(sm, "bits", &fp)?, &fp.key("bits"), 64)?;
        if !(64..=1024).contains(&bits) || bits % 64 != 0 {
            return Err(fp.key("bits").err(format!(
                "expected a multiple of 64 from 64 to 1024, found {bits}"
            )));
        }
        let k = match sm.get("k") {
            Some(k) => as_int(k, &fp.key("k"), 1)?,
            None => 4,
        };
        if !(1..=64).contains(&k) {
            return Err(fp
                .key("k")
                .err(format!("expected 1 to 64 bits per token, found {k}")));
        }
        let group = match sm.get("group") {
            Some(g) => {
                let g = as_str(g, &fp.key("group"))?;
                if g.is_empty()
                    || !g
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(fp
                        .key("group")
                        .err("group names may use only ASCII letters, digits, '_' and '-'"));
                }
                g.to_owned()
            }
            None => feature.clone(),
        };
        if let Some(other) = out
            .iter()
            .find(|o| o.group == group && o.bits != bits as u32)
        {
            return Err(fp.key("bits").err(format!(
                "filters of one group must have one length; {:?} in group {group:?} has {} bits",
                other.feature, other.bits
            )));
        }
        out.push(FieldFilter {
            feature: feature.clone(),
            bits: bits as u32,
            k: k as u32,
            group,
            tokens,
        });
    }
    Ok(out)
}

/// Parse `{"name": [{"feature": "surname", "transform": "soundex"}, ...], ...}`.
fn parse_blocking(
    v: &Value,
    p: &JPath,
    features: &[Feature],
    normalize: &BTreeMap<String, Normalizer>,
    exact: &[ExactIdentifier],
) -> Result<Vec<BlockingKey>, SchemaError> {
    use crate::blocking::Transform;
    let mut keys = Vec::new();
    for (name, spec) in as_object(v, p)? {
        let kp = p.key(name);
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(
                kp.err("blocking key names may use only ASCII letters, digits, '_' and '-'")
            );
        }
        if exact.iter().any(|e| &e.name == name) {
            return Err(kp.err(format!("{name:?} is already an exact identifier's name")));
        }
        let list = spec.as_array().ok_or_else(|| {
            kp.err(format!(
                "expected a list of parts such as [{{\"feature\": \"surname\", \"transform\": \"soundex\"}}], found {}",
                kind(spec)
            ))
        })?;
        if list.is_empty() {
            return Err(kp.err("a blocking key needs at least one part"));
        }
        let mut parts = Vec::new();
        for (i, part) in list.iter().enumerate() {
            let pp = kp.idx(i);
            let pm = as_object(part, &pp)?;
            no_other_keys(pm, &["feature", "transform"], &pp)?;
            let feature = as_str(required(pm, "feature", &pp)?, &pp.key("feature"))?;
            match features.iter().find(|f| f.identifier == feature) {
                None => {
                    return Err(pp
                        .key("feature")
                        .err(format!("there is no feature {feature:?} in the schema")));
                }
                Some(f) if f.hashing.is_none() => {
                    return Err(pp.key("feature").err(format!(
                        "feature {feature:?} is ignored; holders do not read it"
                    )));
                }
                Some(_) => {}
            }
            let transform = match pm.get("transform") {
                None => Transform::Value,
                Some(t) => {
                    let tp = pp.key("transform");
                    let t = as_str(t, &tp)?;
                    Transform::from_name(t).ok_or_else(|| {
                        let names: Vec<&str> = Transform::ALL.iter().map(|t| t.name()).collect();
                        tp.err(format!(
                            "unknown transform {t:?}; expected one of {}",
                            names.join(", ")
                        ))
                    })?
                }
            };
            if let Some(need) = transform.needs() {
                let has = normalize.get(feature).map(Normalizer::name);
                if has != Some(need) {
                    return Err(pp.key("transform").err(format!(
                        "transform {:?} needs the {need:?} normaliser on feature {feature:?} (kith.normalize)",
                        transform.name()
                    )));
                }
            }
            parts.push(BlockingPart {
                feature: feature.to_owned(),
                transform,
            });
        }
        keys.push(BlockingKey {
            name: name.clone(),
            parts,
        });
    }
    Ok(keys)
}

/// Parse `"name"` or `{"type": "date", "formats": [...]}`.
pub(crate) fn parse_normalizer(
    v: &Value,
    p: &JPath,
    format: Option<&Format>,
) -> Result<Normalizer, SchemaError> {
    let (kind_name, options) = match v {
        Value::String(s) => (s.as_str(), None),
        Value::Object(m) => (as_str(required(m, "type", p)?, &p.key("type"))?, Some(m)),
        other => {
            return Err(p.err(format!(
                "expected a normaliser name or object, found {}",
                kind(other)
            )));
        }
    };
    let allowed: &[&str] = if kind_name == "date" {
        &["type", "formats"]
    } else {
        &["type"]
    };
    if let Some(m) = options {
        no_other_keys(m, allowed, p)?;
    }
    Ok(match kind_name {
        "name" => Normalizer::Name,
        "forename" => Normalizer::Forename,
        "postcode" => Normalizer::Postcode,
        "nhs_number" => Normalizer::NhsNumber,
        "sex" => Normalizer::Sex,
        "premise" => Normalizer::Premise,
        "flag" => Normalizer::Flag,
        "date" => {
            let mut formats = Vec::new();
            if let Some(list) = options.and_then(|m| m.get("formats")) {
                let lp = p.key("formats");
                let arr = list.as_array().ok_or_else(|| {
                    lp.err(format!(
                        "expected an array of strptime formats, found {}",
                        kind(list)
                    ))
                })?;
                for (i, f) in arr.iter().enumerate() {
                    let s = as_str(f, &lp.idx(i))?;
                    formats.push(DateFormat::parse(s).map_err(|e| lp.idx(i).err(e))?);
                }
            }
            let output = match format {
                Some(Format::Date(d)) => d.clone(),
                _ => DateFormat::parse("%Y-%m-%d").map_err(|e| p.err(e))?,
            };
            Normalizer::Date(DateNormalizer::new(formats, output))
        }
        other => {
            return Err(p.err(format!(
                "unknown normaliser {other:?} (expected \"name\", \"forename\", \"date\", \"postcode\", \"nhs_number\", \"sex\", \"premise\" or \"flag\")"
            )));
        }
    })
}

/// Refuse a normaliser whose output the feature's format would always reject.
fn check_normalizer_fits(n: &Normalizer, f: &Format, p: &JPath) -> Result<(), SchemaError> {
    let bad = match (n, f) {
        (
            Normalizer::Name | Normalizer::Forename,
            Format::String {
                case: Case::Upper, ..
            },
        ) => Some("the name normaliser writes lower case but the format requires upper case"),
        (
            Normalizer::Postcode,
            Format::String {
                case: Case::Lower, ..
            },
        ) => Some("the postcode normaliser writes upper case but the format requires lower case"),
        (
            Normalizer::Name | Normalizer::Forename | Normalizer::Postcode | Normalizer::Sex,
            Format::Integer { .. } | Format::Date(_),
        ) => Some("this normaliser writes text, but the feature's format is not a string or enum"),
        (Normalizer::Date(_), Format::Integer { .. } | Format::Enum(_)) => {
            Some("the date normaliser needs a date or string format")
        }
        (Normalizer::Sex, Format::Enum(values))
            if !(values.iter().any(|v| v == "m") && values.iter().any(|v| v == "f")) =>
        {
            Some("the sex normaliser writes \"m\" or \"f\"; the enum must list both")
        }
        _ => None,
    };
    match bad {
        Some(msg) => Err(p.err(msg)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v3(features: Value) -> Value {
        json!({"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}}, "features": features})
    }

    fn err(doc: Value) -> SchemaError {
        match Schema::from_value(&doc) {
            Ok(_) => panic!("schema should be refused: {doc}"),
            Err(e) => e,
        }
    }

    fn name_feature() -> Value {
        json!({"identifier": "name", "format": {"type": "string"},
               "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 20}}})
    }

    #[test]
    fn errors_name_the_json_path() {
        let e = err(v3(json!([{"identifier": "id", "ignored": true},
            {"identifier": "name", "format": {"type": "string"},
             "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 0}}}])));
        assert_eq!(e.path, "$.features[1].hashing.strategy.bitsPerToken");
        let e = err(
            json!({"version": 3, "clkConfig": {"l": "big", "kdf": {"type": "HKDF"}}, "features": []}),
        );
        assert_eq!(e.path, "$.clkConfig.l");
        let e = err(json!({"version": 4}));
        assert_eq!(e.path, "$.version");
        let e = err(v3(
            json!([{"identifier": "d", "format": {"type": "date", "format": "%Y-%Q"},
             "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 5}}}]),
        ));
        assert_eq!(e.path, "$.features[0].format.format");
    }

    #[test]
    fn quirks_of_clkhash_are_kept() {
        // xorFolds validates but is not read; xor_folds folds.
        let mut doc = v3(json!([name_feature()]));
        doc["clkConfig"]["xorFolds"] = json!(1);
        assert_eq!(Schema::from_value(&doc).expect("valid").clk().xor_folds, 0);
        doc["clkConfig"]["xor_folds"] = json!(1);
        assert_eq!(Schema::from_value(&doc).expect("valid").clk().xor_folds, 1);
        // A full feature config that says ignored: true is ignored.
        let mut f = name_feature();
        f["ignored"] = json!(true);
        let s = Schema::from_value(&v3(json!([f]))).expect("valid");
        assert!(s.features()[0].hashing.is_none());
        // An ignore feature with extra properties is refused.
        let e = err(v3(
            json!([{"identifier": "x", "ignored": true, "extra": 1}]),
        ));
        assert_eq!(e.path, "$.features[0].extra");
    }

    /// Blocking keys are checked part by part, and change the fingerprint only when present.
    #[test]
    fn blocking_keys_are_validated_and_fingerprinted() {
        let mut doc = v3(json!([name_feature()]));
        doc["kith"] = json!({"version": 1, "normalize": {"name": "name"}});
        let plain = Schema::from_value(&doc)
            .expect("valid")
            .fingerprint()
            .to_owned();
        doc["kith"]["blocking"] = json!({});
        assert_eq!(
            Schema::from_value(&doc).expect("valid").fingerprint(),
            plain
        );
        doc["kith"]["blocking"] = json!({"name_sx": [{"feature": "name", "transform": "soundex"}]});
        let s = Schema::from_value(&doc).expect("valid");
        assert_eq!(s.kith().blocking[0].parts[0].feature, "name");
        assert_ne!(s.fingerprint(), plain);
        for (bad, path) in [
            (
                json!({"k": [{"feature": "nope"}]}),
                "$.kith.blocking.k[0].feature",
            ),
            (
                json!({"k": [{"feature": "name", "transform": "year"}]}),
                "$.kith.blocking.k[0].transform",
            ),
            (
                json!({"k": [{"feature": "name", "transform": "metaphone"}]}),
                "$.kith.blocking.k[0].transform",
            ),
            (json!({"k": []}), "$.kith.blocking.k"),
            (
                json!({"k k": [{"feature": "name"}]}),
                "$.kith.blocking[\"k k\"]",
            ),
        ] {
            doc["kith"]["blocking"] = bad;
            let e = err(doc.clone());
            assert_eq!(e.path, path, "{e}");
        }
    }

    /// Field filters and the twin rule are checked with JSON paths, and change the fingerprint
    /// only when present.
    #[test]
    fn field_filters_and_twin_rule_are_validated_and_fingerprinted() {
        let mut second = name_feature();
        second["identifier"] = json!("surname");
        let mut third = name_feature();
        third["identifier"] = json!("sex");
        let mut doc = v3(json!([name_feature(), second, third]));
        doc["kith"] = json!({"version": 1});
        let plain = Schema::from_value(&doc)
            .expect("valid")
            .fingerprint()
            .to_owned();
        doc["kith"]["fields"] = json!({
            "name": {"bits": 256, "k": 4, "group": "names"},
            "surname": {"bits": 256, "group": "names"}
        });
        doc["kith"]["twins"] = json!({"differ": "name", "agree": ["surname"]});
        let s = Schema::from_value(&doc).expect("valid");
        assert_eq!(s.kith().fields.len(), 2);
        assert_eq!(s.kith().fields[1].k, 4, "k defaults to 4");
        assert_eq!(s.kith().fields[1].group, "names");
        assert_eq!(
            s.kith().twins.as_ref().map(|t| t.differ.clone()),
            Some(vec!["name".to_owned()])
        );
        assert_ne!(s.fingerprint(), plain);
        let with_twins = s.fingerprint().to_owned();
        // One differing field written as a list of one is the same rule, with the same
        // fingerprint; a second differing field is another rule.
        doc["kith"]["twins"] = json!({"differ": ["name"], "agree": ["surname"]});
        assert_eq!(
            Schema::from_value(&doc).expect("valid").fingerprint(),
            with_twins
        );
        doc["kith"]["fields"]["sex"] = json!({"bits": 64});
        doc["kith"]["twins"] = json!({"differ": ["name", "sex"], "agree": ["surname"]});
        let both = Schema::from_value(&doc).expect("valid");
        assert_eq!(both.kith().twins.as_ref().map(|t| t.differ.len()), Some(2));
        doc["kith"]["twins"] = json!({"differ": "surname", "agree": ["name"]});
        assert_ne!(
            Schema::from_value(&doc).expect("valid").fingerprint(),
            with_twins
        );
        for (fields, twins, path) in [
            (json!({"nope": {"bits": 64}}), None, "$.kith.fields.nope"),
            (
                json!({"name": {"bits": 100}}),
                None,
                "$.kith.fields.name.bits",
            ),
            (
                json!({"name": {"bits": 2048}}),
                None,
                "$.kith.fields.name.bits",
            ),
            (json!({"name": {}}), None, "$.kith.fields.name"),
            (
                json!({"name": {"bits": 64, "k": 0}}),
                None,
                "$.kith.fields.name.k",
            ),
            (
                json!({"name": {"bits": 64, "tokens": "date"}}),
                None,
                "$.kith.fields.name.tokens",
            ),
            (
                json!({"name": {"bits": 64, "tokens": "words"}}),
                None,
                "$.kith.fields.name.tokens",
            ),
            (
                json!({"name": {"bits": 64, "group": "g"}, "surname": {"bits": 128, "group": "g"}}),
                None,
                "$.kith.fields.surname.bits",
            ),
            (
                json!({"name": {"bits": 64}}),
                Some(json!({"differ": "surname", "agree": ["name"]})),
                "$.kith.twins.differ",
            ),
            (
                json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
                Some(json!({"differ": "name", "agree": ["name"]})),
                "$.kith.twins.agree[0]",
            ),
            (
                json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
                Some(json!({"differ": "name", "agree": []})),
                "$.kith.twins.agree",
            ),
            (
                json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
                Some(json!({"differ": [], "agree": ["surname"]})),
                "$.kith.twins.differ",
            ),
            (
                json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
                Some(json!({"differ": ["name", "name"], "agree": ["surname"]})),
                "$.kith.twins.differ[1]",
            ),
            (
                json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
                Some(json!({"differ": ["name", "nope"], "agree": ["surname"]})),
                "$.kith.twins.differ[1]",
            ),
        ] {
            doc["kith"]["fields"] = fields;
            match twins {
                Some(t) => doc["kith"]["twins"] = t,
                None => {
                    if let Some(k) = doc["kith"].as_object_mut() {
                        k.remove("twins");
                    }
                }
            }
            let e = err(doc.clone());
            assert_eq!(e.path, path, "{e}");
        }
    }

    #[test]
    fn prevent_singularity_needs_double_hash() {
        let mut f = name_feature();
        f["hashing"]["hash"] = json!({"type": "blakeHash", "prevent_singularity": true});
        assert_eq!(
            err(v3(json!([f]))).path,
            "$.features[0].hashing.hash.prevent_singularity"
        );
    }

    #[test]
    fn blake_needs_a_power_of_two() {
        let mut doc = v3(json!([name_feature()]));
        doc["clkConfig"]["l"] = json!(1000);
        assert_eq!(err(doc.clone()).path, "$.features[0].hashing.hash");
        doc["features"][0]["hashing"]["hash"] = json!({"type": "doubleHash"});
        assert!(Schema::from_value(&doc).is_ok());
    }

    #[test]
    fn v1_and_v2_convert_as_clkhash_does() {
        let v1 = json!({"version": 1,
            "clkConfig": {"l": 1024, "k": 30, "hash": {"type": "doubleHash"}, "kdf": {"type": "HKDF"}},
            "features": [{"identifier": "id", "ignored": true},
                {"identifier": "a", "format": {"type": "string"}, "hashing": {"ngram": 2, "weight": 0.5}},
                {"identifier": "b", "format": {"type": "string"}, "hashing": {"ngram": 1, "positional": true, "weight": 0}},
                {"identifier": "c", "format": {"type": "string"}, "hashing": {"ngram": 2, "weight": 0.25}}]});
        let s = Schema::from_value(&v1).expect("v1 loads");
        assert_eq!(s.source_version(), 1);
        let h = s.features()[1].hashing.as_ref().expect("hashed");
        assert_eq!(h.strategy, Strategy::BitsPerToken(15));
        assert_eq!(
            h.hash,
            HashKind::Double {
                prevent_singularity: false
            }
        );
        assert!(s.features()[2].hashing.is_none(), "weight 0 means ignored");
        // round(7.5) is 8 in Python (half to even).
        let hc = s.features()[3].hashing.as_ref().expect("hashed");
        assert_eq!(hc.strategy, Strategy::BitsPerToken(8));

        let v2 = json!({"version": 2, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
            "features": [{"identifier": "a", "format": {"type": "string"},
                "hashing": {"ngram": 2, "positional": true, "strategy": {"numBits": 100}}}]});
        let s = Schema::from_value(&v2).expect("v2 loads");
        let h = s.features()[0].hashing.as_ref().expect("hashed");
        assert_eq!(h.strategy, Strategy::BitsPerFeature(100));
        assert_eq!(
            h.comparison,
            Comparison::Ngram {
                n: 2,
                positional: true
            }
        );
        let bad = json!({"version": 2, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
            "features": [{"identifier": "a", "format": {"type": "string"},
                "hashing": {"ngram": 2, "strategy": {"k": 3, "numBits": 100}}}]});
        assert_eq!(err(bad).path, "$.features[0].hashing.strategy");
    }

    #[test]
    fn fingerprint_ignores_descriptions_and_explicit_defaults_but_not_parameters() {
        let a = Schema::from_value(&v3(json!([name_feature()]))).expect("valid");
        let mut f = name_feature();
        f["description"] = json!("first name");
        f["hashing"]["hash"] = json!({"type": "blakeHash"});
        f["hashing"]["comparison"]["positional"] = json!(false);
        let b = Schema::from_value(&v3(json!([f]))).expect("valid");
        assert_eq!(a.fingerprint(), b.fingerprint());
        let mut g = name_feature();
        g["hashing"]["strategy"]["bitsPerToken"] = json!(21);
        let c = Schema::from_value(&v3(json!([g]))).expect("valid");
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert!(a.fingerprint().starts_with("sha256:") && a.fingerprint().len() == 71);
    }

    #[test]
    fn household_and_criteria_are_validated_and_fingerprinted() {
        let mut doc = v3(json!([name_feature()]));
        doc["kith"] = json!({"version": 1,
            "household": {"dwelling": {"postcode": "name", "address": "address"}, "register": "household_ref"},
            "criteria": {"offending": {"description": "Crime or anti-social behaviour"}, "absence": {}}});
        let s = Schema::from_value(&doc).expect("valid");
        let names: Vec<_> = s.kith().keyed_inputs();
        assert_eq!(
            names,
            [
                ("address", InputKind::Address),
                ("household_ref", InputKind::Register),
                ("absence", InputKind::Criterion),
                ("offending", InputKind::Criterion),
            ]
        );
        let mut other = doc.clone();
        other["kith"]["criteria"] = json!({"offending": {}});
        let t = Schema::from_value(&other).expect("valid");
        assert_ne!(s.fingerprint(), t.fingerprint());
        other["kith"]["criteria"]["offending"] = json!({"description": "changed words"});
        other["kith"]["criteria"]["absence"] = json!({});
        assert_eq!(
            Schema::from_value(&other).expect("valid").fingerprint(),
            s.fingerprint()
        );
        for (bad, path) in [
            (
                json!({"dwelling": {"postcode": "nope", "address": "a"}}),
                "$.kith.household.dwelling.postcode",
            ),
            (
                json!({"dwelling": {"postcode": "name", "address": "name"}}),
                "$.kith.household.dwelling.address",
            ),
            (json!({"register": "a b"}), "$.kith.household.register"),
            (json!({}), "$.kith.household"),
        ] {
            let mut d = doc.clone();
            d["kith"]["household"] = bad;
            assert_eq!(err(d).path, path);
        }
        let mut d = doc.clone();
        d["kith"]["criteria"] = json!({"household_ref": {}});
        assert_eq!(err(d).path, "$.kith.criteria.household_ref");
    }

    #[test]
    fn kith_section_is_checked() {
        let mut doc = v3(json!([name_feature()]));
        doc["kith"] = json!({"version": 1, "normalize": {"name": "name"}, "exact": {"nhs_number": {"normalize": "nhs_number"}}});
        let s = Schema::from_value(&doc).expect("valid");
        assert_eq!(s.kith().exact[0].name, "nhs_number");
        assert_eq!(s.kith().normalize["name"], Normalizer::Name);
        let plain = Schema::from_value(&v3(json!([name_feature()]))).expect("valid");
        assert_ne!(plain.fingerprint(), s.fingerprint());

        doc["kith"]["normalize"] = json!({"nope": "name"});
        assert_eq!(err(doc.clone()).path, "$.kith.normalize.nope");
        doc["kith"]["normalize"] = json!({"name": "soundex"});
        assert_eq!(err(doc.clone()).path, "$.kith.normalize.name");
        doc["kith"]["normalize"] = json!({});
        doc["kith"]["version"] = json!(2);
        assert_eq!(err(doc.clone()).path, "$.kith.version");
        doc["kith"]["version"] = json!(1);
        doc["kith"]["exact"] = json!({"name": {}});
        assert_eq!(err(doc).path, "$.kith.exact.name");
    }

    #[test]
    fn id_column_does_not_change_the_fingerprint() {
        let mut a = v3(json!([name_feature()]));
        a["kith"] = json!({"version": 1});
        let mut b = a.clone();
        b["kith"]["id_column"] = json!("person_id");
        let (a, b) = (
            Schema::from_value(&a).expect("valid"),
            Schema::from_value(&b).expect("valid"),
        );
        assert_eq!(a.fingerprint(), b.fingerprint());
    }
}
