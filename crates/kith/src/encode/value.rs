//! The per-value encoder: one field of one record to its CLK bits.

use std::borrow::Cow;

use super::cache::{
    CACHE_TRIAL, CACHE_WARM_END, CACHE_WARM_START, DENSE_MAX_WORDS, FeatureCache, POSITIONAL_SLOTS,
    field_words_len, short_key,
};
use super::token_bits::{DenseTokens, ascii_key, or_dense, or_slots, token_indices};
use super::{Encoder, FieldOutcome, Work};
use crate::bits::BitVec;
use crate::error::FieldError;
use crate::format::format_value;
use crate::normalize::Normalized;
use crate::schema::{Case, Comparison, FeatureHashing, Format, Strategy, TextEncoding};

impl Encoder {
    /// Encode feature `i` of one record into `bits`: from the value cache when it holds the value
    /// (inlined into the batch loop: most values of repetitive features end here), else
    /// [`Encoder::encode_value`].
    #[inline]
    pub(super) fn encode_field(
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
    /// ([`super::cache::CACHE_KEEP_HITS`], [`super::cache::CACHE_WARM_START`]): a token's bits
    /// are cheap to OR, so a cache of values that rarely repeat costs more in inserts and memory
    /// traffic than it saves.
    #[inline]
    pub(super) fn cached(
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

    /// Ask the CPU to fetch the bits of feature `i`'s values in `inputs` ahead of encoding them,
    /// for exact features whose values are hashed as they are (plain or enumerated strings, no
    /// normaliser) and not served by the value cache. Thousands of such values keep their bits
    /// beyond the L2 cache, and one value's encoding is too long for the CPU to reach the next
    /// value's bits on its own: here the lookups overlap. Exact values only: the value is its one
    /// token, so the lookup costs no tokenising, while n-grams would be looked up twice. A hint:
    /// no result depends on it.
    pub(super) fn prefetch_tokens(&self, work: &Work, i: usize, inputs: &[super::RecordInput<'_>]) {
        let fe = &self.features[i];
        let Some((h, _)) = &fe.hashing else {
            return;
        };
        let nw = field_words_len(self.big_l);
        let cache = &work.caches[i];
        if h.comparison != Comparison::Exact
            || fe.normalizer.is_some()
            || !cache.values_off
            || nw > DENSE_MAX_WORDS
            || !matches!(h.strategy, Strategy::BitsPerToken(_))
            || !(is_plain_string(h)
                || matches!(h.format, Format::Enum(_))
                    && h.missing.is_none()
                    && h.encoding == TextEncoding::Utf8)
        {
            return;
        }
        for input in inputs {
            let raw = input.features[i].as_bytes();
            if let Some(slot) = (!raw.is_empty())
                .then(|| cache.dense_long.get(raw))
                .flatten()
                .map(|s| s as usize)
                && let Some(words) = cache.dense.get(slot * nw..(slot + 1) * nw)
            {
                kith_core::kernel::prefetch(words);
            }
        }
    }

    /// Encode feature `i` of one record into `bits` when the value cache does not hold it (and
    /// remember it there while the cache is on).
    #[inline(never)]
    pub(super) fn encode_value(
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
            bounds,
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
        // This feature's dense token maps for tokens of `k` bits, hashed as `ascii_as` says.
        let dense_for = |k: usize, ascii_as: TextEncoding| DenseTokens {
            kernel: self.kernel,
            hasher,
            k,
            big_l: self.big_l,
            nw,
            ascii_as,
        };
        let dense = match h.strategy {
            Strategy::BitsPerToken(k) if nw <= DENSE_MAX_WORDS => {
                Some(dense_for(k as usize, TextEncoding::Utf8))
            }
            _ => None,
        };
        // The same, for the ASCII fast paths, which hand in ASCII tokens of any encoding.
        let ascii_dense = dense.map(|d| DenseTokens {
            ascii_as: h.encoding,
            ..d
        });
        let mut add = |cache: &mut FeatureCache, indices: &mut Vec<u32>, tok: &[u8], k: usize| {
            if let Some(d) = &dense {
                or_dense(field_words, d.bits(cache, indices, tok));
            } else {
                for &b in token_indices(cache, indices, hasher, tok, k, self.big_l) {
                    field_words[(b / 64) as usize] |= 1u64 << (63 - b % 64);
                }
            }
        };
        let date_parts = self.clk_hardening.date_parts && matches!(h.format, Format::Date(_));
        match (&h.comparison, h.strategy, h.encoding) {
            // A date hashed by its parts rather than its digits by position (`kith.clk.dates`):
            // the same tokens as a `"date"` field filter, each with the feature's bits.
            (_, strategy, _) if date_parts => {
                let k = match strategy {
                    Strategy::BitsPerToken(k) => k,
                    // Eight tokens share the feature's bits.
                    Strategy::BitsPerFeature(f) => (f / 8).max(1),
                } as usize;
                let made = super::field::date_part_tokens(&value, token_bytes, |t| {
                    add(cache, indices, t, k)
                });
                if !made {
                    return Err(err(format!("{value:?} is not a date")));
                }
            }
            // Fast path for the common case: plain n-grams of an ASCII value. The tokens are then
            // just the windows of the padded bytes (in UTF-8 or ASCII; in UTF-16 or UTF-32 they
            // stand for the tokens, for unigrams and bigrams, found by direct index).
            (
                Comparison::Ngram {
                    n,
                    positional: false,
                },
                Strategy::BitsPerToken(k),
                enc,
            ) if value.is_ascii()
                && (matches!(enc, TextEncoding::Utf8 | TextEncoding::Ascii)
                    || (dense.is_some() && *n <= 2)) =>
            {
                pad_for_ngrams(token_bytes, &value, *n);
                if let Some(d) = ascii_dense.as_ref().filter(|_| *n <= 2) {
                    // Unigrams and bigrams: each token's slot is found by direct index.
                    if direct {
                        d.or_windows(cache, indices, token_bytes, *n, bits);
                    } else {
                        d.or_windows(cache, indices, token_bytes, *n, &mut field_words[..]);
                    }
                    collected = !direct;
                } else if let Some(d) = dense.as_ref() {
                    // Longer n-grams: every window's slot through the token map first, so that
                    // the lookups of a feature of thousands of tokens overlap, then OR-ed at once.
                    let (bytes, n) = (&token_bytes[..], *n);
                    let known = |cache: &FeatureCache, t: usize| {
                        cache.dense_long.get(&bytes[t..t + n]).map_or(0, |s| s + 1)
                    };
                    let make = |cache: &mut FeatureCache, t: usize| {
                        d.slot(cache, indices, &bytes[t..t + n])
                    };
                    collected = or_slots_to(
                        self.kernel,
                        cache,
                        (direct, bits, field_words),
                        nw,
                        bytes.len() + 1 - n,
                        known,
                        make,
                    );
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
                _,
            ) if dense.is_some() && value.is_ascii() && value.len() * 128 <= POSITIONAL_SLOTS => {
                let chars = value.as_bytes();
                if let Some(d) = &ascii_dense {
                    let known = |cache: &FeatureCache, i: usize| {
                        let key = i * 128 + usize::from(chars[i] & 0x7f);
                        cache.dense_positional.get(key).map_or(0, |&s| u32::from(s))
                    };
                    let make = |cache: &mut FeatureCache, i: usize| {
                        d.positional_slot(cache, indices, token_bytes, None, i, chars[i])
                    };
                    let count = chars.len();
                    collected = or_slots_to(
                        d.kernel,
                        cache,
                        (direct, bits, field_words),
                        nw,
                        count,
                        known,
                        make,
                    );
                }
            }
            // Positional unigrams of a short ASCII value with `bitsPerFeature` (dates, postcodes,
            // house numbers): as above, from the table of values of this length, since a token's
            // share of the feature's bits depends on it.
            (
                Comparison::Ngram {
                    n: 1,
                    positional: true,
                },
                Strategy::BitsPerFeature(f),
                enc,
            ) if nw <= DENSE_MAX_WORDS
                && value.is_ascii()
                && value.len() * 128 <= POSITIONAL_SLOTS =>
            {
                let chars = value.as_bytes();
                let count = chars.len();
                let (q, r) = (f as usize / count, f as usize % count);
                let known = |cache: &FeatureCache, i: usize| {
                    let key = i * 128 + usize::from(chars[i] & 0x7f);
                    cache
                        .dense_by_length
                        .get(count)
                        .and_then(|t| t.get(key))
                        .map_or(0, |&s| u32::from(s))
                };
                let make = |cache: &mut FeatureCache, i: usize| {
                    dense_for(q + usize::from(i < r), enc).positional_slot(
                        cache,
                        indices,
                        token_bytes,
                        Some(count),
                        i,
                        chars[i],
                    )
                };
                collected = or_slots_to(
                    self.kernel,
                    cache,
                    (direct, bits, field_words),
                    nw,
                    count,
                    known,
                    make,
                );
            }
            // Positional unigrams and bigrams of an ASCII value the arms above leave (bigrams,
            // long values): each token's slot is found by (share, position, window) in a map; the
            // token `"{t + 1} {window}"` is written out only to hash it the first time.
            (
                Comparison::Ngram {
                    n,
                    positional: true,
                },
                strategy,
                TextEncoding::Utf8 | TextEncoding::Ascii,
            ) if *n <= 2 && nw <= DENSE_MAX_WORDS && value.is_ascii() => {
                let (v, n) = (value.as_bytes(), *n);
                let pad = n - 1;
                let count = v.len() + pad;
                let byte = |j: usize| {
                    if j < pad || j >= pad + v.len() {
                        b' '
                    } else {
                        v[j - pad]
                    }
                };
                let share = |t: usize| match strategy {
                    Strategy::BitsPerToken(k) => k as usize,
                    Strategy::BitsPerFeature(f) => {
                        f as usize / count + usize::from(t < f as usize % count)
                    }
                };
                let key = |t: usize| {
                    let window = (0..n).fold(0u64, |k, j| k << 7 | u64::from(byte(t + j) & 0x7f));
                    (share(t) as u64) << 48 | (t as u64) << 16 | window
                };
                let known = |cache: &FeatureCache, t: usize| {
                    cache.dense_keyed.get(&key(t)).map_or(0, |&s| s)
                };
                let make = |cache: &mut FeatureCache, t: usize| {
                    token_bytes.clear();
                    token_bytes.extend_from_slice((t + 1).to_string().as_bytes());
                    token_bytes.push(b' ');
                    token_bytes.extend((0..n).map(|j| byte(t + j)));
                    let d = dense_for(share(t), TextEncoding::Utf8);
                    let slot = d.new_slot(cache, indices, token_bytes);
                    cache.dense_keyed.insert(key(t), slot as u32 + 1);
                    slot
                };
                collected = or_slots_to(
                    self.kernel,
                    cache,
                    (direct, bits, field_words),
                    nw,
                    count,
                    known,
                    make,
                );
            }
            // `bitsPerFeature` n-grams of an ASCII value: the tokens are the windows of the padded
            // bytes, as on the fast path above, each with its share of the feature's bits.
            (
                Comparison::Ngram {
                    n,
                    positional: false,
                },
                Strategy::BitsPerFeature(f),
                TextEncoding::Utf8 | TextEncoding::Ascii,
            ) if value.is_ascii() => {
                pad_for_ngrams(token_bytes, &value, *n);
                let count = token_bytes.len().saturating_sub(*n - 1);
                let (q, r) = (f as usize / count.max(1), f as usize % count.max(1));
                if *n <= 2 && nw <= DENSE_MAX_WORDS && q < MAX_DENSE_K {
                    // Unigrams and bigrams: each token's bits for its share k (q + 1 for the first
                    // r tokens, q for the rest), from the table of that k by direct index.
                    let (n, bytes) = (*n, &token_bytes[..]);
                    let known = |cache: &FeatureCache, t: usize| {
                        let k = q + usize::from(t < r);
                        cache
                            .dense_by_k
                            .get(k)
                            .and_then(|table| table.get(ascii_key(&bytes[t..t + n])))
                            .map_or(0, |&s| u32::from(s))
                    };
                    let make = |cache: &mut FeatureCache, t: usize| {
                        dense_for(q + usize::from(t < r), TextEncoding::Utf8).ascii_slot_by_k(
                            cache,
                            indices,
                            &bytes[t..t + n],
                        )
                    };
                    collected = or_slots_to(
                        self.kernel,
                        cache,
                        (direct, bits, field_words),
                        nw,
                        count,
                        known,
                        make,
                    );
                } else {
                    for (t, tok) in token_bytes.windows(*n).enumerate() {
                        let k = q + usize::from(t < r);
                        if k > 0 {
                            add(cache, indices, tok, k);
                        }
                    }
                }
            }
            // Plain n-grams of UTF-8 text with other characters than ASCII: the tokens are the
            // windows of `n` whole characters of the padded bytes, hashed where they lie.
            (
                Comparison::Ngram {
                    n,
                    positional: false,
                },
                strategy,
                TextEncoding::Utf8,
            ) => {
                pad_for_ngrams(token_bytes, &value, *n);
                bounds.clear();
                bounds.extend((0..token_bytes.len()).filter(|&i| token_bytes[i] & 0xc0 != 0x80));
                bounds.push(token_bytes.len());
                let count = bounds.len().saturating_sub(*n);
                if let Some(d) = dense.as_ref() {
                    // One share for every token: their slots found first, then OR-ed together
                    // (ASCII bigrams by direct index, the others through the token map).
                    let (bytes, bounds, n) = (&token_bytes[..], &bounds[..], *n);
                    // As `d.slot` finds a token's slot, reading the tables only.
                    let known = |cache: &FeatureCache, t: usize| {
                        let tok = &bytes[bounds[t]..bounds[t + n]];
                        match short_key(tok) {
                            Some(key) => cache.dense_short.get(key).map_or(0, |&s| u32::from(s)),
                            None => cache.dense_long.get(tok).map_or(0, |s| s + 1),
                        }
                    };
                    let make = |cache: &mut FeatureCache, t: usize| {
                        d.slot(cache, indices, &bytes[bounds[t]..bounds[t + n]])
                    };
                    collected = or_slots_to(
                        self.kernel,
                        cache,
                        (direct, bits, field_words),
                        nw,
                        count,
                        known,
                        make,
                    );
                } else {
                    for t in 0..count {
                        let k = match strategy {
                            Strategy::BitsPerToken(k) => k as usize,
                            Strategy::BitsPerFeature(f) => {
                                f as usize / count + usize::from(t < f as usize % count)
                            }
                        };
                        if k > 0 {
                            add(cache, indices, &token_bytes[bounds[t]..bounds[t + n]], k);
                        }
                    }
                }
            }
            // An exact value of a UTF-8 feature is its one token, hashed as it is: its slot is
            // found by its bytes and OR-ed straight in, with no token list or copy.
            (Comparison::Exact, Strategy::BitsPerToken(_), TextEncoding::Utf8)
                if dense.is_some() =>
            {
                if let Some(d) = &dense {
                    let words = d.bits(cache, indices, value.as_bytes());
                    if direct {
                        bits.or_words(words);
                    } else {
                        or_dense(field_words, words);
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

/// OR `count` tokens' dense slots (see `or_slots`) straight into the record's bits when `direct`
/// (the first of `to`), else into the feature's words, to be cached as the value's bits; returns
/// whether the words hold them.
fn or_slots_to(
    kernel: crate::kernel::Kernel,
    cache: &mut FeatureCache,
    (direct, bits, words): (bool, &mut BitVec, &mut [u64]),
    nw: usize,
    count: usize,
    known: impl Fn(&FeatureCache, usize) -> u32,
    make: impl FnMut(&mut FeatureCache, usize) -> usize,
) -> bool {
    if direct {
        or_slots(kernel, cache, bits, nw, count, known, make);
    } else {
        or_slots(kernel, cache, words, nw, count, known, make);
    }
    !direct
}

/// `bitsPerFeature` tokens of up to this many bits each have dense maps by direct index (one
/// table of 32 KB per share in use); tokens of more bits (a short value of a feature with many
/// bits) are set bit by bit.
const MAX_DENSE_K: usize = 64;

/// `value` padded with `n - 1` spaces each side into `out`: its n-gram tokens are the windows.
/// (Padding byte by byte: `extend(repeat_n(..))` was a call to memset per side.)
#[inline]
fn pad_for_ngrams(out: &mut Vec<u8>, value: &str, n: usize) {
    out.clear();
    for _ in 1..n {
        out.push(b' ');
    }
    out.extend_from_slice(value.as_bytes());
    for _ in 1..n {
        out.push(b' ');
    }
}

/// clkhash's `format_value`: the sentinel becomes its replacement without validation; anything else
/// is validated and formatted.
pub(crate) fn clk_value<'a>(
    h: &FeatureHashing,
    raw: &'a str,
) -> Result<(Cow<'a, str>, FieldOutcome), String> {
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
pub(super) fn clk_value_in<'a>(
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
pub(super) fn is_plain_string(h: &FeatureHashing) -> bool {
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
pub(super) fn missing_value(h: &FeatureHashing) -> Cow<'static, str> {
    match &h.missing {
        Some(m) => Cow::Owned(m.replacement().to_owned()),
        None => Cow::Borrowed(""),
    }
}

/// A token's bytes in the feature's encoding (Python's codecs: utf-16/utf-32 write a BOM each time).
pub(super) fn encode_token(enc: TextEncoding, tok: &str, out: &mut Vec<u8>) -> Result<(), String> {
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
