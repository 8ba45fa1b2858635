//! The encoder: one record's values to its CLK, its exact-match tokens and its record token.
//!
//! [`Encoder`] holds the prepared keys and is shared by all threads; each thread owns a [`Scratch`]
//! with buffers and caches: per feature, the bits of every token already hashed, and (for features
//! whose values repeat, such as forenames) the bits of every raw value already encoded. A token is
//! hashed once per thread, however often it occurs. [`Encoder::encode`] does one record;
//! [`Encoder::encode_many`] does a batch feature by feature, which keeps each feature's caches hot.
//! Encoding is a pure function of the schema, the secret, the party name and the record, so output
//! does not depend on the thread count, the batching or the caches (tested by property tests below).

use std::borrow::Cow;
use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use rustc_hash::FxHashMap;
use sha2::Sha256;

use crate::bits::BitVec;
use crate::datefmt::DateFormat;
use crate::error::{FieldError, SecretError};
use crate::format::format_value;
use crate::hash::TokenHasher;
use crate::kernel::Kernel;
use crate::keys::{Purpose, Secret, clk_keys, kith_key};
use crate::normalize::{DateNormalizer, Normalized, Normalizer};
use crate::schema::{
    Case, Comparison, FeatureHashing, FieldTokens, Format, InputKind, Schema, Strategy,
    TextEncoding,
};
use crate::tokenize::Tokens;

pub use kith_core::{EncodedRecord, TOKEN_BYTES, Token};

/// Entries each per-feature, per-thread cache holds before it is emptied and started again. With
/// 1,024-bit CLKs a full value or dense-token cache is about 2.5 MB, so a thread's caches stay small
/// whatever the input.
const CACHE_LIMIT: usize = 1 << 14;
// The direct-index tables of token slots hold 1 + a slot in a `u16` (half the cache lines of `u32`).
const _: () = assert!(CACHE_LIMIT < u16::MAX as usize);

/// Each encoder gets its own number, so that a `Scratch` can tell whose caches it holds.
static NEXT_ENCODER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Per-holder options that do not change the encodings.
#[derive(Debug, Clone, Default)]
pub struct EncoderOptions {
    /// Extra input date formats per feature or exact identifier (from the holder's column mapping),
    /// tried before the schema's own.
    pub extra_date_formats: BTreeMap<String, Vec<DateFormat>>,
    /// Criteria this holder does not hold (its mapping maps them to `null`): they get no
    /// `flag:` column, rather than a column that says "no" for everyone.
    pub criteria_not_held: std::collections::BTreeSet<String>,
}

/// What became of one field of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOutcome {
    /// The value was encoded.
    Present,
    /// Empty, the missing-value sentinel, or a code meaning unknown.
    Missing,
    /// A normaliser could not read the value; it was treated as missing.
    Invalid,
}

/// One record's values, in the schema's order.
#[derive(Debug, Clone, Copy)]
pub struct RecordInput<'a> {
    /// One value per schema feature (ignored features' values are not read).
    pub features: &'a [&'a str],
    /// One value per keyed input of the schema's `kith` section, in the order of
    /// [`crate::schema::KithSection::keyed_inputs`]: exact identifiers, household inputs, criteria.
    pub exact: &'a [&'a str],
    /// The holder's local ID of the record; it only feeds the keyed record token, which is not
    /// computed when this is `None`.
    pub local_id: Option<&'a str>,
}

struct FeatureEncoder {
    identifier: String,
    hashing: Option<(FeatureHashing, TokenHasher)>,
    normalizer: Option<Normalizer>,
}

struct BlockEncoder {
    name: String,
    parts: Vec<(usize, crate::blocking::Transform)>,
    mac: Hmac<Sha256>,
}

struct FieldEncoder {
    name: String,
    feature: usize,
    bits: u32,
    k: u32,
    tokens: FieldTokens,
    mac: Hmac<Sha256>,
}

impl FieldEncoder {
    /// Set the token's `k` bits in `words` (its two hash words come from the cache when they
    /// can).
    fn add(&self, cache: &mut FieldCache, token: &[u8], words: &mut [u64]) {
        let (a, b) = match cache.get(token) {
            Some(&ab) => ab,
            None => {
                let mut m = self.mac.clone();
                m.update(token);
                let d = m.finalize().into_bytes();
                let word = |i: usize| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&d[i * 8..i * 8 + 8]);
                    u64::from_be_bytes(w)
                };
                let ab = (word(0), word(1) | 1);
                if cache.len() >= CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(token.into(), ab);
                ab
            }
        };
        for i in 0..u64::from(self.k) {
            let bit = a.wrapping_add(i.wrapping_mul(b)) % u64::from(self.bits);
            words[(bit / 64) as usize] |= 1u64 << (63 - bit % 64);
        }
    }
}

/// The parts of a date as clkhash formats it (`%Y%m%d`, the year not zero-padded): year, month,
/// day, as text.
fn date_parts(value: &str) -> Option<(&str, &str, &str)> {
    let n = value.len();
    if n < 5 || !value.is_ascii() {
        return None;
    }
    Some((&value[..n - 4], &value[n - 4..n - 2], &value[n - 2..]))
}

struct ExactEncoder {
    name: String,
    normalizer: Option<Normalizer>,
    mac: Hmac<Sha256>,
}

/// The dwelling token's parts: the postcode feature and the address input (index among the keyed
/// inputs).
struct DwellingEncoder {
    postcode: usize,
    address: usize,
    mac: Hmac<Sha256>,
}

/// The household register token: the input's index among the keyed inputs.
struct RegisterEncoder {
    input: usize,
    mac: Hmac<Sha256>,
}

/// A prepared encoder for one schema, secret and party.
pub struct Encoder {
    id: u64,
    l: u32,
    big_l: u32,
    folds: u32,
    features: Vec<FeatureEncoder>,
    exact: Vec<ExactEncoder>,
    /// Names and kinds of every keyed input (exact identifiers first).
    inputs: Vec<(String, InputKind)>,
    dwelling: Option<DwellingEncoder>,
    register: Option<RegisterEncoder>,
    /// The criteria held: (name, index among the keyed inputs).
    criteria: Vec<(String, usize)>,
    blocking: Vec<BlockEncoder>,
    fields: Vec<FieldEncoder>,
    record_mac: Hmac<Sha256>,
    party: String,
    key_check: String,
    fingerprint: String,
    /// The kernel that ORs token bits ([`Kernel::or_gather`]): the fastest this CPU has.
    kernel: Kernel,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("l", &self.l)
            .field("features", &self.features.len())
            .field("exact", &self.exact.len())
            .field("party", &self.party)
            .field("keys", &"[redacted]")
            .finish()
    }
}

/// Values already encoded by one thread, for one feature: raw value → what it contributed.
///
/// Values of up to 24 bytes (most names, dates, towns, house numbers with their street) are keyed
/// inline, so that a lookup reads no memory but the table's; the bits are kept in one arena, so
/// that a hit costs no pointer chase.
#[derive(Debug, Default)]
struct ValueCache {
    short: FxHashMap<ValueKey, u32>,
    long: FxHashMap<Box<str>, u32>,
    outcomes: Vec<FieldOutcome>,
    /// For CLKs of up to `DENSE_MAX_WORDS` words: `nw` words per value.
    dense: Vec<u64>,
    /// For longer CLKs: the (word, bits) pairs each value sets.
    sparse: Vec<Box<[(u32, u64)]>>,
}

/// The inline key of a value of up to 24 bytes (see [`short_value_key`]).
type ValueKey = (u64, u64, u64, u8);

/// The inline key of a value of up to 24 bytes: its first and last eight bytes (overlapping, or
/// its first and last four, two or one, zero-extended, for shorter values), bytes 8 to 16 of a value
/// longer than 16, and its length, which together determine it. Fixed-size loads, no copy loop.
fn short_value_key(raw: &str) -> Option<ValueKey> {
    let b = raw.as_bytes();
    let n = b.len();
    if n > 16 {
        let middle = b.get(8..16)?.first_chunk()?;
        return (n <= 24).then_some((
            u64::from_le_bytes(*b.first_chunk()?),
            u64::from_le_bytes(*middle),
            u64::from_le_bytes(*b.last_chunk()?),
            n as u8,
        ));
    }
    let (head, tail) = match n {
        0 => (0, 0),
        1 => (u64::from(b[0]), 0),
        2..4 => (
            u64::from(u16::from_le_bytes(*b.first_chunk()?)),
            u64::from(u16::from_le_bytes(*b.last_chunk()?)),
        ),
        4..8 => (
            u64::from(u32::from_le_bytes(*b.first_chunk()?)),
            u64::from(u32::from_le_bytes(*b.last_chunk()?)),
        ),
        _ => (
            u64::from_le_bytes(*b.first_chunk()?),
            u64::from_le_bytes(*b.last_chunk()?),
        ),
    };
    Some((head, 0, tail, n as u8))
}

impl FeatureCache {
    /// At the end of a trial of the value cache (after `lookups`), switch it off or go on.
    #[cold]
    fn judge(&mut self) {
        let keep = match self.lookups {
            CACHE_TRIAL => self.hits >= CACHE_KEEP_HITS,
            CACHE_WARM_START => {
                self.hits = 0; // the second trial starts
                true
            }
            _ => self.hits >= (CACHE_WARM_END - CACHE_WARM_START) / 2,
        };
        if !keep {
            self.values_off = true;
            self.values = ValueCache::default();
        }
    }
}

impl ValueCache {
    fn len(&self) -> usize {
        self.outcomes.len()
    }

    fn get(&self, raw: &str) -> Option<usize> {
        match short_value_key(raw) {
            Some(key) => self.short.get(&key),
            None => self.long.get(raw),
        }
        .map(|&slot| slot as usize)
    }

    /// OR value `slot`'s bits into `bits`; its outcome.
    fn or_into(&self, slot: usize, nw: usize, bits: &mut BitVec) -> FieldOutcome {
        if nw <= DENSE_MAX_WORDS {
            bits.or_words(&self.dense[slot * nw..(slot + 1) * nw]);
        } else {
            for &(w, m) in self.sparse[slot].iter() {
                bits.or_word(w as usize, m);
            }
        }
        self.outcomes[slot]
    }

    /// Remember a value's bits (`words`, which is left zeroed) and outcome.
    fn insert(&mut self, raw: &str, words: &mut [u64], outcome: FieldOutcome) {
        if self.len() >= VALUE_CACHE_LIMIT {
            // Emptied in place: the tables keep their memory, which a full cache soon needs again.
            self.short.clear();
            self.long.clear();
            self.outcomes.clear();
            self.dense.clear();
            self.sparse.clear();
        }
        let slot = self.len() as u32;
        if words.len() <= DENSE_MAX_WORDS {
            self.dense.extend_from_slice(words);
            words.fill(0);
        } else {
            self.sparse.push(
                words
                    .iter_mut()
                    .enumerate()
                    .filter(|(_, m)| **m != 0)
                    .map(|(w, m)| (w as u32, std::mem::take(m)))
                    .collect(),
            );
        }
        self.outcomes.push(outcome);
        match short_value_key(raw) {
            Some(key) => self.short.insert(key, slot),
            None => self.long.insert(raw.into(), slot),
        };
    }
}

/// Per-feature caches of one thread: formatted value → bits, and token bytes → bit indices.
///
/// Values that rarely repeat (telephone numbers, e-mail addresses) would only churn the value cache,
/// so it switches itself off for a feature whose hit rate is low; the token cache still serves them.
#[derive(Debug, Default)]
struct FeatureCache {
    values: ValueCache,
    tokens: FxHashMap<Box<[u8]>, Box<[u32]>>,
    /// Tokens of one or two bytes (ASCII unigrams and bigrams, the bulk of all tokens) skip hashing:
    /// `short[key]` is 1 + the offset in `short_arena` of `[k, index 0, …, index k-1]`, or 0.
    short: Vec<u32>,
    short_arena: Vec<u32>,
    /// Dense per-token bit maps (`L / 64` words each) for fixed-k features with short CLKs: OR-ing
    /// a token's words beats setting its k bits one by one. `dense_short` is indexed like `short`
    /// and holds 1 + the slot; longer tokens go through `dense_long`.
    dense_short: Vec<u16>,
    /// Like `dense_short`, for positional unigrams of ASCII values (`"{i + 1} {c}"`), indexed by
    /// `i * 128 + c` for the first `POSITIONAL_SLOTS / 128` positions.
    dense_positional: Vec<u16>,
    /// Like `dense_short`, for the windows of ASCII values (the fast path): indexed by the byte
    /// of a unigram, or by `a << 7 | b` for a bigram `ab`, without range checks.
    dense_ascii: Vec<u16>,
    dense_long: FxHashMap<Box<[u8]>, u32>,
    dense: Vec<u64>,
    /// How many times `dense` was emptied (slots found before then are stale).
    dense_generation: u32,
    /// Value-cache lookups and hits, for its trials (hits are counted afresh for the second).
    lookups: u32,
    hits: u32,
    values_off: bool,
}

/// Slots of the short-token table: 96 × 96 printable-ASCII bigrams, then 256 one-byte tokens.
const SHORT_SLOTS: usize = 96 * 96 + 256;

/// The slot of a one-byte token or a two-byte token of printable ASCII (the bigrams of ASCII text).
/// The table stays small (37 KB a feature) so that it lives in the cache; other tokens use maps.
fn short_key(token: &[u8]) -> Option<usize> {
    match *token {
        [a] => Some(96 * 96 + usize::from(a)),
        [a @ 0x20..=0x7f, b @ 0x20..=0x7f] => {
            Some(usize::from(a - 0x20) * 96 + usize::from(b - 0x20))
        }
        _ => None,
    }
}

/// Slots of the table of ASCII unigrams and bigrams (`dense_ascii`): 128 × 128.
const ASCII_SLOTS: usize = 128 * 128;

/// Bigrams of a value whose keys are computed in one go (values up to 63 bytes; longer ones compute
/// each key in turn).
const ASCII_RUN: usize = 64;

/// Slots of the positional-unigram table: 64 positions × 128 ASCII characters.
const POSITIONAL_SLOTS: usize = 64 * 128;

/// Words of a CLK of `big_l` bits.
fn field_words_len(big_l: u32) -> usize {
    (big_l as usize).div_ceil(64)
}

/// Dense token maps are used up to this many words per CLK (4,096 bits before folding).
const DENSE_MAX_WORDS: usize = 64;

/// Value lookups in the value cache's first trial (see [`CACHE_KEEP_HITS`]).
const CACHE_TRIAL: u32 = 1024;

/// Hits in the first trial at which the value cache stays on: a quarter of the lookups. `T` draws
/// from `V` equally common values hit a cache of what was drawn before `T - V(1 - e^(-T/V))` times,
/// so this means a feature of at most about 1,700 distinct values, whose cached bits (about 200 KB
/// at 1,024 bits) stay in the L2 cache beside the other features' token tables: a hit then costs a
/// fraction of OR-ing the value's tokens. Bigger caches lose: they miss the L2 cache on most hits
/// and push the other features' tables out of it. Values that rarely repeat (telephone numbers,
/// postcodes, dates of birth) would only churn a cache. See `docs/design.md`.
const CACHE_KEEP_HITS: u32 = CACHE_TRIAL / 4;

/// Values a feature's value cache holds before it is emptied (512 KB of bits at 1,024 bits): the
/// first trial keeps caches of about 1,700 values, but a few common values among many rare ones
/// (as in a national extract's surnames) can pass both trials and would fill it.
const VALUE_CACHE_LIMIT: usize = 4096;

/// The second trial, on a warm cache: of the lookups from `CACHE_WARM_START` to `CACHE_WARM_END`,
/// at least half must hit. It catches what the first one cannot tell from a few thousand values:
/// a mix of a few common values and a long tail of rare ones (names built from syllables: short
/// ones repeat, long ones hardly ever), which keeps a full cache churning.
const CACHE_WARM_START: u32 = 8 * 1024;
/// See [`CACHE_WARM_START`].
const CACHE_WARM_END: u32 = 16 * 1024;

/// Buffers and caches owned by one thread. Reusing one `Scratch` for many records is what makes
/// encoding fast; it never changes the output.
#[derive(Debug, Default)]
pub struct Scratch {
    work: Work,
    bits: Vec<BitVec>,
    /// Exact-token outcomes of one record, while it is finished.
    outcomes: Vec<FieldOutcome>,
    /// What [`Encoder::encode`] returns: a batch of one.
    single: EncodedBatch,
}

/// Token bytes → the two hash words of a field-level filter.
type FieldCache = FxHashMap<Box<[u8]>, (u64, u64)>;

/// The buffers and caches one field's encoding uses.
#[derive(Debug, Default)]
struct Work {
    tokens: Tokens,
    indices: Vec<u32>,
    token_bytes: Vec<u8>,
    field_words: Vec<u64>,
    /// A date value as clkhash formats it, while its tokens are made.
    formatted: String,
    caches: Vec<FeatureCache>,
    /// Per field-level filter: token bytes → its two hash words.
    field_caches: Vec<FieldCache>,
    /// The id of the encoder the caches belong to (0: none yet).
    owner: u64,
}

/// Several records encoded together by [`Encoder::encode_many`].
#[derive(Debug, Default)]
pub struct EncodedBatch {
    records: Vec<EncodedRecord>,
    errors: Vec<Option<FieldError>>,
    outcomes: Vec<FieldOutcome>,
    width: usize,
    len: usize,
}

impl EncodedBatch {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Record `i`: its encoding, or why the schema refused it.
    pub fn get(&self, i: usize) -> Result<&EncodedRecord, &FieldError> {
        match &self.errors[i] {
            Some(e) => Err(e),
            None => Ok(&self.records[i]),
        }
    }

    /// What became of each field of record `i` (as [`Scratch::outcomes`]); meaningful for encoded
    /// records.
    pub fn outcomes(&self, i: usize) -> &[FieldOutcome] {
        &self.outcomes[i * self.width..(i + 1) * self.width]
    }
}

impl Scratch {
    /// What became of each field of the last record encoded: schema features first (ignored ones are
    /// `Present`), then exact identifiers.
    pub fn outcomes(&self) -> &[FieldOutcome] {
        if self.single.is_empty() {
            &[]
        } else {
            self.single.outcomes(0)
        }
    }
}

fn mac_key(key: &[u8; 32]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

fn token_of(mac: &Hmac<Sha256>, parts: &[&[u8]]) -> Token {
    let mut m = mac.clone();
    for p in parts {
        m.update(p);
    }
    let full = m.finalize().into_bytes();
    let mut t = [0u8; TOKEN_BYTES];
    t.copy_from_slice(&full[..TOKEN_BYTES]);
    t
}

impl Encoder {
    /// Prepare an encoder. The party name feeds the record tokens, so that two holders' local IDs
    /// never give the same token.
    pub fn new(
        schema: &Schema,
        secret: &Secret,
        party: &str,
        options: &EncoderOptions,
    ) -> Result<Encoder, SecretError> {
        let clk = schema.clk();
        let keys = clk_keys(secret, &clk.kdf, schema.features().len())?;
        let big_l = clk.l << clk.xor_folds;
        let with_extra = |name: &str, n: Option<&Normalizer>| -> Option<Normalizer> {
            match (n, options.extra_date_formats.get(name)) {
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
        };
        let mut features = Vec::with_capacity(schema.features().len());
        for (f, k) in schema.features().iter().zip(&keys) {
            let hashing = match &f.hashing {
                None => None,
                Some(h) => {
                    let max_k = match h.strategy {
                        Strategy::BitsPerToken(k) | Strategy::BitsPerFeature(k) => k,
                    };
                    let hasher =
                        TokenHasher::new(h.hash, k, max_k).map_err(SecretError::InvalidKey)?;
                    Some((h.clone(), hasher))
                }
            };
            features.push(FeatureEncoder {
                identifier: f.identifier.clone(),
                hashing,
                normalizer: with_extra(&f.identifier, schema.kith().normalize.get(&f.identifier)),
            });
        }
        let fp = schema.fingerprint();
        let exact = schema
            .kith()
            .exact
            .iter()
            .map(|e| ExactEncoder {
                name: e.name.clone(),
                normalizer: with_extra(&e.name, e.normalize.as_ref()),
                mac: mac_key(&kith_key(secret, fp, Purpose::ExactToken(&e.name))),
            })
            .collect();
        let blocking = schema
            .kith()
            .blocking
            .iter()
            .map(|b| BlockEncoder {
                name: b.name.clone(),
                parts: b
                    .parts
                    .iter()
                    .filter_map(|p| {
                        let i = features.iter().position(|f| f.identifier == p.feature)?;
                        Some((i, p.transform))
                    })
                    .collect(),
                mac: mac_key(&kith_key(secret, fp, Purpose::BlockToken(&b.name))),
            })
            .collect();
        let fields = schema
            .kith()
            .fields
            .iter()
            .filter_map(|f| {
                Some(FieldEncoder {
                    name: f.feature.clone(),
                    feature: features.iter().position(|x| x.identifier == f.feature)?,
                    bits: f.bits,
                    k: f.k,
                    tokens: f.tokens,
                    mac: mac_key(&kith_key(secret, fp, Purpose::FieldFilter(&f.group))),
                })
            })
            .collect();
        let inputs: Vec<(String, InputKind)> = schema
            .kith()
            .keyed_inputs()
            .into_iter()
            .map(|(n, k)| (n.to_owned(), k))
            .collect();
        let input_of = |kind: InputKind| inputs.iter().position(|(_, k)| *k == kind);
        let dwelling = schema
            .kith()
            .household
            .as_ref()
            .and_then(|h| h.dwelling.as_ref())
            .and_then(|d| {
                Some(DwellingEncoder {
                    postcode: features.iter().position(|f| f.identifier == d.postcode)?,
                    address: input_of(InputKind::Address)?,
                    mac: mac_key(&kith_key(secret, fp, Purpose::HouseToken("dwelling"))),
                })
            });
        let register = input_of(InputKind::Register).map(|input| RegisterEncoder {
            input,
            mac: mac_key(&kith_key(secret, fp, Purpose::HouseToken("register"))),
        });
        let criteria = inputs
            .iter()
            .enumerate()
            .filter(|(_, (n, k))| {
                *k == InputKind::Criterion && !options.criteria_not_held.contains(n)
            })
            .map(|(i, (n, _))| (n.clone(), i))
            .collect();
        let record_mac = mac_key(&kith_key(secret, fp, Purpose::RecordToken));
        let check = token_of(
            &mac_key(&kith_key(secret, fp, Purpose::KeyCheck)),
            &[b"kith key check"],
        );
        Ok(Encoder {
            id: NEXT_ENCODER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            l: clk.l,
            big_l,
            folds: clk.xor_folds,
            features,
            exact,
            inputs,
            dwelling,
            register,
            criteria,
            blocking,
            fields,
            record_mac,
            party: party.to_owned(),
            key_check: crate::hex(&check[..8]),
            fingerprint: fp.to_owned(),
            kernel: Kernel::detect(),
        })
    }

    /// The same encoder with another kernel for OR-ing token bits (every kernel gives the same
    /// CLKs; tests and benches compare them).
    ///
    /// # Panics
    /// If this CPU lacks the kernel's instructions (see [`Kernel::available`]).
    pub fn with_kernel(mut self, kernel: Kernel) -> Encoder {
        assert!(
            Kernel::available().contains(&kernel),
            "{} needs CPU features this machine lacks",
            kernel.name()
        );
        self.kernel = kernel;
        self
    }

    /// The CLK length in bits.
    pub fn clk_bits(&self) -> u32 {
        self.l
    }

    /// Names of the blocking keys, in output order.
    pub fn block_names(&self) -> Vec<&str> {
        self.blocking.iter().map(|b| b.name.as_str()).collect()
    }

    /// Field-level filters: (feature, bits), in output order.
    pub fn field_filters(&self) -> Vec<(&str, u32)> {
        self.fields
            .iter()
            .map(|f| (f.name.as_str(), f.bits))
            .collect()
    }

    /// Names of the exact identifiers, in output order.
    pub fn exact_names(&self) -> Vec<&str> {
        self.exact.iter().map(|e| e.name.as_str()).collect()
    }

    /// Names of every keyed input (exact identifiers, household inputs, criteria), in the order
    /// [`RecordInput::exact`] takes their values.
    pub fn input_names(&self) -> Vec<&str> {
        self.inputs.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Names of the household tokens, in output order: `dwelling` and `register`, as the schema
    /// has them.
    pub fn house_names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.dwelling.is_some() {
            v.push("dwelling");
        }
        if self.register.is_some() {
            v.push("register");
        }
        v
    }

    /// Names of the criteria this holder holds, in output order.
    pub fn criteria_names(&self) -> Vec<&str> {
        self.criteria.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Feature identifiers in schema order.
    pub fn feature_names(&self) -> Vec<&str> {
        self.features
            .iter()
            .map(|f| f.identifier.as_str())
            .collect()
    }

    /// A short keyed value that is the same for every holder with the same secret and schema, and
    /// tells the linkage party nothing else: files with different key checks were made with
    /// different secrets and cannot be linked.
    pub fn key_check(&self) -> &str {
        &self.key_check
    }

    /// The schema fingerprint.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The party name.
    pub fn party(&self) -> &str {
        &self.party
    }

    /// The record token of a local ID.
    pub fn record_token(&self, local_id: &str) -> Token {
        token_of(
            &self.record_mac,
            &[self.party.as_bytes(), &[0], local_id.as_bytes()],
        )
    }

    /// Encode one record. The error names the feature whose value the schema refuses (as clkhash's
    /// validation would), without repeating the value. The result lives in `scratch` until the next
    /// call.
    pub fn encode<'s>(
        &self,
        scratch: &'s mut Scratch,
        input: &RecordInput<'_>,
    ) -> Result<&'s EncodedRecord, FieldError> {
        let mut single = std::mem::take(&mut scratch.single);
        self.encode_many(scratch, std::slice::from_ref(input), &mut single);
        scratch.single = single;
        scratch.single.get(0).map_err(FieldError::clone)
    }

    /// Encode several records, feature by feature: each feature's caches stay hot while it is done
    /// for every record, which is faster than calling [`Encoder::encode`] for each. Every record's
    /// result is exactly what `encode` gives it alone.
    pub fn encode_many(
        &self,
        scratch: &mut Scratch,
        inputs: &[RecordInput<'_>],
        out: &mut EncodedBatch,
    ) {
        let n = inputs.len();
        let width = self.features.len() + self.inputs.len();
        for input in inputs {
            assert_eq!(
                input.features.len(),
                self.features.len(),
                "one value per schema feature"
            );
            assert_eq!(
                input.exact.len(),
                self.inputs.len(),
                "one value per keyed input"
            );
        }
        let mut bits = std::mem::take(&mut scratch.bits);
        if bits.len() < n {
            bits.resize_with(n, || BitVec::zeros(0));
        }
        self.prepare(&mut scratch.work, &mut bits[..n]);
        if out.records.len() < n {
            out.records.resize_with(n, EncodedRecord::default);
        }
        out.errors.clear();
        out.errors.resize(n, None);
        out.outcomes.clear();
        out.outcomes.resize(n * width, FieldOutcome::Present);
        out.width = width;
        out.len = n;
        for i in 0..self.features.len() {
            for (r, input) in inputs.iter().enumerate() {
                if out.errors[r].is_some() {
                    continue;
                }
                match self.encode_field(&mut scratch.work, i, input.features[i], &mut bits[r]) {
                    Ok(o) => out.outcomes[r * width + i] = o,
                    Err(e) => out.errors[r] = Some(e),
                }
            }
        }
        let mut outcomes = std::mem::take(&mut scratch.outcomes);
        for (r, input) in inputs.iter().enumerate() {
            if out.errors[r].is_none() {
                outcomes.clear();
                self.finish(&mut bits[r], input, &mut out.records[r], &mut outcomes);
                self.field_filters_of(&mut scratch.work, input, &mut out.records[r]);
                out.outcomes[r * width + self.features.len()..(r + 1) * width]
                    .copy_from_slice(&outcomes);
            }
        }
        scratch.outcomes = outcomes;
        scratch.bits = bits;
    }

    /// Make the work area ready for this encoder and zero the records' bit vectors.
    fn prepare(&self, work: &mut Work, bits: &mut [BitVec]) {
        if work.owner != self.id || work.caches.len() != self.features.len() {
            work.caches = (0..self.features.len())
                .map(|_| FeatureCache::default())
                .collect();
            work.field_caches = (0..self.fields.len())
                .map(|_| FxHashMap::default())
                .collect();
            work.owner = self.id;
        }
        work.field_words.clear();
        work.field_words
            .resize((self.big_l as usize).div_ceil(64), 0);
        for b in bits {
            b.reset(self.big_l as usize);
        }
    }

    /// Exact tokens (their outcomes are appended to `outcomes`), folding, serialising, record token.
    fn finish(
        &self,
        bits: &mut BitVec,
        input: &RecordInput<'_>,
        record: &mut EncodedRecord,
        outcomes: &mut Vec<FieldOutcome>,
    ) {
        record.exact.clear();
        for (e, raw) in self.exact.iter().zip(input.exact) {
            let value = match &e.normalizer {
                Some(n) => n.apply(raw),
                None => match raw.trim() {
                    "" => Normalized::Missing,
                    v => Normalized::Value(Cow::Borrowed(v)),
                },
            };
            let (token, outcome) = match value {
                Normalized::Value(v) => (
                    Some(token_of(&e.mac, &[v.as_bytes()])),
                    FieldOutcome::Present,
                ),
                Normalized::Missing => (None, FieldOutcome::Missing),
                Normalized::Invalid => (None, FieldOutcome::Invalid),
            };
            outcomes.push(outcome);
            record.exact.push(token);
        }
        self.household_of(input, record, outcomes);
        record.blocks.clear();
        let mut joined = String::new();
        for b in &self.blocking {
            joined.clear();
            let mut complete = true;
            for (n, &(i, transform)) in b.parts.iter().enumerate() {
                let fe = &self.features[i];
                match transform.apply(fe.normalizer.as_ref(), input.features[i]) {
                    Some(v) => {
                        if n > 0 {
                            joined.push('\u{1f}');
                        }
                        joined.push_str(&v);
                    }
                    None => {
                        complete = false;
                        break;
                    }
                }
            }
            record.blocks.push(complete.then(|| {
                let t = token_of(&b.mac, &[joined.as_bytes()]);
                let mut w = [0u8; 8];
                w.copy_from_slice(&t[..8]);
                u64::from_be_bytes(w)
            }));
        }
        for _ in 0..self.folds {
            bits.fold();
        }
        bits.write_bytes(&mut record.clk);
        record.token = input.local_id.map(|id| self.record_token(id));
    }

    /// The household tokens and criteria flags; one outcome per keyed input after the exact
    /// identifiers is appended to `outcomes`.
    fn household_of(
        &self,
        input: &RecordInput<'_>,
        record: &mut EncodedRecord,
        outcomes: &mut Vec<FieldOutcome>,
    ) {
        let outcome = |n: &Normalized<'_>| match n {
            Normalized::Value(_) => FieldOutcome::Present,
            Normalized::Missing => FieldOutcome::Missing,
            Normalized::Invalid => FieldOutcome::Invalid,
        };
        outcomes.resize(self.inputs.len(), FieldOutcome::Missing);
        record.house.clear();
        if let Some(d) = &self.dwelling {
            let premise = Normalizer::Premise.apply(input.exact[d.address]);
            outcomes[d.address] = outcome(&premise);
            let fe = &self.features[d.postcode];
            let raw = input.features[d.postcode];
            let postcode = match &fe.normalizer {
                Some(n) => n.apply(raw),
                None => match raw.trim() {
                    "" => Normalized::Missing,
                    v => Normalized::Value(Cow::Owned(v.to_uppercase())),
                },
            };
            record.house.push(match (postcode, premise) {
                (Normalized::Value(pc), Normalized::Value(pr)) => {
                    Some(token_of(&d.mac, &[pc.as_bytes(), &[0x1f], pr.as_bytes()]))
                }
                _ => None,
            });
        }
        if let Some(r) = &self.register {
            let v = input.exact[r.input].trim();
            outcomes[r.input] = if v.is_empty() {
                FieldOutcome::Missing
            } else {
                FieldOutcome::Present
            };
            record.house.push(
                (!v.is_empty())
                    .then(|| token_of(&r.mac, &[self.party.as_bytes(), &[0], v.as_bytes()])),
            );
        }
        record.flags.clear();
        for &(_, i) in &self.criteria {
            let f = Normalizer::Flag.apply(input.exact[i]);
            outcomes[i] = match &f {
                Normalized::Value(v) if v == "0" && input.exact[i].trim().is_empty() => {
                    FieldOutcome::Missing
                }
                other => outcome(other),
            };
            record.flags.push(match f {
                Normalized::Value(v) => Some(v == "1"),
                _ => None,
            });
        }
    }

    /// The record's field-level Bloom filters. A token's bits are `(a + i·b) mod bits` for
    /// `i < k`, where `a` and `b` are the first two words of the token's HMAC under the filter's
    /// group key (`b` made odd). Missing and invalid values give no filter.
    fn field_filters_of(
        &self,
        work: &mut Work,
        input: &RecordInput<'_>,
        record: &mut EncodedRecord,
    ) {
        // Each slot's buffer is reused from the record's last use.
        record.fields.resize(self.fields.len(), None);
        for (fi, f) in self.fields.iter().enumerate() {
            let slot = &mut record.fields[fi];
            let fe = &self.features[f.feature];
            let Some((h, _)) = &fe.hashing else {
                *slot = None;
                continue;
            };
            let raw = input.features[f.feature];
            let value = match fe.normalizer.as_ref().map(|n| n.apply(raw)) {
                None => clk_value(h, raw).ok().map(|(v, o)| (v.into_owned(), o)),
                Some(Normalized::Value(v)) => {
                    clk_value(h, &v).ok().map(|(v, o)| (v.into_owned(), o))
                }
                Some(Normalized::Missing | Normalized::Invalid) => None,
            };
            let value: String = match value {
                Some((v, FieldOutcome::Present)) if !v.is_empty() => v,
                _ => {
                    *slot = None;
                    continue;
                }
            };
            // The schema allows at most 1,024 bits.
            let mut all_words = [0u64; 16];
            let words = &mut all_words[..f.bits as usize / 64];
            let cache = &mut work.field_caches[fi];
            match f.tokens {
                FieldTokens::Clk => {
                    if work.tokens.fill(&h.comparison, &value).is_err() {
                        *slot = None;
                        continue;
                    }
                    for tok in work.tokens.iter() {
                        if encode_token(h.encoding, tok, &mut work.token_bytes).is_ok() {
                            f.add(cache, &work.token_bytes, words);
                        }
                    }
                }
                FieldTokens::Date => {
                    let Some((y, m, d)) = date_parts(&value) else {
                        *slot = None;
                        continue;
                    };
                    let (lo, hi) = if m <= d { (m, d) } else { (d, m) };
                    let t = &mut work.token_bytes;
                    for (tag, a, b) in [
                        ("y1:", y, ""),
                        ("y2:", y, ""),
                        ("y3:", y, ""),
                        ("y4:", y, ""),
                        ("y5:", y, ""),
                        ("m:", m, ""),
                        ("d:", d, ""),
                        ("md:", lo, hi),
                    ] {
                        t.clear();
                        t.extend_from_slice(tag.as_bytes());
                        t.extend_from_slice(a.as_bytes());
                        t.extend_from_slice(b.as_bytes());
                        f.add(cache, t, words);
                    }
                }
            }
            let buf = slot.get_or_insert_with(Vec::new);
            buf.clear();
            buf.extend(words.iter().flat_map(|w| w.to_be_bytes()));
        }
    }

    /// Encode feature `i` of one record into `bits`: from the value cache when it holds the value
    /// (inlined into the batch loop: most values of repetitive features end here), else
    /// [`Encoder::encode_value`].
    #[inline]
    fn encode_field(
        &self,
        work: &mut Work,
        i: usize,
        raw: &str,
        bits: &mut BitVec,
    ) -> Result<FieldOutcome, FieldError> {
        match self.cached(work, i, raw, bits) {
            Some(outcome) => Ok(outcome),
            None => self.encode_value(work, i, raw, bits),
        }
    }

    /// OR the cached bits of feature `i`'s value into `bits`, if the value cache holds them.
    ///
    /// The value cache is keyed by the raw value: normalising and formatting are pure functions of
    /// it, so a hit skips them as well as the hashing. Empty cells are cheap and common; they
    /// neither use nor judge the value cache. Two trials decide whether the cache stays on
    /// ([`CACHE_KEEP_HITS`], [`CACHE_WARM_START`]): a token's bits are cheap to OR, so a cache of
    /// values that rarely repeat costs more in inserts and memory traffic than it saves.
    #[inline]
    fn cached(
        &self,
        work: &mut Work,
        i: usize,
        raw: &str,
        bits: &mut BitVec,
    ) -> Option<FieldOutcome> {
        self.features[i].hashing.as_ref()?;
        let cache = &mut work.caches[i];
        if cache.values_off || raw.is_empty() {
            return None;
        }
        cache.lookups = cache.lookups.saturating_add(1);
        let slot = cache.values.get(raw);
        cache.hits = cache.hits.saturating_add(u32::from(slot.is_some()));
        if matches!(
            cache.lookups,
            CACHE_TRIAL | CACHE_WARM_START | CACHE_WARM_END
        ) {
            cache.judge();
            if cache.values_off {
                return None; // the slot went with the cache
            }
        }
        Some(
            cache
                .values
                .or_into(slot?, field_words_len(self.big_l), bits),
        )
    }

    /// Encode feature `i` of one record into `bits` when the value cache does not hold it (and
    /// remember it there while the cache is on).
    #[inline(never)]
    fn encode_value(
        &self,
        work: &mut Work,
        i: usize,
        raw: &str,
        bits: &mut BitVec,
    ) -> Result<FieldOutcome, FieldError> {
        let fe = &self.features[i];
        let Some((h, hasher)) = &fe.hashing else {
            return Ok(FieldOutcome::Present);
        };
        let err = |message: String| FieldError {
            feature: fe.identifier.clone(),
            message,
        };
        let Work {
            tokens,
            indices,
            token_bytes,
            field_words,
            formatted,
            caches,
            ..
        } = work;
        let (value, outcome): (Cow<'_, str>, FieldOutcome) =
            match fe.normalizer.as_ref().map(|n| n.apply(raw)) {
                None => clk_value_in(h, raw, formatted).map_err(err)?,
                Some(Normalized::Value(v)) => {
                    let (value, outcome) = clk_value(h, &v).map_err(err)?;
                    (Cow::Owned(value.into_owned()), outcome)
                }
                Some(Normalized::Missing) => (missing_value(h), FieldOutcome::Missing),
                Some(Normalized::Invalid) => (missing_value(h), FieldOutcome::Invalid),
            };
        let outcome = if value.is_empty() && outcome == FieldOutcome::Present {
            FieldOutcome::Missing
        } else {
            outcome
        };
        if value.is_empty() {
            return Ok(outcome); // no tokens, no bits (clkhash: an empty string gives no tokens)
        }
        let cache = &mut caches[i];
        // The feature's bits are collected in `field_words` first, to be cached as the value's
        // bits; when values are not cached, the fast paths below OR them straight into the
        // record, and the others collect them first all the same.
        let direct = cache.values_off || raw.is_empty();
        let mut collected = true;
        let nw = field_words.len();
        let dense = match h.strategy {
            Strategy::BitsPerToken(k) if nw <= DENSE_MAX_WORDS => Some(DenseTokens {
                kernel: self.kernel,
                hasher,
                k: k as usize,
                big_l: self.big_l,
                nw,
            }),
            _ => None,
        };
        let mut add = |cache: &mut FeatureCache, indices: &mut Vec<u32>, tok: &[u8], k: usize| {
            if let Some(d) = &dense {
                or_dense(field_words, d.bits(cache, indices, tok));
            } else {
                for &b in token_indices(cache, indices, hasher, tok, k, self.big_l) {
                    field_words[(b / 64) as usize] |= 1u64 << (63 - b % 64);
                }
            }
        };
        match (&h.comparison, h.strategy, h.encoding) {
            // Fast path for the common case: plain n-grams of an ASCII value in UTF-8 or ASCII.
            // The tokens are then just the windows of the padded bytes.
            (
                Comparison::Ngram {
                    n,
                    positional: false,
                },
                Strategy::BitsPerToken(k),
                TextEncoding::Utf8 | TextEncoding::Ascii,
            ) if value.is_ascii() => {
                // (Padding byte by byte: `extend(repeat_n(..))` was a call to memset per side.)
                token_bytes.clear();
                for _ in 1..*n {
                    token_bytes.push(b' ');
                }
                token_bytes.extend_from_slice(value.as_bytes());
                for _ in 1..*n {
                    token_bytes.push(b' ');
                }
                if let Some(d) = dense.as_ref().filter(|_| *n <= 2) {
                    // Unigrams and bigrams: each token's slot is found by direct index.
                    if direct {
                        d.or_windows(cache, indices, token_bytes, *n, bits);
                    } else {
                        d.or_windows(cache, indices, token_bytes, *n, &mut field_words[..]);
                    }
                    collected = !direct;
                } else {
                    for tok in token_bytes.windows(*n) {
                        add(cache, indices, tok, k as usize);
                    }
                }
            }
            // Positional unigrams of a short ASCII value (dates): the slot of `"{i + 1} {c}"` is
            // found by (i, c); the token is written out only to hash it the first time.
            (
                Comparison::Ngram {
                    n: 1,
                    positional: true,
                },
                Strategy::BitsPerToken(_),
                TextEncoding::Utf8 | TextEncoding::Ascii,
            ) if dense.is_some() && value.is_ascii() && value.len() * 128 <= POSITIONAL_SLOTS => {
                let chars = value.as_bytes();
                if let Some(d) = &dense {
                    let known = |cache: &FeatureCache, i: usize| {
                        let key = i * 128 + usize::from(chars[i] & 0x7f);
                        cache.dense_positional.get(key).map_or(0, |&s| u32::from(s))
                    };
                    let make = |cache: &mut FeatureCache, i: usize| {
                        d.positional_slot(cache, indices, token_bytes, i, chars[i])
                    };
                    let count = chars.len();
                    if direct {
                        or_slots(d.kernel, cache, bits, nw, count, known, make);
                    } else {
                        let words = &mut field_words[..];
                        or_slots(d.kernel, cache, words, nw, count, known, make);
                    }
                    collected = !direct;
                }
            }
            _ => {
                tokens.fill(&h.comparison, &value).map_err(err)?;
                let n = tokens.len();
                for (t, tok) in tokens.iter().enumerate() {
                    let k = match h.strategy {
                        Strategy::BitsPerToken(k) => k,
                        Strategy::BitsPerFeature(f) => {
                            let (q, r) = (f as usize / n, f as usize % n);
                            (q + usize::from(t < r)) as u32
                        }
                    } as usize;
                    if k == 0 {
                        continue;
                    }
                    encode_token(h.encoding, tok, token_bytes).map_err(err)?;
                    add(cache, indices, token_bytes, k);
                }
            }
        }
        if direct {
            if collected {
                bits.or_take_words(field_words);
            }
            return Ok(outcome);
        }
        bits.or_words(field_words);
        cache.values.insert(raw, field_words, outcome);
        Ok(outcome)
    }
}

/// The first `k` bit indices of a token, from the thread's caches or freshly hashed.
fn token_indices<'c>(
    cache: &'c mut FeatureCache,
    indices: &'c mut Vec<u32>,
    hasher: &TokenHasher,
    token: &[u8],
    k: usize,
    big_l: u32,
) -> &'c [u32] {
    if let Some(key) = short_key(token) {
        if cache.short.is_empty() {
            cache.short = vec![0; SHORT_SLOTS];
        }
        let at = cache.short[key] as usize;
        if at != 0 && cache.short_arena[at - 1] as usize >= k {
            return &cache.short_arena[at..at + k];
        }
        indices.clear();
        hasher.indices(token, k as u32, big_l, indices);
        if cache.short_arena.len() > CACHE_LIMIT * 32 {
            cache.short_arena.clear();
            cache.short.fill(0);
        }
        cache.short[key] = cache.short_arena.len() as u32 + 1;
        cache.short_arena.push(k as u32);
        cache.short_arena.extend_from_slice(indices);
        return indices;
    }
    if cache
        .tokens
        .get(token)
        .is_some_and(|known| known.len() >= k)
    {
        return cache.tokens.get(token).map_or(&[], |known| &known[..k]);
    }
    indices.clear();
    hasher.indices(token, k as u32, big_l, indices);
    if cache.tokens.len() >= CACHE_LIMIT {
        cache.tokens.clear();
    }
    cache.tokens.insert(token.into(), indices.as_slice().into());
    indices
}

/// The dense bits (`nw` words) of a fixed-k feature's tokens, kept in its cache's arena.
struct DenseTokens<'h> {
    kernel: Kernel,
    hasher: &'h TokenHasher,
    k: usize,
    big_l: u32,
    nw: usize,
}

impl DenseTokens<'_> {
    /// A token's bits, from the cache or freshly hashed.
    fn bits<'c>(
        &self,
        cache: &'c mut FeatureCache,
        indices: &mut Vec<u32>,
        token: &[u8],
    ) -> &'c [u64] {
        let slot = self.slot(cache, indices, token);
        &cache.dense[slot * self.nw..(slot + 1) * self.nw]
    }

    /// The slot of a token's bits, found by its bytes or made.
    fn slot(&self, cache: &mut FeatureCache, indices: &mut Vec<u32>, token: &[u8]) -> usize {
        if let Some(key) = short_key(token) {
            let table: fn(&mut FeatureCache) -> &mut Vec<u16> = |c| &mut c.dense_short;
            return self.direct_slot(cache, indices, table, SHORT_SLOTS, key, || token);
        }
        if let Some(&slot) = cache.dense_long.get(token) {
            return slot as usize;
        }
        let slot = self.new_slot(cache, indices, token);
        cache.dense_long.insert(token.into(), slot as u32);
        slot
    }

    /// The slot recorded at `key` in the direct-index table that `table` picks (each holds 1 + the
    /// slot, or 0), or else a new slot for the token `token()` gives, recorded there; the table
    /// gets its `size` entries on first use.
    fn direct_slot<'t>(
        &self,
        cache: &mut FeatureCache,
        indices: &mut Vec<u32>,
        table: fn(&mut FeatureCache) -> &mut Vec<u16>,
        size: usize,
        key: usize,
        token: impl FnOnce() -> &'t [u8],
    ) -> usize {
        if let Some(&slot) = table(cache).get(key)
            && slot != 0
        {
            return slot as usize - 1;
        }
        let slot = self.new_slot(cache, indices, token());
        let t = table(cache);
        if t.is_empty() {
            *t = vec![0; size];
        }
        t[key] = slot as u16 + 1;
        slot
    }

    /// Hash a token into a new slot (the caller records where it is). A full arena is emptied
    /// first, with every table that points into it.
    fn new_slot(&self, cache: &mut FeatureCache, indices: &mut Vec<u32>, token: &[u8]) -> usize {
        let nw = self.nw;
        indices.clear();
        self.hasher
            .indices(token, self.k as u32, self.big_l, indices);
        if cache.dense.len() >= CACHE_LIMIT * nw {
            cache.dense_generation = cache.dense_generation.wrapping_add(1);
            cache.dense.clear();
            cache.dense_long.clear();
            cache.dense_short.fill(0);
            cache.dense_positional.fill(0);
            cache.dense_ascii.fill(0);
        }
        let slot = cache.dense.len() / nw;
        cache.dense.resize(cache.dense.len() + nw, 0);
        let map = &mut cache.dense[slot * nw..];
        for &b in indices.iter() {
            map[(b / 64) as usize] |= 1u64 << (63 - b % 64);
        }
        slot
    }

    /// The slot of a unigram or bigram of an ASCII value, by direct index (`dense_ascii`, at
    /// [`ascii_key`]).
    fn ascii_slot(&self, cache: &mut FeatureCache, indices: &mut Vec<u32>, tok: &[u8]) -> usize {
        let key = ascii_key(tok);
        let table: fn(&mut FeatureCache) -> &mut Vec<u16> = |c| &mut c.dense_ascii;
        self.direct_slot(cache, indices, table, ASCII_SLOTS, key, || tok)
    }

    /// The slot of the positional unigram `"{i + 1} {c}"` of an ASCII value, by direct index
    /// (`dense_positional`); `scratch` holds the token's bytes when it must be hashed.
    fn positional_slot(
        &self,
        cache: &mut FeatureCache,
        indices: &mut Vec<u32>,
        scratch: &mut Vec<u8>,
        i: usize,
        c: u8,
    ) -> usize {
        let key = i * 128 + usize::from(c & 0x7f);
        let table: fn(&mut FeatureCache) -> &mut Vec<u16> = |c| &mut c.dense_positional;
        self.direct_slot(cache, indices, table, POSITIONAL_SLOTS, key, || {
            scratch.clear();
            scratch.extend_from_slice((i + 1).to_string().as_bytes());
            scratch.push(b' ');
            scratch.push(c);
            scratch.as_slice()
        })
    }

    /// OR the bits of every `n`-byte window of an ASCII `bytes` (`n` of 1 or 2) into `out`.
    fn or_windows(
        &self,
        cache: &mut FeatureCache,
        indices: &mut Vec<u32>,
        bytes: &[u8],
        n: usize,
        out: &mut (impl OrInto + ?Sized),
    ) {
        let count = (bytes.len() + 1).saturating_sub(n);
        let make =
            |cache: &mut FeatureCache, i: usize| self.ascii_slot(cache, indices, &bytes[i..i + n]);
        if n == 2 && count <= ASCII_RUN {
            // The keys of a value's bigrams in one loop the compiler vectorises; then each known
            // slot is one load from the whole table, indexed without a range check.
            let mut keys = [0u16; ASCII_RUN];
            for (k, (&a, &b)) in keys.iter_mut().zip(bytes.iter().zip(&bytes[1..])) {
                *k = u16::from(a & 0x7f) << 7 | u16::from(b & 0x7f);
            }
            let known = |cache: &FeatureCache, i: usize| {
                match <&[u16; ASCII_SLOTS]>::try_from(cache.dense_ascii.as_slice()) {
                    Ok(t) => u32::from(t[usize::from(keys[i % ASCII_RUN]) % ASCII_SLOTS]),
                    Err(_) => 0, // no table yet
                }
            };
            or_slots(self.kernel, cache, out, self.nw, count, known, make);
        } else {
            // Unigrams, and the bigrams of a value too long for `keys`.
            let known = |cache: &FeatureCache, i: usize| {
                let key = ascii_key(&bytes[i..i + n]);
                cache.dense_ascii.get(key).map_or(0, |&s| u32::from(s))
            };
            or_slots(self.kernel, cache, out, self.nw, count, known, make);
        }
    }
}

/// The direct index of an ASCII unigram or bigram in `dense_ascii`: seven bits a byte.
#[inline]
fn ascii_key(tok: &[u8]) -> usize {
    tok.iter()
        .fold(0usize, |k, &b| k << 7 | usize::from(b & 0x7f))
}

/// Where a feature's token bits are OR-ed: words collected apart (to be cached as a value's bits),
/// or a record's bits directly.
trait OrInto {
    /// `self |= words`, word 0 first.
    fn or_in(&mut self, words: &[u64]);
}

impl OrInto for [u64] {
    #[inline]
    fn or_in(&mut self, words: &[u64]) {
        or_dense(self, words);
    }
}

impl OrInto for BitVec {
    #[inline]
    fn or_in(&mut self, words: &[u64]) {
        self.or_words(words);
    }
}

/// OR into `out` the dense bits (`nw` words each) of tokens `0..count`. `known` reads a token's
/// slot from a direct-index table (1 + the slot, or 0 when the token has none yet) without
/// changing the cache; `make` finds or makes the slot of any token (hashing a new one). For the
/// common CLK sizes the slots of up to 32 tokens are found first and then OR-ed by `kernel` in a
/// loop of fixed length without calls: the accumulator stays in vector registers and the loads
/// overlap.
fn or_slots(
    kernel: Kernel,
    cache: &mut FeatureCache,
    out: &mut (impl OrInto + ?Sized),
    nw: usize,
    count: usize,
    known: impl Fn(&FeatureCache, usize) -> u32,
    make: impl FnMut(&mut FeatureCache, usize) -> usize,
) {
    fn fixed<const N: usize>(
        kernel: Kernel,
        cache: &mut FeatureCache,
        out: &mut (impl OrInto + ?Sized),
        count: usize,
        known: impl Fn(&FeatureCache, usize) -> u32,
        mut make: impl FnMut(&mut FeatureCache, usize) -> usize,
    ) {
        let mut slots = [0u32; 32];
        let mut start = 0;
        while start < count {
            let m = (count - start).min(slots.len());
            let generation = cache.dense_generation;
            let mut j = 0;
            while j < m {
                // Known tokens in a tight loop that only reads the cache; a new one (or one of a
                // table not made yet) goes to `make`.
                while j < m {
                    match known(cache, start + j).checked_sub(1) {
                        Some(slot) => slots[j] = slot,
                        None => break,
                    }
                    j += 1;
                }
                if j < m {
                    slots[j] = make(cache, start + j) as u32;
                    j += 1;
                }
            }
            if cache.dense_generation != generation {
                // A new token emptied the full arena: the group's first slots are stale. Find
                // them again (the arena now has room for all of them).
                continue;
            }
            let (maps, _) = cache.dense.as_chunks::<N>();
            out.or_in(&kernel.or_gather(maps, &slots[..m]));
            start += m;
        }
    }
    let mut make = make;
    match nw {
        16 => return fixed::<16>(kernel, cache, out, count, known, make),
        8 => return fixed::<8>(kernel, cache, out, count, known, make),
        32 => return fixed::<32>(kernel, cache, out, count, known, make),
        _ => {}
    }
    for i in 0..count {
        let slot = make(cache, i);
        out.or_in(&cache.dense[slot * nw..(slot + 1) * nw]);
    }
}

/// `out |= src`, word by word; the common CLK sizes get loops of a fixed length, which the
/// compiler unrolls into vector instructions.
#[inline]
fn or_dense(out: &mut [u64], src: &[u64]) {
    fn fixed<const N: usize>(out: &mut [u64], src: &[u64]) -> bool {
        match (<&mut [u64; N]>::try_from(out), <&[u64; N]>::try_from(src)) {
            (Ok(out), Ok(src)) => {
                for (a, b) in out.iter_mut().zip(src) {
                    *a |= *b;
                }
                true
            }
            _ => false,
        }
    }
    if !(fixed::<16>(out, src) || fixed::<8>(out, src) || fixed::<32>(out, src)) {
        for (a, b) in out.iter_mut().zip(src) {
            *a |= *b;
        }
    }
}

/// clkhash's `format_value`: the sentinel becomes its replacement without validation; anything else
/// is validated and formatted.
fn clk_value<'a>(h: &FeatureHashing, raw: &'a str) -> Result<(Cow<'a, str>, FieldOutcome), String> {
    if is_plain_string(h) {
        return Ok((Cow::Borrowed(raw), FieldOutcome::Present));
    }
    if let Some(m) = &h.missing
        && m.sentinel == raw
    {
        return Ok((
            Cow::Owned(m.replacement().to_owned()),
            FieldOutcome::Missing,
        ));
    }
    Ok((format_value(h, raw)?, FieldOutcome::Present))
}

/// [`clk_value`], with a plain date (no sentinel, UTF-8) formatted into `buf` rather than a new
/// string.
fn clk_value_in<'a>(
    h: &FeatureHashing,
    raw: &'a str,
    buf: &'a mut String,
) -> Result<(Cow<'a, str>, FieldOutcome), String> {
    if let Format::Date(f) = &h.format
        && h.missing.is_none()
        && h.encoding == TextEncoding::Utf8
    {
        buf.clear();
        crate::format::format_date_into(f, raw, buf)?;
        return Ok((Cow::Borrowed(buf.as_str()), FieldOutcome::Present));
    }
    clk_value(h, raw)
}

/// A UTF-8 string feature without a sentinel, pattern, case or length rule: clkhash validates
/// and formats nothing, so its value is hashed as it is (the common case, kept off the general
/// path).
#[inline]
fn is_plain_string(h: &FeatureHashing) -> bool {
    h.missing.is_none()
        && h.encoding == TextEncoding::Utf8
        && matches!(
            h.format,
            Format::String {
                pattern: None,
                case: Case::Mixed,
                min_length: None,
                max_length: None,
            }
        )
}

/// The value hashed for a missing field: the missing-value replacement if the schema has one.
fn missing_value(h: &FeatureHashing) -> Cow<'static, str> {
    match &h.missing {
        Some(m) => Cow::Owned(m.replacement().to_owned()),
        None => Cow::Borrowed(""),
    }
}

/// A token's bytes in the feature's encoding (Python's codecs: utf-16/utf-32 write a BOM each time).
fn encode_token(enc: TextEncoding, tok: &str, out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    match enc {
        TextEncoding::Utf8 => out.extend_from_slice(tok.as_bytes()),
        TextEncoding::Ascii => {
            if !tok.is_ascii() {
                return Err("a token cannot be encoded in ascii".to_owned());
            }
            out.extend_from_slice(tok.as_bytes());
        }
        TextEncoding::Utf16 => {
            out.extend_from_slice(&[0xff, 0xfe]);
            for u in tok.encode_utf16() {
                out.extend_from_slice(&u.to_le_bytes());
            }
        }
        TextEncoding::Utf32 => {
            out.extend_from_slice(&[0xff, 0xfe, 0, 0]);
            for c in tok.chars() {
                out.extend_from_slice(&(c as u32).to_le_bytes());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{Just, prop_assert, prop_assert_eq, prop_oneof, proptest};
    use proptest::strategy::Strategy as _;

    const SCHEMA: &str = r#"{"version": 3, "clkConfig": {"l": 512, "kdf": {"type": "HKDF"}},
      "features": [
        {"identifier": "name", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 12}}},
        {"identifier": "city", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2, "positional": true}, "strategy": {"bitsPerFeature": 60}, "hash": {"type": "doubleHash"}}},
        {"identifier": "code", "format": {"type": "string"}, "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 9}}}],
      "kith": {"version": 1, "normalize": {"name": "name"}, "exact": {"nhs": {"normalize": "nhs_number"}}}}"#;

    fn encoder() -> Encoder {
        encoder_for(
            &Schema::from_json_str(SCHEMA).expect("schema"),
            b"property secret",
        )
    }

    /// An encoder of `schema` for party "p" with default options.
    fn encoder_for(schema: &Schema, secret: &[u8]) -> Encoder {
        let secret = Secret::new(secret.to_vec()).expect("secret");
        Encoder::new(schema, &secret, "p", &EncoderOptions::default()).expect("encoder")
    }

    fn encode_with(e: &Encoder, scratch: &mut Scratch, r: &[String; 3]) -> EncodedRecord {
        let values = [r[0].as_str(), r[1].as_str(), r[2].as_str()];
        let input = RecordInput {
            features: &values,
            exact: &["943 476 5919"],
            local_id: Some(&r[0]),
        };
        e.encode(scratch, &input).expect("encodes").clone()
    }

    fn record() -> impl proptest::strategy::Strategy<Value = [String; 3]> {
        // Few distinct values, so that the caches are hit, plus arbitrary Unicode.
        let word = prop_oneof![
            Just("ann".to_owned()),
            Just("Zoë".to_owned()),
            Just("".to_owned()),
            "[a-z]{0,6}",
            "\\PC{0,8}",
        ];
        [word.clone(), word.clone(), word].prop_map(|w| w)
    }

    const BATCH_SCHEMA: &str = r#"{"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
      "features": [
        {"identifier": "name", "format": {"type": "string", "maxLength": 6}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 15}}},
        {"identifier": "dob", "format": {"type": "date", "format": "%Y-%m-%d"}, "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": true}, "strategy": {"bitsPerToken": 8}}, "missingValue": {"sentinel": ""}},
        {"identifier": "code", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerFeature": 40}, "hash": {"type": "doubleHash"}}}],
      "kith": {"version": 1, "exact": {"nhs": {"normalize": "nhs_number"}}}}"#;

    fn batch_record() -> impl proptest::strategy::Strategy<Value = [String; 4]> {
        let name = prop_oneof![Just("ann".to_owned()), Just("".to_owned()), "[a-z]{0,8}"];
        let dob = prop_oneof![
            Just("2001-02-03".to_owned()),
            Just("".to_owned()),
            Just("2001-02-30".to_owned())
        ];
        let code = prop_oneof![Just("zz".to_owned()), "\\PC{0,6}"];
        let nhs = prop_oneof![
            Just("943 476 5919".to_owned()),
            Just("".to_owned()),
            Just("123".to_owned())
        ];
        (name, dob, code, nhs).prop_map(|(a, b, c, d)| [a, b, c, d])
    }

    proptest! {
        /// Encoding a batch feature by feature, with shared caches, gives every record exactly
        /// what encoding it alone with a fresh scratch gives, refusals included.
        #[test]
        fn a_batch_gives_each_record_what_it_gets_alone(records in proptest::collection::vec(batch_record(), 0..30), rounds in 1usize..3) {
            let schema = Schema::from_json_str(BATCH_SCHEMA).expect("schema");
            let secret = Secret::new(b"batch secret".to_vec()).expect("secret");
            let e = Encoder::new(&schema, &secret, "p", &EncoderOptions::default()).expect("encoder");
            let mut many = Scratch::default();
            let mut batch = EncodedBatch::default();
            for _ in 0..rounds {
                let inputs: Vec<(Vec<&str>, [&str; 1])> = records
                    .iter()
                    .map(|r| (vec![r[0].as_str(), r[1].as_str(), r[2].as_str()], [r[3].as_str()]))
                    .collect();
                let inputs: Vec<RecordInput<'_>> = inputs
                    .iter()
                    .zip(&records)
                    .map(|((f, x), r)| RecordInput { features: f, exact: x, local_id: Some(r[0].as_str()) })
                    .collect();
                e.encode_many(&mut many, &inputs, &mut batch);
                prop_assert_eq!(batch.len(), inputs.len());
                for (i, input) in inputs.iter().enumerate() {
                    let mut one = Scratch::default();
                    match e.encode(&mut one, input) {
                        Ok(rec) => {
                            prop_assert_eq!(batch.get(i).ok(), Some(rec));
                            prop_assert_eq!(batch.outcomes(i), one.outcomes());
                        }
                        Err(err) => prop_assert_eq!(batch.get(i).err(), Some(&err)),
                    }
                }
            }
        }

        /// The caches in a reused scratch never change a result: every record encodes exactly as it
        /// does with a fresh scratch.
        #[test]
        fn caches_never_change_the_output(records in proptest::collection::vec(record(), 1..40)) {
            let e = encoder();
            let mut shared = Scratch::default();
            for r in &records {
                let warm = encode_with(&e, &mut shared, r);
                let cold = encode_with(&e, &mut Scratch::default(), r);
                prop_assert_eq!(warm, cold);
            }
        }

        /// A CLK is the OR of its fields: adding a value to an empty field only sets bits.
        #[test]
        fn adding_a_value_only_sets_bits(r in record(), extra in "[a-z]{1,8}") {
            let e = encoder();
            let mut s = Scratch::default();
            let without = encode_with(&e, &mut s, &[r[0].clone(), r[1].clone(), String::new()]);
            let with = encode_with(&e, &mut s, &[r[0].clone(), r[1].clone(), extra]);
            prop_assert_eq!(without.clk.len(), 64);
            for (a, b) in without.clk.iter().zip(&with.clk) {
                prop_assert_eq!(a & !b, 0, "a bit was cleared");
            }
            prop_assert!(with.clk.iter().map(|b| b.count_ones()).sum::<u32>() > without.clk.iter().map(|b| b.count_ones()).sum::<u32>());
        }

        /// Normalisation makes spelling variants of a name encode identically.
        #[test]
        fn name_variants_share_a_clk(name in "[a-z]{1,10}", pad in " {0,3}") {
            let e = encoder();
            let mut s = Scratch::default();
            let a = encode_with(&e, &mut s, &[name.clone(), "x".into(), "y".into()]);
            let b = encode_with(&e, &mut s, &[format!("{pad}{}{pad}", name.to_uppercase()), "x".into(), "y".into()]);
            prop_assert_eq!(a.clk, b.clk);
        }
    }

    proptest! {
        /// Different values never share an inline value-cache key (a shared key would hand one
        /// value the other's bits). Two letters and the NUL byte make near misses likely.
        #[test]
        fn inline_value_keys_tell_values_apart(a in "[ab\u{0}]{0,25}", b in "[ab\u{0}]{0,25}", at in 0usize..25) {
            // Near misses of `a`: one byte added, dropped or changed, and an unrelated `b`.
            let mut flipped = a.clone().into_bytes();
            if let Some(x) = flipped.get_mut(at) {
                *x = if *x == b'a' { b'b' } else { b'a' };
            }
            let flipped = String::from_utf8(flipped).unwrap_or_default();
            let near = [format!("{a}\u{0}"), format!("\u{0}{a}"), a.chars().skip(1).collect(), flipped, b];
            for other in &near {
                match (short_value_key(&a), short_value_key(other)) {
                    (Some(ka), Some(kb)) => prop_assert_eq!(ka == kb, a == *other, "{:?} {:?}", a, other),
                    _ => prop_assert!(a.len() > 24 || other.len() > 24),
                }
            }
        }
    }

    proptest! {
        /// ASCII bigrams take the fast paths (keys in one go up to `ASCII_RUN` bigrams, one by one
        /// beyond; a fresh table, then a warm one): the CLK is still the OR of each padded
        /// window's `k` bits, as hashed one token at a time.
        #[test]
        fn ascii_bigrams_set_each_window_s_bits(values in proptest::collection::vec("[ -~]{0,150}", 1..6)) {
            let schema = Schema::from_json_str(
                r#"{"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
                  "features": [{"identifier": "a", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 7}}}]}"#,
            )
            .expect("schema");
            let e = encoder_for(&schema, b"windows");
            let Some((_, hasher)) = &e.features[0].hashing else {
                panic!("the feature is hashed");
            };
            let mut scratch = Scratch::default();
            for v in &values {
                let mut want = [0u64; 16];
                let padded = format!(" {v} ");
                if !v.is_empty() {
                    for w in padded.as_bytes().windows(2) {
                        let mut indices = Vec::new();
                        hasher.indices(w, 7, 1024, &mut indices);
                        for b in indices {
                            want[(b / 64) as usize] |= 1u64 << (63 - b % 64);
                        }
                    }
                }
                let want: Vec<u8> = want.iter().flat_map(|w| w.to_be_bytes()).collect();
                let input = RecordInput { features: &[v.as_str()], exact: &[], local_id: None };
                let got = e.encode(&mut scratch, &input).expect("encodes");
                prop_assert_eq!(&got.clk, &want, "{:?} ({} bytes)", v, v.len());
            }
        }
    }

    /// Each row's values as `&str`s, for [`feature_inputs`].
    fn cells_of<const N: usize>(rows: &[[String; N]]) -> Vec<[&str; N]> {
        rows.iter()
            .map(|r| r.each_ref().map(String::as_str))
            .collect()
    }

    /// One input per row of feature values, without exact identifiers or local IDs.
    fn feature_inputs<'a, const N: usize>(rows: &'a [[&'a str; N]]) -> Vec<RecordInput<'a>> {
        rows.iter()
            .map(|r| RecordInput {
                features: r,
                exact: &[],
                local_id: None,
            })
            .collect()
    }

    /// When a new token empties the full arena in the middle of a group, the group's slots found
    /// before are stale and are found again: the bits OR-ed are those of the tokens.
    #[test]
    fn or_slots_finds_a_group_again_when_the_arena_is_emptied() {
        let e = encoder();
        let Some((_, hasher)) = &e.features[0].hashing else {
            panic!("the first feature is hashed");
        };
        let (k, nw) = (12, 8);
        let dense = DenseTokens {
            kernel: e.kernel,
            hasher,
            k,
            big_l: e.big_l,
            nw,
        };
        let mut cache = FeatureCache {
            dense: vec![0; (CACHE_LIMIT - 1) * nw],
            ..FeatureCache::default()
        };
        let tokens = [&b"ab"[..], b"cd", b"ef", b"gh"];
        let mut indices = Vec::new();
        let mut out = [0u64; 8];
        or_slots(
            e.kernel,
            &mut cache,
            &mut out[..],
            8,
            tokens.len(),
            |_, _| 0,
            |cache, i| dense.new_slot(cache, &mut indices, tokens[i]),
        );
        assert_eq!(cache.dense_generation, 1, "the arena was emptied once");
        let mut want = [0u64; 8];
        for t in tokens {
            indices.clear();
            hasher.indices(t, k as u32, e.big_l, &mut indices);
            for &b in &indices {
                want[(b / 64) as usize] |= 1u64 << (63 - b % 64);
            }
        }
        assert_eq!(out, want);
    }

    /// More distinct tokens than a thread's token arena holds (non-ASCII bigrams fill it, ASCII
    /// values and dates then find their tokens by direct index): every record, encoded in batches
    /// with one scratch as `kith encode` does, gets exactly what it gets alone with a fresh one.
    #[test]
    fn a_full_token_arena_never_changes_the_output() {
        let schema = Schema::from_json_str(
            r#"{"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
              "features": [
                {"identifier": "name", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 5}}},
                {"identifier": "code", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": true}, "strategy": {"bitsPerToken": 5}}}]}"#,
        )
        .expect("schema");
        let e = encoder_for(&schema, b"arena");
        let cjk = |i: usize| char::from_u32(0x4e00 + (i % 20_000) as u32).unwrap_or('x');
        let values: Vec<[String; 2]> = (0..20_000)
            .map(|i| {
                if i % 2 == 0 {
                    // ASCII: bigrams and positional unigrams by direct index, many of them new.
                    let v: String = (0..8)
                        .map(|j| char::from(b' ' + ((i * 7919 + j * 104_729) % 95) as u8))
                        .collect();
                    [v.clone(), v]
                } else {
                    // Three new bigrams and positional tokens per value.
                    let v: String = [cjk(i * 3), cjk(i * 3 + 1), cjk(i * 3 + 2)]
                        .iter()
                        .collect();
                    [v.clone(), v]
                }
            })
            .collect();
        let cells = cells_of(&values);
        let inputs = feature_inputs(&cells);
        let mut scratch = Scratch::default();
        let mut batch = EncodedBatch::default();
        for (b, chunk) in inputs.chunks(256).enumerate() {
            e.encode_many(&mut scratch, chunk, &mut batch);
            for (j, input) in chunk.iter().enumerate() {
                let alone = e
                    .encode(&mut Scratch::default(), input)
                    .expect("ok")
                    .clk
                    .clone();
                assert_eq!(
                    batch.get(j).expect("ok").clk,
                    alone,
                    "record {}",
                    b * 256 + j
                );
            }
        }
    }

    /// The value cache stays on for a feature of a few thousand values, whose cold first trial hits
    /// rarely but whose cache soon holds every value; it goes off in the first trial for values
    /// that never repeat, and in the second for a few common values among many rare ones. The
    /// lookup that ends each losing trial is a hit, whose slot goes with the cache.
    #[test]
    fn the_value_cache_stays_on_only_where_it_will_hit() {
        let bigrams = |id: &str| {
            format!(
                r#"{{"identifier": "{id}", "format": {{"type": "string"}}, "hashing": {{"comparison": {{"type": "ngram", "n": 2}}, "strategy": {{"bitsPerToken": 5}}}}}}"#
            )
        };
        let schema = Schema::from_json_str(&format!(
            r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}}, "features": [{}, {}, {}, {}]}}"#,
            bigrams("address"),
            bigrams("phone"),
            bigrams("name"),
            bigrams("town"),
        ))
        .expect("schema");
        let e = encoder_for(&schema, b"trial");
        let mut state = 2026u64;
        let mut draw = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let values: Vec<[String; 4]> = (0..CACHE_WARM_END as usize + 256)
            .map(|i| {
                // 4,000 addresses (house 1-200 on 20 streets) drawn at random: about 12% of the
                // first trial's lookups hit. Later nearly all would, but 4,000 values' bits are
                // too many to keep (see CACHE_KEEP_HITS).
                let house = draw(4000);
                // 500 towns drawn at random: over half the first trial's lookups hit.
                let town = draw(500);
                // Two names in five from 100, the rest new: 30% hits in the first trial, 40% in
                // the second, whose last lookup (number CACHE_WARM_END) is a repeat of a name
                // seen 500 records before (after the cache, full of rare names, was last emptied).
                let name = if i % 5 == 0 || i % 5 == 3 {
                    format!("common {}", i / 5 % 100)
                } else {
                    format!("rare {i}")
                };
                // Telephone numbers never repeat, but for the last lookup of the first trial.
                let phone = if i + 1 == CACHE_TRIAL as usize {
                    0
                } else {
                    i * 7919
                };
                [
                    format!("{} Street {}", house % 200 + 1, house / 200),
                    format!("07{phone:09}"),
                    name,
                    format!("Town {town}"),
                ]
            })
            .collect();
        let cells = cells_of(&values);
        let inputs = feature_inputs(&cells);
        let mut scratch = Scratch::default();
        let mut batch = EncodedBatch::default();
        let mut first_trial_hits = None;
        for (c, chunk) in inputs.chunks(256).enumerate() {
            e.encode_many(&mut scratch, chunk, &mut batch);
            // The batches that end a trial give what a fresh scratch gives.
            let end = (c + 1) * 256;
            if [CACHE_TRIAL, CACHE_WARM_START, CACHE_WARM_END].contains(&(end as u32)) {
                for (j, input) in chunk.iter().enumerate() {
                    let mut fresh = Scratch::default();
                    let alone = e.encode(&mut fresh, input).expect("ok");
                    assert_eq!(
                        batch.get(j).expect("ok").clk,
                        alone.clk,
                        "record {}",
                        c * 256 + j
                    );
                }
            }
            let address = &scratch.work.caches[0];
            if address.lookups >= CACHE_TRIAL && first_trial_hits.is_none() {
                first_trial_hits = Some(address.hits);
            }
        }
        let [address, phone, name, town] = &scratch.work.caches[..] else {
            panic!("four features");
        };
        assert!(
            first_trial_hits.is_some_and(|h| h > CACHE_TRIAL / 16 && h < CACHE_KEEP_HITS),
            "addresses repeat in the first trial, but too rarely: {first_trial_hits:?}"
        );
        // A cache that is off stops counting: each lookup count tells which trial ended it.
        assert!(address.values_off, "{} hits", address.hits);
        assert_eq!(address.lookups, CACHE_TRIAL);
        assert!(phone.values_off, "{} hits", phone.hits);
        assert_eq!(phone.lookups, CACHE_TRIAL);
        assert!(name.values_off, "{} hits", name.hits);
        assert_eq!(
            name.lookups, CACHE_WARM_END,
            "the name cache passed the first trial"
        );
        assert!(!town.values_off, "{} hits", town.hits);
        assert!(
            town.values.len() <= 500,
            "each town once: {}",
            town.values.len()
        );
    }

    #[test]
    fn a_scratch_moved_to_another_encoder_forgets_the_old_caches() {
        let schema = Schema::from_json_str(SCHEMA).expect("schema");
        let mut s = Scratch::default();
        let input = RecordInput {
            features: &["ann", "leeds", "x"],
            exact: &[""],
            local_id: None,
        };
        let mut clks = Vec::new();
        for secret in [&b"first secret"[..], b"second secret", b"first secret"] {
            // Each encoder is dropped before the next is made, so they may share an address.
            let e = encoder_for(&schema, secret);
            clks.push(e.encode(&mut s, &input).expect("ok").clk.clone());
        }
        assert_ne!(clks[0], clks[1], "different secrets, different CLKs");
        assert_eq!(clks[0], clks[2]);
    }

    const FIELD_SCHEMA: &str = r#"{"version": 3, "clkConfig": {"l": 512, "kdf": {"type": "HKDF"}},
      "features": [
        {"identifier": "first", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 12}}},
        {"identifier": "last", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 12}}},
        {"identifier": "dob", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": true}, "strategy": {"bitsPerToken": 8}}}],
      "kith": {"version": 1, "normalize": {"first": "name", "last": "name"},
        "fields": {"first": {"bits": 256, "k": 4, "group": "name"}, "last": {"bits": 256, "k": 4, "group": "name"}, "dob": {"bits": 128}},
        "twins": {"differ": "first", "agree": ["dob", "last"]}}}"#;

    fn field_filters(e: &Encoder, s: &mut Scratch, values: [&str; 3]) -> Vec<Option<Vec<u8>>> {
        let input = RecordInput {
            features: &values,
            exact: &[],
            local_id: None,
        };
        e.encode(s, &input).expect("encodes").fields.clone()
    }

    proptest! {
        /// Field filters: one per field, `bits / 8` bytes, at most k bits per token, the same for
        /// every holder, and crosswise equal within a key group (a forename typed as the surname
        /// gives the surname's filter). A missing value gives no filter.
        #[test]
        fn field_filters_follow_the_schema(first in "[a-z]{1,9}", last in "[a-z]{1,9}", dob in "[0-9]{8}") {
            let schema = Schema::from_json_str(FIELD_SCHEMA).expect("schema");
            let secret = Secret::new(b"field secret".to_vec()).expect("secret");
            let a = Encoder::new(&schema, &secret, "council", &EncoderOptions::default()).expect("encoder");
            let b = Encoder::new(&schema, &secret, "health", &EncoderOptions::default()).expect("encoder");
            let mut s = Scratch::default();
            let fa = field_filters(&a, &mut s, [&first, &last, &dob]);
            let fb = field_filters(&b, &mut s, [&last.to_uppercase(), &first, &dob]);
            prop_assert_eq!(fa.len(), 3);
            let lens: Vec<usize> = fa.iter().map(|f| f.as_ref().map_or(0, Vec::len)).collect();
            // Filters come in the order of the schema's `fields` object: dob, first, last.
            prop_assert_eq!(lens, vec![16, 32, 32]);
            prop_assert_eq!(&fa[1], &fb[2], "the forename's filter, typed as the surname");
            prop_assert_eq!(&fa[2], &fb[1]);
            prop_assert_eq!(&fa[0], &fb[0]);
            let ones: u32 = fa[1].as_ref().map_or(0, |f| f.iter().map(|b| b.count_ones()).sum());
            prop_assert!(ones >= 1 && ones as usize <= 4 * (first.len() + 1));
            let missing = field_filters(&a, &mut s, ["", &last, &dob]);
            prop_assert_eq!(&missing[1], &None);
            let other = Encoder::new(&schema, &Secret::new(b"another secret".to_vec()).expect("secret"), "council", &EncoderOptions::default()).expect("encoder");
            prop_assert!(field_filters(&other, &mut s, [&first, &last, &dob])[0] != fa[0], "filters are keyed");
        }
    }

    /// `"tokens": "date"`: a swapped day and month, or a day one out, keeps a date's filter
    /// close; another year, even one digit out, takes it far (positional characters, the CLK's
    /// tokens, rate 1945 as close to 1940 as the 4th to the 3rd).
    #[test]
    fn date_field_filters_keep_swaps_and_day_errors_close_and_other_years_far() {
        let schema = Schema::from_json_str(
            r#"{"version": 3, "clkConfig": {"l": 512, "kdf": {"type": "HKDF"}},
              "features": [{"identifier": "dob", "format": {"type": "date", "format": "%Y-%m-%d"},
                "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": true}, "strategy": {"bitsPerToken": 8}}}],
              "kith": {"version": 1, "normalize": {"dob": "date"},
                "fields": {"dob": {"bits": 256, "k": 4, "tokens": "date"}}}}"#,
        )
        .expect("schema");
        let secret = Secret::new(b"date secret".to_vec()).expect("secret");
        let e = Encoder::new(&schema, &secret, "p", &EncoderOptions::default()).expect("encoder");
        let mut s = Scratch::default();
        let mut filter = |v: &str| {
            let input = RecordInput {
                features: &[v],
                exact: &[],
                local_id: None,
            };
            e.encode(&mut s, &input).expect("encodes").fields[0]
                .clone()
                .unwrap_or_else(|| panic!("no filter for {v}"))
        };
        let dice = |a: &[u8], b: &[u8]| {
            let ones = |x: &[u8]| x.iter().map(|b| b.count_ones()).sum::<u32>();
            let both: u32 = a.iter().zip(b).map(|(x, y)| (x & y).count_ones()).sum();
            2.0 * f64::from(both) / f64::from(ones(a) + ones(b))
        };
        for (date, close, far) in [
            (
                "03/02/1970",
                ["02/03/1970", "04/02/1970", "03/01/1970"],
                ["03/02/1971", "03/02/1907"],
            ),
            (
                "25/06/1956",
                ["26/06/1956", "25/07/1956", "24/06/1956"],
                ["25/06/1971", "25/06/1965"],
            ),
            (
                "09/04/1940",
                ["04/09/1940", "10/04/1940", "09/05/1940"],
                ["09/04/1945", "09/04/2040"],
            ),
        ] {
            let f = filter(date);
            assert_eq!(f.len(), 32);
            assert!(f.iter().map(|b| b.count_ones()).sum::<u32>() <= 8 * 4);
            let iso = format!("{}-{}-{}", &date[6..], &date[3..5], &date[..2]);
            assert_eq!(filter(&iso), f, "one date, one filter");
            for c in close {
                let d = dice(&f, &filter(c));
                assert!((0.6..0.95).contains(&d), "{date} and {c}: {d}");
            }
            for o in far {
                let d = dice(&f, &filter(o));
                assert!(d < 0.5, "{date} and {o}: {d}");
            }
        }
    }

    #[test]
    fn tokens_depend_on_party_and_id_but_exact_tokens_only_on_the_value() {
        let schema = Schema::from_json_str(SCHEMA).expect("schema");
        let secret = Secret::new(b"property secret".to_vec()).expect("secret");
        let a =
            Encoder::new(&schema, &secret, "council", &EncoderOptions::default()).expect("encoder");
        let b =
            Encoder::new(&schema, &secret, "health", &EncoderOptions::default()).expect("encoder");
        assert_ne!(a.record_token("1"), b.record_token("1"));
        assert_ne!(a.record_token("1"), a.record_token("2"));
        assert_eq!(a.key_check(), b.key_check());
        let mut s = Scratch::default();
        let input = RecordInput {
            features: &["x", "y", "z"],
            exact: &["9434765919"],
            local_id: None,
        };
        let ea = a.encode(&mut s, &input).expect("ok").exact.clone();
        let input = RecordInput {
            features: &["x", "y", "z"],
            exact: &["943-476-5919"],
            local_id: None,
        };
        let eb = b.encode(&mut s, &input).expect("ok").exact.clone();
        assert_eq!(ea, eb);
        assert!(ea[0].is_some());
        let input = RecordInput {
            features: &["x", "y", "z"],
            exact: &["9434765918"],
            local_id: None,
        };
        assert_eq!(
            a.encode(&mut s, &input).expect("ok").exact,
            vec![None],
            "invalid NHS number"
        );
        assert_eq!(s.outcomes()[3], FieldOutcome::Invalid);
    }

    /// The dwelling token is the postcode and the premise: one dwelling written two ways gives one
    /// token, whoever holds it; a neighbour or another flat of the building another. The register
    /// token groups only its own holder's records. Flags carry yes, no, or unreadable.
    #[test]
    fn household_tokens_tell_dwellings_apart_and_registers_stay_with_their_holder() {
        let schema = Schema::from_json_str(
            r#"{"version": 3, "clkConfig": {"l": 64, "kdf": {"type": "HKDF"}},
              "features": [{"identifier": "postcode", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 2}}}],
              "kith": {"version": 1, "normalize": {"postcode": "postcode"},
                "household": {"dwelling": {"postcode": "postcode", "address": "address"}, "register": "ref"},
                "criteria": {"absence": {}, "offending": {}}}}"#,
        )
        .expect("schema");
        let secret = Secret::new(b"property secret".to_vec()).expect("secret");
        let not_held = EncoderOptions {
            criteria_not_held: ["offending".to_owned()].into(),
            ..EncoderOptions::default()
        };
        let a = Encoder::new(&schema, &secret, "council", &EncoderOptions::default()).expect("a");
        let b = Encoder::new(&schema, &secret, "health", &not_held).expect("b");
        assert_eq!(a.house_names(), ["dwelling", "register"]);
        assert_eq!(a.criteria_names(), ["absence", "offending"]);
        assert_eq!(b.criteria_names(), ["absence"]);
        let mut s = Scratch::default();
        let mut enc = |e: &Encoder, pc: &str, address: &str, r: &str, flags: [&str; 2]| {
            let out = e
                .encode(
                    &mut s,
                    &RecordInput {
                        features: &[pc],
                        exact: &[address, r, flags[0], flags[1]],
                        local_id: None,
                    },
                )
                .expect("ok");
            (out.house.clone(), out.flags.clone())
        };
        let (h1, f1) = enc(
            &a,
            "M1 1AA",
            "Flat 3, Mill House, Mill Lane",
            "HR1",
            ["Y", ""],
        );
        let (h2, f2) = enc(&b, "m11aa", "FLAT 3 MILL HOUSE", "HR1", ["1", "junk"]);
        assert_eq!(h1[0], h2[0], "one dwelling written two ways");
        assert!(h1[0].is_some());
        assert_ne!(
            h1[1], h2[1],
            "a register reference means something only to its holder"
        );
        assert_eq!(f1, [Some(true), Some(false)]);
        assert_eq!(f2, [Some(true)], "offending is not held by health");
        let (h3, _) = enc(
            &a,
            "M1 1AA",
            "Flat 4, Mill House, Mill Lane",
            "HR1",
            ["", ""],
        );
        let (h4, _) = enc(
            &a,
            "M1 1AB",
            "Flat 3, Mill House, Mill Lane",
            "HR1",
            ["", ""],
        );
        assert_ne!(h1[0], h3[0], "another flat");
        assert_ne!(h1[0], h4[0], "another postcode");
        assert_eq!(h1[1], h3[1], "one holder's register reference");
        let (h5, f5) = enc(&a, "", "3 Mill House", "", ["maybe", "no"]);
        assert_eq!(h5, [None, None]);
        assert_eq!(f5, [None, Some(false)]);
        assert_eq!(s.outcomes()[3], FieldOutcome::Invalid);
    }
}
