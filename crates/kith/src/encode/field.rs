//! Field-level Bloom filters: one keyed filter per configured feature, beside the CLK.

use hmac::{Hmac, Mac};
use rustc_hash::FxHashMap;
use sha2::Sha256;

use super::cache::CACHE_LIMIT;
use super::value::{clk_value, encode_token};
use super::{Encoder, FieldOutcome, RecordInput, Work};
use crate::normalize::Normalized;
use crate::schema::FieldTokens;
use kith_core::EncodedRecord;

pub(super) struct FieldEncoder {
    pub(super) name: String,
    pub(super) feature: usize,
    pub(super) bits: u32,
    pub(super) k: u32,
    pub(super) tokens: FieldTokens,
    pub(super) mac: Hmac<Sha256>,
}

impl FieldEncoder {
    /// Set the token's `k` bits in `words` (its two hash words come from the cache when they
    /// can).
    pub(super) fn add(&self, cache: &mut FieldCache, token: &[u8], words: &mut [u64]) {
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
pub(super) fn date_parts(value: &str) -> Option<(&str, &str, &str)> {
    let n = value.len();
    if n < 5 || !value.is_ascii() {
        return None;
    }
    Some((&value[..n - 4], &value[n - 4..n - 2], &value[n - 2..]))
}

/// Token bytes → the two hash words of a field-level filter.
pub(super) type FieldCache = FxHashMap<Box<[u8]>, (u64, u64)>;

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
}
