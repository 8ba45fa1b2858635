//! Token bit tables: each token's bit indices or dense bit map, hashed once per thread.

use super::cache::{
    ASCII_RUN, ASCII_SLOTS, CACHE_LIMIT, FeatureCache, POSITIONAL_SLOTS, SHORT_SLOTS, short_key,
};
use crate::bits::BitVec;
use crate::hash::TokenHasher;
use crate::kernel::Kernel;
use crate::schema::TextEncoding;

use super::value::encode_token;

/// The first `k` bit indices of a token, from the thread's caches or freshly hashed.
pub(super) fn token_indices<'c>(
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
    if let Some(at) = cache.tokens.get(token) {
        let at = at as usize;
        if cache.token_arena[at] as usize >= k {
            return &cache.token_arena[at + 1..at + 1 + k];
        }
    }
    indices.clear();
    hasher.indices(token, k as u32, big_l, indices);
    // A token hashed again for more bits gets a new entry: the arena is bounded too.
    if cache.tokens.len() >= CACHE_LIMIT || cache.token_arena.len() > CACHE_LIMIT * 64 {
        cache.tokens.clear();
        cache.token_arena.clear();
    }
    cache.tokens.insert(token, cache.token_arena.len() as u32);
    cache.token_arena.push(k as u32);
    cache.token_arena.extend_from_slice(indices);
    indices
}

/// The dense bits (`nw` words) of a fixed-k feature's tokens, kept in its cache's arena.
#[derive(Clone, Copy)]
pub(super) struct DenseTokens<'h> {
    pub(super) kernel: Kernel,
    pub(super) hasher: &'h TokenHasher,
    pub(super) k: usize,
    pub(super) big_l: u32,
    pub(super) nw: usize,
    /// How a token handed in is hashed: as it is (`Utf8`), or, for the ASCII fast paths of a
    /// UTF-16 or UTF-32 feature, as its ASCII text in that encoding. The direct-index tables are
    /// keyed by the ASCII bytes either way, which stand for one encoded token each.
    pub(super) ascii_as: TextEncoding,
}

impl DenseTokens<'_> {
    /// A token's bits, from the cache or freshly hashed.
    pub(super) fn bits<'c>(
        &self,
        cache: &'c mut FeatureCache,
        indices: &mut Vec<u32>,
        token: &[u8],
    ) -> &'c [u64] {
        let slot = self.slot(cache, indices, token);
        &cache.dense[slot * self.nw..(slot + 1) * self.nw]
    }

    /// The slot of a token's bits, found by its bytes or made.
    pub(super) fn slot(
        &self,
        cache: &mut FeatureCache,
        indices: &mut Vec<u32>,
        token: &[u8],
    ) -> usize {
        if let Some(key) = short_key(token) {
            let table: fn(&mut FeatureCache) -> &mut Vec<u16> = |c| &mut c.dense_short;
            return self.direct_slot(cache, indices, table, SHORT_SLOTS, key, || token);
        }
        if let Some(slot) = cache.dense_long.get(token) {
            return slot as usize;
        }
        let slot = self.new_slot(cache, indices, token);
        cache.dense_long.insert(token, slot as u32);
        slot
    }

    /// The slot recorded at `key` in the direct-index table that `table` picks (each holds 1 + the
    /// slot, or 0), or else a new slot for the token `token()` gives, recorded there; the table
    /// gets its `size` entries on first use.
    pub(super) fn direct_slot<'t>(
        &self,
        cache: &mut FeatureCache,
        indices: &mut Vec<u32>,
        table: impl Fn(&mut FeatureCache) -> &mut Vec<u16>,
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
    pub(super) fn new_slot(
        &self,
        cache: &mut FeatureCache,
        indices: &mut Vec<u32>,
        token: &[u8],
    ) -> usize {
        let nw = self.nw;
        indices.clear();
        let mut encoded = Vec::new();
        let token = match (self.ascii_as, std::str::from_utf8(token)) {
            (TextEncoding::Utf16 | TextEncoding::Utf32, Ok(text)) => {
                // ASCII text, which every encoding can write: no error to handle.
                let _ = encode_token(self.ascii_as, text, &mut encoded);
                &encoded[..]
            }
            _ => token,
        };
        self.hasher
            .indices(token, self.k as u32, self.big_l, indices);
        if cache.dense.len() >= CACHE_LIMIT * nw {
            cache.dense_generation = cache.dense_generation.wrapping_add(1);
            cache.dense.clear();
            cache.dense_long.clear();
            cache.dense_short.fill(0);
            cache.dense_positional.fill(0);
            for t in &mut cache.dense_by_length {
                t.fill(0);
            }
            for t in &mut cache.dense_by_k {
                t.fill(0);
            }
            cache.dense_keyed.clear();
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
    pub(super) fn ascii_slot(
        &self,
        cache: &mut FeatureCache,
        indices: &mut Vec<u32>,
        tok: &[u8],
    ) -> usize {
        let key = ascii_key(tok);
        let table: fn(&mut FeatureCache) -> &mut Vec<u16> = |c| &mut c.dense_ascii;
        self.direct_slot(cache, indices, table, ASCII_SLOTS, key, || tok)
    }

    /// The slot of the positional unigram `"{i + 1} {c}"` of an ASCII value, by direct index
    /// (`dense_positional`, or with `length` the table of values of that length,
    /// `dense_by_length`); `scratch` holds the token's bytes when it must be hashed.
    pub(super) fn positional_slot(
        &self,
        cache: &mut FeatureCache,
        indices: &mut Vec<u32>,
        scratch: &mut Vec<u8>,
        length: Option<usize>,
        i: usize,
        c: u8,
    ) -> usize {
        let key = i * 128 + usize::from(c & 0x7f);
        match length {
            None => {
                let table: fn(&mut FeatureCache) -> &mut Vec<u16> = |c| &mut c.dense_positional;
                self.direct_slot(cache, indices, table, POSITIONAL_SLOTS, key, || {
                    positional_token(scratch, i, c)
                })
            }
            Some(n) => {
                if cache.dense_by_length.len() <= n {
                    cache.dense_by_length.resize_with(n + 1, Vec::new);
                }
                self.direct_slot(
                    cache,
                    indices,
                    |c: &mut FeatureCache| &mut c.dense_by_length[n],
                    n * 128,
                    key,
                    || positional_token(scratch, i, c),
                )
            }
        }
    }

    /// The slot of an ASCII unigram or bigram that gets `self.k` bits, by direct index
    /// (`dense_by_k[k]`, at [`ascii_key`]).
    pub(super) fn ascii_slot_by_k(
        &self,
        cache: &mut FeatureCache,
        indices: &mut Vec<u32>,
        tok: &[u8],
    ) -> usize {
        let k = self.k;
        if cache.dense_by_k.len() <= k {
            cache.dense_by_k.resize_with(k + 1, Vec::new);
        }
        self.direct_slot(
            cache,
            indices,
            |c: &mut FeatureCache| &mut c.dense_by_k[k],
            ASCII_SLOTS,
            ascii_key(tok),
            || tok,
        )
    }

    /// OR the bits of every `n`-byte window of an ASCII `bytes` (`n` of 1 or 2) into `out`.
    pub(super) fn or_windows(
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

/// The positional unigram `"{i + 1} {c}"`, written into `scratch`.
fn positional_token(scratch: &mut Vec<u8>, i: usize, c: u8) -> &[u8] {
    scratch.clear();
    scratch.extend_from_slice((i + 1).to_string().as_bytes());
    scratch.push(b' ');
    scratch.push(c);
    scratch.as_slice()
}

/// The direct index of an ASCII unigram or bigram in `dense_ascii`: seven bits a byte.
#[inline]
pub(super) fn ascii_key(tok: &[u8]) -> usize {
    tok.iter()
        .fold(0usize, |k, &b| k << 7 | usize::from(b & 0x7f))
}

/// Where a feature's token bits are OR-ed: words collected apart (to be cached as a value's bits),
/// or a record's bits directly.
pub(super) trait OrInto {
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
pub(super) fn or_slots(
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
pub(super) fn or_dense(out: &mut [u64], src: &[u64]) {
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
