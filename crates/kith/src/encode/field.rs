//! Field-level Bloom filters: one keyed filter per configured feature, beside the CLK.

use hmac::{Hmac, Mac};
use rustc_hash::FxHashMap;
use sha2::Sha256;

use super::cache::CACHE_LIMIT;
use super::value::{clk_value, encode_token};
use super::{Encoder, FieldOutcome, RecordInput, Work};
use crate::blocking::Transform;
use crate::normalize::{Normalized, Normalizer};
use crate::schema::{FeatureHashing, FieldHash, FieldTokens, Format, Schema, Strategy};
use crate::tokenize::Tokens;
use kith_core::EncodedRecord;

pub(super) struct FieldEncoder {
    pub(super) name: String,
    pub(super) feature: usize,
    pub(super) bits: u32,
    pub(super) k: u32,
    pub(super) tokens: FieldTokens,
    pub(super) hash: FieldHash,
    /// The salt's feature and how it is cut.
    pub(super) salt: Option<(usize, Transform)>,
    /// The BLIP stream's key and the flip threshold (see [`super::harden::flip_threshold`]).
    pub(super) noise: Option<(Hmac<Sha256>, u32)>,
    /// XOR folds, rule 90, rehashing (with the group's key) and balancing (with the group's
    /// permutation), applied in that order, BLIP between the last two.
    pub(super) folds: u32,
    pub(super) rule90: bool,
    pub(super) rehash: Option<super::harden::Rehasher>,
    pub(super) balance: Option<Vec<u32>>,
    pub(super) mac: Hmac<Sha256>,
}

impl FieldEncoder {
    /// Set the token's `k` bits in `words` (its positions come from the cache when they can).
    /// `part` is the token's part of a filter in parts (0 for a filter compared whole); the
    /// same token bytes always come with the same part.
    pub(super) fn add(&self, cache: &mut FieldCache, part: usize, token: &[u8], words: &mut [u64]) {
        let set = |words: &mut [u64], positions: &[u16]| {
            for &bit in positions {
                words[(bit / 64) as usize] |= 1u64 << (63 - bit % 64);
            }
        };
        if let Some(positions) = cache.get(token) {
            set(words, positions);
            return;
        }
        let positions = self.positions(part, token);
        set(words, &positions);
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(token.into(), positions);
    }

    /// The token's `k` bit positions: `a + i·b (mod bits)` from the first two words of its HMAC
    /// (double hashing), or each drawn from 32 bits of its HMAC, continued as HMAC(token, 0x1f, j)
    /// for `j = 1, 2, …` (random hashing). In a filter in parts, positions are taken within the
    /// token's part.
    fn positions(&self, part: usize, token: &[u8]) -> Box<[u16]> {
        let digest = |extra: Option<u8>| {
            let mut m = self.mac.clone();
            m.update(token);
            if let Some(j) = extra {
                m.update(&[0x1f, j]);
            }
            m.finalize().into_bytes()
        };
        let parts = self.tokens.parts().len().max(1) as u64;
        let bits = u64::from(self.bits) / parts;
        let offset = bits * part as u64;
        let d = digest(None);
        let word = |d: &[u8], i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&d[i * 8..i * 8 + 8]);
            u64::from_be_bytes(w)
        };
        match self.hash {
            FieldHash::Double => {
                let (a, b) = (word(&d, 0), word(&d, 1) | 1);
                (0..u64::from(self.k))
                    .map(|i| (offset + a.wrapping_add(i.wrapping_mul(b)) % bits) as u16)
                    .collect()
            }
            FieldHash::Random => {
                let mut out = Vec::with_capacity(self.k as usize);
                let mut block = d;
                let mut j = 0u8;
                while out.len() < self.k as usize {
                    for chunk in block.chunks_exact(4) {
                        if out.len() == self.k as usize {
                            break;
                        }
                        let mut w = [0u8; 4];
                        w.copy_from_slice(chunk);
                        out.push((offset + u64::from(u32::from_be_bytes(w)) % bits) as u16);
                    }
                    if out.len() < self.k as usize {
                        j += 1;
                        block = digest(Some(j));
                    }
                }
                out.into()
            }
        }
    }

    /// The filter's hashed words made into its encoded bytes: folded, rule 90, rehashed, BLIP
    /// (by the record's noise stream, when it has a token), balanced; see `harden`.
    fn finish(&self, words: &[u64], token: Option<&[u8]>, out: &mut Vec<u8>) {
        // Only a folded filter needs a copy of its words.
        let folded: Vec<u64>;
        let words = if self.folds == 0 {
            words
        } else {
            let mut w = words.to_vec();
            for _ in 0..self.folds {
                super::harden::fold(&mut w);
            }
            folded = w;
            &folded
        };
        let bits = words.len() * 64;
        out.clear();
        out.extend(words.iter().flat_map(|w| w.to_be_bytes()));
        if self.rule90 {
            super::harden::rule90(out, bits);
        }
        if let Some(r) = &self.rehash {
            r.apply(out);
        }
        if let (Some((key, threshold)), Some(token)) = (&self.noise, token) {
            super::harden::blip(key, token, *threshold, out, bits);
        }
        if let Some(perm) = &self.balance {
            let balanced = super::harden::balance(out, bits, perm);
            out.clear();
            out.extend_from_slice(&balanced);
        }
    }
}

/// The parts of a date as clkhash formats it (`%Y%m%d`, the year not zero-padded): year, month,
/// day, as text.
pub(super) fn date_parts(value: &str) -> Option<(&str, &str, &str)> {
    let n = value.len();
    if n < 5 || !value.is_ascii() {
        return None;
    }
    Some((&value[..n - 4], &value[n - 4..n - 2], &value[n - 2..]))
}

/// Call `add` with each of the date tokens of `value` (as clkhash formats a date): the year five
/// times over, the month, the day, and the day and month as an unordered pair. False when `value`
/// is not such a date.
pub(super) fn date_part_tokens(
    value: &str,
    bytes: &mut Vec<u8>,
    mut add: impl FnMut(&[u8]),
) -> bool {
    let Some((y, m, d)) = date_parts(value) else {
        return false;
    };
    let (lo, hi) = if m <= d { (m, d) } else { (d, m) };
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
        add(date_token(bytes, &[tag, a, b]));
    }
    true
}

/// A date token's bytes: `parts` end to end, in `bytes` (reused).
fn date_token<'b>(bytes: &'b mut Vec<u8>, parts: &[&str]) -> &'b [u8] {
    bytes.clear();
    for p in parts {
        bytes.extend_from_slice(p.as_bytes());
    }
    bytes
}

/// Call `add` with each token of `value`'s `"date_parts"` filter (as clkhash formats a date): the
/// year part's tokens (tagged `Y…`) are the year and, twice each, every year from one before to
/// one after it; the day-and-month part's are the month, the day, three times the day and month
/// as an unordered pair, and the month with each day from one before to one after the day.
/// False when `value` is not such a date.
pub(super) fn date_split_tokens(
    value: &str,
    bytes: &mut Vec<u8>,
    mut add: impl FnMut(&[u8]),
) -> bool {
    let Some((y, m, d)) = date_parts(value) else {
        return false;
    };
    let (Ok(year), Ok(day)) = (y.parse::<i32>(), d.parse::<u32>()) else {
        return false;
    };
    let (lo, hi) = if m <= d { (m, d) } else { (d, m) };
    let mut emit = |tag: &str, a: &str, b: &str| add(date_token(bytes, &[tag, a, "/", b]));
    emit("Y:", y, "");
    for near in [year - 1, year, year + 1] {
        let near = near.to_string();
        emit("Ya:", &near, "");
        emit("Yb:", &near, "");
    }
    emit("m:", m, "");
    emit("d:", d, "");
    for tag in ["md1:", "md2:", "md3:"] {
        emit(tag, lo, hi);
    }
    for near in [day.saturating_sub(1), day, day + 1] {
        emit("dw:", m, &near.to_string());
    }
    true
}

/// Which part of a `"date_parts"` filter a token of [`date_split_tokens`] belongs in: 0 for the
/// year's, 1 for the day and month's.
pub(super) fn date_part_of(token: &[u8]) -> usize {
    usize::from(!token.starts_with(b"Y"))
}

/// Token bytes → its bit positions in a field-level filter.
pub(super) type FieldCache = FxHashMap<Box<[u8]>, Box<[u16]>>;

impl Encoder {
    /// The record's field-level Bloom filters. A token's bits are `(a + i·b) mod bits` for
    /// `i < k`, where `a` and `b` are the first two words of the token's HMAC under the filter's
    /// group key (`b` made odd). Missing and invalid values give no filter.
    pub(super) fn field_filters_of(
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
            // The schema allows at most 1,024 bits.
            let mut all_words = [0u64; 16];
            let words = &mut all_words[..f.bits as usize / 64];
            let cache = &mut work.field_caches[fi];
            let source = FilterSource {
                hashing: h,
                normalizer: fe.normalizer.as_ref(),
                tokens: f.tokens,
            };
            let salt = f.salt.map(|(i, transform)| {
                transform.apply(self.features[i].normalizer.as_ref(), input.features[i])
            });
            let salted = &mut work.salted;
            let split = !f.tokens.parts().is_empty();
            let mut add = |t: &[u8]| {
                let part = if split { date_part_of(t) } else { 0 };
                match &salt {
                    None => f.add(cache, part, t, words),
                    Some(s) => {
                        // A missing salt is a salt of its own, unlike any value.
                        salted.clear();
                        if let Some(s) = s {
                            salted.extend_from_slice(s.as_bytes());
                        }
                        salted.push(0x1f);
                        salted.extend_from_slice(t);
                        f.add(cache, part, salted, words);
                    }
                }
            };
            let mut made =
                source.each_token(raw, &mut work.tokens, &mut work.token_bytes, &mut add);
            // An alternative value's tokens join the value's.
            if let Some(alt) = input.alternatives.get(f.feature).filter(|a| !a.is_empty()) {
                made |= source.each_token(alt, &mut work.tokens, &mut work.token_bytes, &mut add);
            }
            if !made {
                *slot = None;
                continue;
            }
            let buf = slot.get_or_insert_with(Vec::new);
            f.finish(words, record.token.as_ref().map(|t| t.as_ref()), buf);
        }
    }
}

/// Where a field filter's tokens come from: the feature's hashing and normaliser, and the kind of
/// tokens the filter takes.
struct FilterSource<'a> {
    hashing: &'a FeatureHashing,
    normalizer: Option<&'a Normalizer>,
    tokens: FieldTokens,
}

impl FilterSource<'_> {
    /// Call `add` with each token of `raw`'s filter; false when the value gives no filter
    /// (missing, invalid, or refused by the feature's format).
    fn each_token(
        &self,
        raw: &str,
        tokens: &mut Tokens,
        bytes: &mut Vec<u8>,
        mut add: impl FnMut(&[u8]),
    ) -> bool {
        let h = self.hashing;
        let value = match self.normalizer.map(|n| n.apply(raw)) {
            None => clk_value(h, raw).ok().map(|(v, o)| (v.into_owned(), o)),
            Some(Normalized::Value(v)) => clk_value(h, &v).ok().map(|(v, o)| (v.into_owned(), o)),
            Some(Normalized::Missing | Normalized::Invalid) => None,
        };
        let value: String = match value {
            Some((v, FieldOutcome::Present)) if !v.is_empty() => v,
            _ => return false,
        };
        match self.tokens {
            FieldTokens::Date => return date_part_tokens(&value, bytes, add),
            FieldTokens::DateParts => return date_split_tokens(&value, bytes, add),
            FieldTokens::Clk | FieldTokens::Skips => {
                if tokens.fill(&h.comparison, &value).is_err() {
                    return false;
                }
                for tok in tokens.iter() {
                    if encode_token(h.encoding, tok, bytes).is_ok() {
                        add(bytes);
                    }
                }
            }
        }
        if self.tokens == FieldTokens::Skips {
            // Then the pairs of characters one apart, padded as the bigrams are (on the stack:
            // this runs for every name of every record).
            let mut padded = std::iter::once(' ')
                .chain(value.chars())
                .chain(std::iter::once(' '));
            if let (Some(mut a), Some(mut b)) = (padded.next(), padded.next()) {
                let mut buf = [0u8; 8];
                for c in padded {
                    let n = a.encode_utf8(&mut buf[..4]).len();
                    let m = c.encode_utf8(&mut buf[n..]).len();
                    if let Ok(pair) = std::str::from_utf8(&buf[..n + m])
                        && encode_token(h.encoding, pair, bytes).is_ok()
                    {
                        add(bytes);
                    }
                    (a, b) = (b, c);
                }
            }
        }
        true
    }
}

/// The tokens the field filter of feature `feature` hashes for the raw value `raw`, in order (a
/// token may repeat), or `None` when the value gives no filter or the schema declares no filter
/// for the feature. They depend on the schema alone, not on the secret: what a linkage party that
/// knows the schema can compute for any value it guesses, which is what `kith audit` simulates.
pub fn filter_tokens(schema: &Schema, feature: &str, raw: &str) -> Option<Vec<Vec<u8>>> {
    let spec = schema.kith().fields.iter().find(|f| f.feature == feature)?;
    schema_tokens(schema, feature, spec.tokens, raw)
}

/// The tokens the CLK hashes for the raw value `raw` of feature `feature`, with its bits per
/// token, or `None` when the value gives no tokens, the feature is ignored or unknown, or its
/// strategy is `bitsPerFeature` (bits per token then depend on the value). Like
/// [`filter_tokens`], they depend on the schema alone: what `kith audit` needs to attack CLKs.
pub fn clk_tokens(schema: &Schema, feature: &str, raw: &str) -> Option<(Vec<Vec<u8>>, u32)> {
    let hashing = hashing_of(schema, feature)?;
    let Strategy::BitsPerToken(k) = hashing.strategy else {
        return None;
    };
    let tokens = if schema.kith().clk.date_parts && matches!(hashing.format, Format::Date(_)) {
        FieldTokens::Date
    } else {
        FieldTokens::Clk
    };
    Some((schema_tokens(schema, feature, tokens, raw)?, k))
}

/// The hashing of feature `feature`, unless it is ignored or unknown.
fn hashing_of<'s>(schema: &'s Schema, feature: &str) -> Option<&'s FeatureHashing> {
    schema
        .features()
        .iter()
        .find(|f| f.identifier == feature)?
        .hashing
        .as_ref()
}

/// The tokens of `raw` for feature `feature`, made as `tokens` says, in order.
fn schema_tokens(
    schema: &Schema,
    feature: &str,
    tokens: FieldTokens,
    raw: &str,
) -> Option<Vec<Vec<u8>>> {
    let source = FilterSource {
        hashing: hashing_of(schema, feature)?,
        normalizer: schema.kith().normalize.get(feature),
        tokens,
    };
    let mut out = Vec::new();
    let made = source.each_token(raw, &mut Tokens::default(), &mut Vec::new(), |t| {
        out.push(t.to_vec())
    });
    made.then_some(out)
}
