//! Per-thread caches of the encoder: the value cache with its trials, and the token caches.

use rustc_hash::FxHashMap;

use super::FieldOutcome;
use crate::bits::BitVec;

/// Entries each per-feature, per-thread cache holds before it is emptied and started again. With
/// 1,024-bit CLKs a full value or dense-token cache is about 2.5 MB, so a thread's caches stay small
/// whatever the input.
pub(super) const CACHE_LIMIT: usize = 1 << 14;
// The direct-index tables of token slots hold 1 + a slot in a `u16` (half the cache lines of `u32`).
const _: () = assert!(CACHE_LIMIT < u16::MAX as usize);

/// Values already encoded by one thread, for one feature: raw value → what it contributed.
///
/// Values of up to 24 bytes (most names, dates, towns, house numbers with their street) are keyed
/// inline, so that a lookup reads no memory but the table's; the bits are kept in one arena, so
/// that a hit costs no pointer chase.
#[derive(Debug, Default)]
pub(super) struct ValueCache {
    pub(super) short: FxHashMap<ValueKey, u32>,
    pub(super) long: FxHashMap<Box<str>, u32>,
    pub(super) outcomes: Vec<FieldOutcome>,
    /// For CLKs of up to `DENSE_MAX_WORDS` words: `nw` words per value.
    pub(super) dense: Vec<u64>,
    /// For longer CLKs: the (word, bits) pairs each value sets.
    pub(super) sparse: Vec<Box<[(u32, u64)]>>,
}

/// The inline key of a value of up to 24 bytes (see [`short_value_key`]).
pub(super) type ValueKey = (u64, u64, u64, u8);

/// The inline key of a value of up to 24 bytes: its first and last eight bytes (overlapping, or
/// its first and last four, two or one, zero-extended, for shorter values), bytes 8 to 16 of a value
/// longer than 16, and its length, which together determine it. Fixed-size loads, no copy loop.
pub(super) fn short_value_key(raw: &str) -> Option<ValueKey> {
    short_bytes_key(raw.as_bytes())
}

/// [`short_value_key`] of any bytes (tokens in the feature's encoding).
#[inline]
pub(super) fn short_bytes_key(b: &[u8]) -> Option<ValueKey> {
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
    pub(super) fn judge(&mut self) {
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
    pub(super) fn len(&self) -> usize {
        self.outcomes.len()
    }

    pub(super) fn get(&self, raw: &str) -> Option<usize> {
        match short_value_key(raw) {
            Some(key) => self.short.get(&key),
            None => self.long.get(raw),
        }
        .map(|&slot| slot as usize)
    }

    /// OR value `slot`'s bits into `bits`; its outcome.
    pub(super) fn or_into(&self, slot: usize, nw: usize, bits: &mut BitVec) -> FieldOutcome {
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
    pub(super) fn insert(&mut self, raw: &str, words: &mut [u64], outcome: FieldOutcome) {
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

/// A map from token bytes: tokens of up to 24 bytes (nearly all) keyed inline, like short values
/// in [`ValueCache`], so that a lookup compares keys without following a pointer.
///
/// Tokens of up to seven bytes (trigrams, codes, most exact values) are keyed by one word, their
/// bytes with their length in the top byte: an entry of 16 bytes rather than 40 keeps a feature's
/// table of thousands of tokens in the L2 cache.
#[derive(Debug)]
pub(super) struct TokenMap<V> {
    word: FxHashMap<u64, V>,
    short: FxHashMap<ValueKey, V>,
    long: FxHashMap<Box<[u8]>, V>,
}

impl<V> Default for TokenMap<V> {
    fn default() -> Self {
        TokenMap {
            word: FxHashMap::default(),
            short: FxHashMap::default(),
            long: FxHashMap::default(),
        }
    }
}

/// The one-word key of a token of up to seven bytes (see [`TokenMap`]): its bytes, little-endian,
/// from overlapping fixed-size loads, and its length in the top byte.
#[inline]
pub(super) fn word_key(b: &[u8]) -> Option<u64> {
    let n = b.len();
    let bytes = match n {
        0 => 0,
        1 => u64::from(b[0]),
        2..4 => {
            u64::from(u16::from_le_bytes(*b.first_chunk()?))
                | u64::from(u16::from_le_bytes(*b.last_chunk()?)) << ((n - 2) * 8)
        }
        4..8 => {
            u64::from(u32::from_le_bytes(*b.first_chunk()?))
                | u64::from(u32::from_le_bytes(*b.last_chunk()?)) << ((n - 4) * 8)
        }
        _ => return None,
    };
    Some(bytes | (n as u64) << 56)
}

impl<V: Copy> TokenMap<V> {
    #[inline]
    pub(super) fn get(&self, token: &[u8]) -> Option<V> {
        if let Some(key) = word_key(token) {
            return self.word.get(&key).copied();
        }
        match short_bytes_key(token) {
            Some(key) => self.short.get(&key),
            None => self.long.get(token),
        }
        .copied()
    }

    pub(super) fn insert(&mut self, token: &[u8], value: V) {
        if let Some(key) = word_key(token) {
            self.word.insert(key, value);
            return;
        }
        match short_bytes_key(token) {
            Some(key) => self.short.insert(key, value),
            None => self.long.insert(token.into(), value),
        };
    }

    pub(super) fn len(&self) -> usize {
        self.word.len() + self.short.len() + self.long.len()
    }

    pub(super) fn clear(&mut self) {
        self.word.clear();
        self.short.clear();
        self.long.clear();
    }
}

/// Per-feature caches of one thread: formatted value → bits, and token bytes → bit indices.
///
/// Values that rarely repeat (telephone numbers, e-mail addresses) would only churn the value cache,
/// so it switches itself off for a feature whose hit rate is low; the token cache still serves them.
#[derive(Debug, Default)]
pub(super) struct FeatureCache {
    pub(super) values: ValueCache,
    /// Tokens not in `short`: where their `[k, index 0, …, index k-1]` starts in `token_arena`.
    pub(super) tokens: TokenMap<u32>,
    pub(super) token_arena: Vec<u32>,
    /// Tokens of one or two bytes (ASCII unigrams and bigrams, the bulk of all tokens) skip hashing:
    /// `short[key]` is 1 + the offset in `short_arena` of `[k, index 0, …, index k-1]`, or 0.
    pub(super) short: Vec<u32>,
    pub(super) short_arena: Vec<u32>,
    /// Dense per-token bit maps (`L / 64` words each) for fixed-k features with short CLKs: OR-ing
    /// a token's words beats setting its k bits one by one. `dense_short` is indexed like `short`
    /// and holds 1 + the slot; longer tokens go through `dense_long`.
    pub(super) dense_short: Vec<u16>,
    /// Like `dense_short`, for positional unigrams of ASCII values (`"{i + 1} {c}"`), indexed by
    /// `i * 128 + c` for the first `POSITIONAL_SLOTS / 128` positions.
    pub(super) dense_positional: Vec<u16>,
    /// Like `dense_positional`, for `bitsPerFeature` features, whose tokens' bits depend on the
    /// value's length: `dense_by_length[n]` serves values of `n` bytes (up to
    /// [`POSITIONAL_SLOTS`]` / 128`).
    pub(super) dense_by_length: Vec<Vec<u16>>,
    /// Like `dense_ascii`, for `bitsPerFeature` features, whose tokens' bits depend on the value's
    /// token count: `dense_by_k[k]` serves the tokens that get `k` bits.
    pub(super) dense_by_k: Vec<Vec<u16>>,
    /// Positional n-grams of ASCII values (see `Encoder::encode_value`): 1 + the slot of the
    /// token at (share k, position, window), keyed as `k << 48 | position << 16 | window`.
    pub(super) dense_keyed: FxHashMap<u64, u32>,
    /// Like `dense_short`, for the windows of ASCII values (the fast path): indexed by the byte
    /// of a unigram, or by `a << 7 | b` for a bigram `ab`, without range checks.
    pub(super) dense_ascii: Vec<u16>,
    pub(super) dense_long: TokenMap<u32>,
    pub(super) dense: Vec<u64>,
    /// How many times `dense` was emptied (slots found before then are stale).
    pub(super) dense_generation: u32,
    /// Value-cache lookups and hits, for its trials (hits are counted afresh for the second).
    pub(super) lookups: u32,
    pub(super) hits: u32,
    pub(super) values_off: bool,
}

/// Slots of the short-token table: 96 × 96 printable-ASCII bigrams, then 256 one-byte tokens.
pub(super) const SHORT_SLOTS: usize = 96 * 96 + 256;

/// The slot of a one-byte token or a two-byte token of printable ASCII (the bigrams of ASCII text).
/// The table stays small (37 KB a feature) so that it lives in the cache; other tokens use maps.
pub(super) fn short_key(token: &[u8]) -> Option<usize> {
    match *token {
        [a] => Some(96 * 96 + usize::from(a)),
        [a @ 0x20..=0x7f, b @ 0x20..=0x7f] => {
            Some(usize::from(a - 0x20) * 96 + usize::from(b - 0x20))
        }
        _ => None,
    }
}

/// Slots of the table of ASCII unigrams and bigrams (`dense_ascii`): 128 × 128.
pub(super) const ASCII_SLOTS: usize = 128 * 128;

/// Bigrams of a value whose keys are computed in one go (values up to 63 bytes; longer ones compute
/// each key in turn).
pub(super) const ASCII_RUN: usize = 64;

/// Slots of the positional-unigram table: 64 positions × 128 ASCII characters.
pub(super) const POSITIONAL_SLOTS: usize = 64 * 128;

/// Words of a CLK of `big_l` bits.
pub(super) fn field_words_len(big_l: u32) -> usize {
    (big_l as usize).div_ceil(64)
}

/// Dense token maps are used up to this many words per CLK (4,096 bits before folding).
pub(super) const DENSE_MAX_WORDS: usize = 64;

/// Value lookups in the value cache's first trial (see [`CACHE_KEEP_HITS`]).
pub(super) const CACHE_TRIAL: u32 = 1024;

/// Hits in the first trial at which the value cache stays on: a quarter of the lookups. `T` draws
/// from `V` equally common values hit a cache of what was drawn before `T - V(1 - e^(-T/V))` times,
/// so this means a feature of at most about 1,700 distinct values, whose cached bits (about 200 KB
/// at 1,024 bits) stay in the L2 cache beside the other features' token tables: a hit then costs a
/// fraction of OR-ing the value's tokens. Bigger caches lose: they miss the L2 cache on most hits
/// and push the other features' tables out of it. Values that rarely repeat (telephone numbers,
/// postcodes, dates of birth) would only churn a cache. See `docs/design.md`.
pub(super) const CACHE_KEEP_HITS: u32 = CACHE_TRIAL / 4;

/// Values a feature's value cache holds before it is emptied (512 KB of bits at 1,024 bits): the
/// first trial keeps caches of about 1,700 values, but a few common values among many rare ones
/// (as in a national extract's surnames) can pass both trials and would fill it.
pub(super) const VALUE_CACHE_LIMIT: usize = 4096;

/// The second trial, on a warm cache: of the lookups from `CACHE_WARM_START` to `CACHE_WARM_END`,
/// at least half must hit. It catches what the first one cannot tell from a few thousand values:
/// a mix of a few common values and a long tail of rare ones (names built from syllables: short
/// ones repeat, long ones hardly ever), which keeps a full cache churning.
pub(super) const CACHE_WARM_START: u32 = 8 * 1024;
/// See [`CACHE_WARM_START`].
pub(super) const CACHE_WARM_END: u32 = 16 * 1024;
