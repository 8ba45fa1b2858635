//! The encoder: one record's values to its CLK, its exact-match tokens and its record token.
//!
//! [`Encoder`] holds the prepared keys and is shared by all threads; each thread owns a [`Scratch`]
//! with buffers and caches: per feature, the bits of every token already hashed, and (for features
//! whose values repeat, such as forenames) the bits of every raw value already encoded. A token is
//! hashed once per thread, however often it occurs. [`Encoder::encode`] does one record;
//! [`Encoder::encode_many`] does a batch feature by feature, which keeps each feature's caches hot.
//! Encoding is a pure function of the schema, the secret, the party name and the record, so output
//! does not depend on the thread count, the batching or the caches (tested by property tests below).

use std::collections::BTreeMap;

use hmac::Hmac;
use rustc_hash::FxHashMap;
use sha2::Sha256;

use crate::bits::BitVec;
use crate::datefmt::DateFormat;
use crate::error::{FieldError, SecretError};
use crate::hash::TokenHasher;
use crate::kernel::Kernel;
use crate::keys::{Purpose, Secret, clk_keys, kith_key};
use crate::normalize::Normalizer;
use crate::schema::{FeatureHashing, InputKind, Schema, Strategy};
use crate::tokenize::Tokens;

pub use kith_core::{EncodedRecord, TOKEN_BYTES, Token};

mod cache;
mod field;
mod harden;
pub use field::{clk_tokens, filter_tokens};
mod keyed;
#[cfg(test)]
mod tests;
mod token_bits;
mod value;
pub(crate) use value::clk_value;

use cache::FeatureCache;
use field::{FieldCache, FieldEncoder};
use harden::flip_threshold;
use keyed::{BlockEncoder, DwellingEncoder, ExactEncoder, RegisterEncoder, mac_key, token_of};

/// Each encoder gets its own number, so that a `Scratch` can tell whose caches it holds.
static NEXT_ENCODER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Per-holder options: how this holder's columns are read, and how its record tokens are made.
#[derive(Clone, Default)]
pub struct EncoderOptions {
    /// Extra input date formats per feature or exact identifier (from the holder's column mapping),
    /// tried before the schema's own.
    pub extra_date_formats: BTreeMap<String, Vec<DateFormat>>,
    /// Criteria this holder does not hold (its mapping maps them to `null`): they get no
    /// `flag:` column, rather than a column that says "no" for everyone.
    pub criteria_not_held: std::collections::BTreeSet<String>,
    /// A salt for this run's record tokens: with one, the same local ID gets an unrelated token
    /// in each run with another salt, so that a linkage party cannot follow a record from run to
    /// run by its token (the holder's map still joins tokens to local IDs).
    pub run_salt: Option<zeroize::Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for EncoderOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncoderOptions")
            .field("extra_date_formats", &self.extra_date_formats)
            .field("criteria_not_held", &self.criteria_not_held)
            .field("run_salt", &self.run_salt.as_ref().map(|_| "[redacted]"))
            .finish()
    }
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
    /// Empty, or one alternative value per schema feature (`""` for none): a preferred forename
    /// beside the legal one, a previous surname. Its tokens join the value's in the CLK and the
    /// field filter, so that a record matches either; an alternative the feature's format refuses
    /// is left out.
    pub alternatives: &'a [&'a str],
    /// The holder's local ID of the record; it only feeds the keyed record token, which is not
    /// computed when this is `None`.
    pub local_id: Option<&'a str>,
}

impl<'a> RecordInput<'a> {
    /// A record's values with no alternatives: one per schema feature, one per keyed input, and
    /// the local ID when a record token is wanted.
    pub fn new(
        features: &'a [&'a str],
        exact: &'a [&'a str],
        local_id: Option<&'a str>,
    ) -> RecordInput<'a> {
        RecordInput {
            features,
            exact,
            alternatives: &[],
            local_id,
        }
    }
}

struct FeatureEncoder {
    identifier: String,
    hashing: Option<(FeatureHashing, TokenHasher)>,
    normalizer: Option<Normalizer>,
}

/// Records whose tokens [`Encoder::prefetch_tokens`] asks for at once: their bits (128 bytes a
/// token at 1,024 bits) stay in the L2 cache until they are used.
const PREFETCH_BLOCK: usize = 64;

/// Salted CLKs' permutations a thread keeps (4 KB each at 1,024 bits) before starting again.
const SALT_PERMS: usize = 256;

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
    /// Coarse areas sent in clear: (name, feature index, transform).
    areas: Vec<(String, usize, crate::blocking::Transform)>,
    fields: Vec<FieldEncoder>,
    record_mac: Hmac<Sha256>,
    /// CLK hardening: the schema's choice, the BLIP stream's key and threshold, and the balancing
    /// permutation.
    clk_hardening: crate::schema::ClkHardening,
    clk_noise: Option<(Hmac<Sha256>, u32)>,
    balance: Option<Vec<u32>>,
    clk_rehash: Option<harden::Rehasher>,
    /// The salted CLK's feature, how it is cut, and the key its permutations are drawn under.
    clk_salt: Option<(usize, crate::blocking::Transform, Hmac<Sha256>)>,
    /// With a run salt: the run's record-token key and the salt.
    run: Option<(Hmac<Sha256>, zeroize::Zeroizing<Vec<u8>>)>,
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

/// The buffers and caches one field's encoding uses.
#[derive(Debug, Default)]
struct Work {
    tokens: Tokens,
    indices: Vec<u32>,
    token_bytes: Vec<u8>,
    /// Where each character of `token_bytes` starts, for n-grams of non-ASCII text.
    bounds: Vec<usize>,
    field_words: Vec<u64>,
    /// A date value as clkhash formats it, while its tokens are made.
    formatted: String,
    caches: Vec<FeatureCache>,
    /// Per field-level filter: token bytes → its bit positions.
    field_caches: Vec<FieldCache>,
    /// A salted token, while it is hashed.
    salted: Vec<u8>,
    /// The salted CLK's permutations by salt (a year of birth: a few hundred at most), drawn once
    /// each rather than for every record.
    salt_perms: FxHashMap<Box<str>, Vec<u32>>,
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
        let with_extra = |name: &str, n: Option<&Normalizer>| {
            Normalizer::with_formats(n, options.extra_date_formats.get(name))
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
        let areas = schema
            .kith()
            .areas
            .iter()
            .filter_map(|a| {
                let i = features
                    .iter()
                    .position(|f| f.identifier == a.part.feature)?;
                Some((a.name.clone(), i, a.part.transform))
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
                any_order: b.any_order,
                mac: mac_key(&kith_key(secret, fp, Purpose::BlockToken(&b.name))),
            })
            .collect();
        let fields = schema
            .kith()
            .fields
            .iter()
            .filter_map(|f| {
                let salt = match &f.salt {
                    Some(s) => Some((
                        features.iter().position(|x| x.identifier == s.feature)?,
                        s.transform,
                    )),
                    None => None,
                };
                Some(FieldEncoder {
                    name: f.feature.clone(),
                    feature: features.iter().position(|x| x.identifier == f.feature)?,
                    bits: f.bits,
                    k: f.k,
                    tokens: f.tokens,
                    hash: f.hash,
                    salt,
                    noise: f.blip.map(|e| {
                        let mac = mac_key(&kith_key(secret, fp, Purpose::FieldNoise(&f.feature)));
                        (mac, flip_threshold(e))
                    }),
                    folds: f.folds,
                    rule90: f.rule90,
                    rehash: f.rehash.map(|r| {
                        let key = kith_key(secret, fp, Purpose::FieldRehash(&f.group));
                        harden::Rehasher::new(key, (f.bits >> f.folds) as usize, r)
                    }),
                    balance: f.balance.then(|| {
                        let key = kith_key(secret, fp, Purpose::FieldBalance(&f.group));
                        harden::permutation(&key, 2 * (f.bits >> f.folds) as usize)
                    }),
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
                    street_mac: mac_key(&kith_key(secret, fp, Purpose::HouseToken("street"))),
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
        let hardening = schema.kith().clk.clone();
        let clk_noise = hardening.blip.map(|e| {
            (
                mac_key(&kith_key(secret, fp, Purpose::ClkNoise)),
                flip_threshold(e),
            )
        });
        let clk_rehash = hardening.rehash.map(|r| {
            harden::Rehasher::new(kith_key(secret, fp, Purpose::ClkRehash), clk.l as usize, r)
        });
        let balance = hardening.balance.then(|| {
            let key = kith_key(secret, fp, Purpose::ClkBalance);
            harden::permutation(&key, 2 * clk.l as usize)
        });
        // The schema has checked that the salt's feature exists.
        let clk_salt = hardening.salt.as_ref().and_then(|part| {
            let i = features.iter().position(|f| f.identifier == part.feature)?;
            Some((
                i,
                part.transform,
                mac_key(&kith_key(secret, fp, Purpose::ClkSalt)),
            ))
        });
        let run = options.run_salt.as_ref().map(|salt| {
            let mac = mac_key(&kith_key(secret, fp, Purpose::RunRecordToken));
            (mac, salt.clone())
        });
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
            areas,
            fields,
            record_mac,
            clk_hardening: hardening,
            clk_noise,
            balance,
            clk_rehash,
            clk_salt,
            run,
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
        if self.balance.is_some() {
            2 * self.l
        } else {
            self.l
        }
    }

    /// Names of the blocking keys, in output order.
    pub fn block_names(&self) -> Vec<&str> {
        self.blocking.iter().map(|b| b.name.as_str()).collect()
    }

    /// Field-level filters: (feature, bits as encoded), in output order.
    pub fn field_filters(&self) -> Vec<(&str, u32)> {
        self.fields
            .iter()
            .map(|f| {
                let bits = (f.bits >> f.folds) * if f.balance.is_some() { 2 } else { 1 };
                (f.name.as_str(), bits)
            })
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

    /// Names of the household tokens, in output order: `dwelling` and `street` (both from the
    /// dwelling) and `register`, as the schema has them.
    pub fn house_names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.dwelling.is_some() {
            v.extend(["dwelling", "street"]);
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

    /// The header of an encodings file of `records` records made by this encoder from `schema`
    /// (the schema it was made from: the field filters and the twin rule come from it).
    pub fn header(&self, schema: &Schema, records: u64) -> kith_core::encodings::Header {
        let owned = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect();
        kith_core::encodings::Header {
            party: self.party.clone(),
            schema_fingerprint: self.fingerprint.clone(),
            key_check: self.key_check.clone(),
            clk_bits: self.clk_bits(),
            records,
            exact: owned(self.exact_names()),
            blocks: owned(self.block_names()),
            house: owned(self.house_names()),
            flags: owned(self.criteria_names()),
            areas: self.areas.iter().map(|a| a.0.clone()).collect(),
            fields: schema
                .kith()
                .fields
                .iter()
                .map(|f| kith_core::encodings::FieldSpec {
                    name: f.feature.clone(),
                    bits: f.encoded_bits(),
                    group: f.group.clone(),
                    parts: f.tokens.parts().iter().map(|&p| p.to_owned()).collect(),
                })
                .collect(),
            twins: schema
                .kith()
                .twins
                .as_ref()
                .map(|t| kith_core::encodings::TwinNames {
                    differ: t.differ.clone(),
                    agree: t.agree.clone(),
                    personal: t.personal.clone(),
                }),
        }
    }

    /// The record token of a local ID (of this run, when the options carry a run salt).
    pub fn record_token(&self, local_id: &str) -> Token {
        match &self.run {
            None => token_of(
                &self.record_mac,
                &[self.party.as_bytes(), &[0], local_id.as_bytes()],
            ),
            Some((mac, salt)) => token_of(
                mac,
                &[
                    salt,
                    &[0x1f],
                    self.party.as_bytes(),
                    &[0],
                    local_id.as_bytes(),
                ],
            ),
        }
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
            assert!(
                input.alternatives.is_empty() || input.alternatives.len() == self.features.len(),
                "no alternatives, or one per schema feature"
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
                if r % PREFETCH_BLOCK == 0 {
                    let block = &inputs[r..inputs.len().min(r + PREFETCH_BLOCK)];
                    self.prefetch_tokens(&scratch.work, i, block);
                }
                if out.errors[r].is_some() {
                    continue;
                }
                match self.encode_field(&mut scratch.work, i, input.features[i], &mut bits[r]) {
                    Ok(o) => out.outcomes[r * width + i] = o,
                    Err(e) => out.errors[r] = Some(e),
                }
                if let Some(alt) = input.alternatives.get(i).filter(|a| !a.is_empty()) {
                    // Its bits join the value's; a refused alternative is left out, and its
                    // bits, if any were set before the refusal, are the value's own.
                    let mut own = bits[r].clone();
                    if self
                        .encode_field(&mut scratch.work, i, alt, &mut own)
                        .is_ok()
                    {
                        bits[r] = own;
                    }
                }
            }
        }
        let mut outcomes = std::mem::take(&mut scratch.outcomes);
        for (r, input) in inputs.iter().enumerate() {
            if out.errors[r].is_none() {
                outcomes.clear();
                self.finish(
                    &mut scratch.work.salt_perms,
                    &mut bits[r],
                    input,
                    &mut out.records[r],
                    &mut outcomes,
                );
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
            work.salt_perms.clear();
            work.owner = self.id;
        }
        work.field_words.clear();
        work.field_words
            .resize((self.big_l as usize).div_ceil(64), 0);
        for b in bits {
            b.reset(self.big_l as usize);
        }
    }

    /// The schema's CLK hardening, after folding: rule 90, rehashing, BLIP (for records with a
    /// token), then balancing.
    fn harden_clk(
        &self,
        salt_perms: &mut FxHashMap<Box<str>, Vec<u32>>,
        input: &RecordInput<'_>,
        record: &mut EncodedRecord,
    ) {
        let bits = self.l as usize;
        if let Some((feature, transform, key)) = &self.clk_salt {
            // The salt picks the permutation: HMAC(key, salt) seeds it (a missing salt is the
            // empty salt, unlike any value since values are not empty).
            let salt = transform.apply(
                self.features[*feature].normalizer.as_ref(),
                input.features[*feature],
            );
            let salt = salt.unwrap_or_default();
            if !salt_perms.contains_key(salt.as_str()) {
                let mut m = key.clone();
                hmac::Mac::update(&mut m, salt.as_bytes());
                let seed: [u8; 32] = hmac::Mac::finalize(m).into_bytes().into();
                if salt_perms.len() >= SALT_PERMS {
                    salt_perms.clear();
                }
                salt_perms.insert(salt.as_str().into(), harden::permutation(&seed, bits));
            }
            if let Some(perm) = salt_perms.get(salt.as_str()) {
                record.clk = harden::permute(&record.clk, perm);
            }
        }
        if self.clk_hardening.rule90 {
            harden::rule90(&mut record.clk, bits);
        }
        if let Some(r) = &self.clk_rehash {
            r.apply(&mut record.clk);
        }
        if let (Some((key, threshold)), Some(token)) = (&self.clk_noise, &record.token) {
            harden::blip(key, token, *threshold, &mut record.clk, bits);
        }
        if let Some(perm) = &self.balance {
            record.clk = harden::balance(&record.clk, bits, perm);
        }
    }

    /// Exact tokens (their outcomes are appended to `outcomes`), folding, serialising, record token.
    fn finish(
        &self,
        salt_perms: &mut FxHashMap<Box<str>, Vec<u32>>,
        bits: &mut BitVec,
        input: &RecordInput<'_>,
        record: &mut EncodedRecord,
        outcomes: &mut Vec<FieldOutcome>,
    ) {
        self.exact_tokens(input, record, outcomes);
        self.household_of(input, record, outcomes);
        self.block_tokens(input, record);
        record.areas.clear();
        for (_, i, transform) in &self.areas {
            let v = transform.apply(self.features[*i].normalizer.as_ref(), input.features[*i]);
            // The postcode normaliser gives letters and digits; anything else is not sent.
            record
                .areas
                .push(v.filter(|v| kith_core::encodings::is_area(v)));
        }
        for _ in 0..self.folds {
            bits.fold();
        }
        bits.write_bytes(&mut record.clk);
        record.token = input.local_id.map(|id| self.record_token(id));
        if self.clk_hardening.any() {
            self.harden_clk(salt_perms, input, record);
        }
    }
}
