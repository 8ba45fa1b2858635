//! Hardening after hashing: randomised response (BLIP) for field filters and the CLK, and rule 90
//! and balancing for the CLK.
//!
//! The noise is a keyed pseudo-random stream per record: ChaCha8 seeded with HMAC(noise key,
//! record token), so it is the same at every thread count and in every run with the same secret,
//! and unknown without the secret. `docs/privacy.md` says what each option defends against and
//! what it costs.

use hmac::{Hmac, Mac};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::Sha256;

/// A bit is flipped when its 16-bit draw from the noise stream is below this: the flip
/// probability `1 / (1 + e^ε)` in 65,536ths.
pub(super) fn flip_threshold(epsilon: f64) -> u32 {
    (65_536.0 / (1.0 + epsilon.exp())).round() as u32
}

/// Randomised response: flip each of the first `bits` bits of `bytes` (MSB first) whose 16-bit
/// draw from the record's stream (`key`, `token`) is under `threshold`.
pub(super) fn blip(
    key: &Hmac<Sha256>,
    token: &[u8],
    threshold: u32,
    bytes: &mut [u8],
    bits: usize,
) {
    let mut m = key.clone();
    m.update(token);
    let seed: [u8; 32] = m.finalize().into_bytes().into();
    let mut rng = ChaCha8Rng::from_seed(seed);
    let mut draws = 0u32;
    for bit in 0..bits {
        if bit % 2 == 0 {
            draws = rng.next_u32();
        }
        let draw = if bit % 2 == 0 {
            draws >> 16
        } else {
            draws & 0xffff
        };
        if draw < threshold {
            bytes[bit / 8] ^= 0x80 >> (bit % 8);
        }
    }
}

fn get(bytes: &[u8], bit: usize) -> bool {
    bytes[bit / 8] & (0x80 >> (bit % 8)) != 0
}

/// XOR folding: the first half of `words` XORed with the second, which is dropped.
pub(super) fn fold(words: &mut Vec<u64>) {
    let half = words.len() / 2;
    let (a, b) = words.split_at_mut(half);
    a.iter_mut().zip(b.iter()).for_each(|(x, y)| *x ^= y);
    words.truncate(half);
}

/// Rule 90: bit `i` becomes bit `i - 1` XOR bit `i + 1`, cyclically over the first `bits` bits
/// (the bits after them are left as they are). Word by word: the bits shifted one way XOR the bits
/// shifted the other, the two ends wrapped round.
pub(super) fn rule90(bytes: &mut [u8], bits: usize) {
    if bits == 0 {
        return;
    }
    let n = bits.div_ceil(64);
    // The first `bits` bits as big-endian words (bit i at word i / 64, from the top), zero after.
    let mut old = vec![0u64; n];
    for (w, chunk) in old.iter_mut().zip(bytes[..bits.div_ceil(8)].chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *w = u64::from_be_bytes(b);
    }
    let tail = bits % 64;
    if tail != 0 {
        old[n - 1] &= !0u64 << (64 - tail);
    }
    let bit = |i: usize| old[i / 64] >> (63 - i % 64) & 1;
    let (first, last) = (bit(0), bit(bits - 1));
    let mut new = vec![0u64; n];
    for w in 0..n {
        // Bit i's left neighbour (i - 1) and right neighbour (i + 1), 64 at a time.
        let left = old[w] >> 1 | if w > 0 { old[w - 1] << 63 } else { 0 };
        let right = old[w] << 1 | old.get(w + 1).map_or(0, |x| x >> 63);
        new[w] = left ^ right;
    }
    // The ends wrap round: bit 0's left is bit `bits - 1`, bit `bits - 1`'s right is bit 0 (the
    // shifts brought in zeros there).
    new[0] ^= last << 63;
    new[(bits - 1) / 64] ^= first << (63 - (bits - 1) % 64);
    for i in 0..bits.div_ceil(8) {
        let byte = (new[i / 8] >> (56 - 8 * (i % 8))) as u8;
        // Only the first `bits` bits change.
        let keep = if 8 * i + 8 > bits {
            0xffu8 >> (bits - 8 * i)
        } else {
            0
        };
        bytes[i] = bytes[i] & keep | byte & !keep;
    }
}

/// Rehashing: for each window of `window` bits starting every `step` bits (within the first
/// `bits`), the window's bits read as a number select a keyed stream (ChaCha8 under `key`, stream
/// number window index and value), whose first `k` draws set bits of a new vector of `bits` bits,
/// which replaces `bytes`. Records that share most windows share most of the new bits.
///
/// The draws of every window start and value are tabulated once per key when the table is small
/// (a [`Rehasher`]); this draws them record by record, for the schemas whose table is not.
pub(super) fn rehash(
    key: &[u8; 32],
    bytes: &mut [u8],
    bits: usize,
    window: u32,
    step: u32,
    k: u32,
) {
    let (window, step) = (window as usize, step as usize);
    let mut out = vec![0u8; bytes.len()];
    let mut rng = ChaCha8Rng::from_seed(*key);
    let mut start = 0;
    while start + window <= bits {
        let value = window_value(bytes, start, window);
        rng.set_stream(((start as u64) << 32) | value);
        rng.set_word_pos(0);
        for _ in 0..k {
            set(&mut out, draw_position(rng.next_u32(), bits));
        }
        start += step;
    }
    bytes.copy_from_slice(&out);
}

/// The `window` bits (at most 32) of `bytes` from bit `start` (MSB first), read as a number.
fn window_value(bytes: &[u8], start: usize, window: usize) -> u64 {
    let first = start / 8;
    let mut buf = [0u8; 8];
    let avail = bytes.len().saturating_sub(first).min(8);
    buf[..avail].copy_from_slice(&bytes[first..first + avail]);
    (u64::from_be_bytes(buf) << (start % 8)) >> (64 - window)
}

/// A draw of 32 bits scaled to a bit position below `bits`.
fn draw_position(draw: u32, bits: usize) -> usize {
    ((u64::from(draw) * bits as u64) >> 32) as usize
}

fn set(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8] |= 0x80 >> (bit % 8);
}

/// Rehashing (see [`rehash`]) under one key, at one length, with every window start's draws for
/// every window value drawn once, when they fit [`TABLE_ENTRIES`]: each window's stream is a
/// stream of its own, so drawing its first `k` words costs a whole ChaCha8 refill (four blocks),
/// and 170 of them a 1,024-bit CLK would be most of a record's encoding.
pub(super) struct Rehasher {
    key: zeroize::Zeroizing<[u8; 32]>,
    bits: usize,
    rehash: crate::schema::Rehash,
    /// Position `j` of window start `s` at value `v` at `((s << window | v) * k + j)`; empty when
    /// the table would be too big (the draws are then made record by record). The positions
    /// stand for the key, so they are zeroized with it.
    table: zeroize::Zeroizing<Vec<u16>>,
}

/// Streams a rehashing table may draw (about 40 ms of ChaCha8) and positions it may hold (4 MB).
const TABLE_STREAMS: usize = 1 << 18;
const TABLE_ENTRIES: usize = 1 << 21;

impl Rehasher {
    pub(super) fn new(
        key: zeroize::Zeroizing<[u8; 32]>,
        bits: usize,
        rehash: crate::schema::Rehash,
    ) -> Rehasher {
        let (window, step, k) = (
            rehash.window as usize,
            rehash.step as usize,
            rehash.k as usize,
        );
        let starts = if bits >= window {
            (bits - window) / step + 1
        } else {
            0
        };
        let streams = starts.saturating_mul(1 << window);
        let mut table = zeroize::Zeroizing::new(Vec::new());
        if bits <= 1 << 16 && streams <= TABLE_STREAMS && streams * k <= TABLE_ENTRIES {
            table.reserve_exact(streams * k);
            let mut rng = ChaCha8Rng::from_seed(*key);
            for s in 0..starts {
                for value in 0..1u64 << window {
                    rng.set_stream(((s * step) as u64) << 32 | value);
                    rng.set_word_pos(0);
                    // Below `bits`, which is at most 65,536.
                    table.extend((0..k).map(|_| draw_position(rng.next_u32(), bits) as u16));
                }
            }
        }
        Rehasher {
            key,
            bits,
            rehash,
            table,
        }
    }

    /// Rehash the first `bits` bits of `bytes` in place (the rest become zero, as in [`rehash`]).
    pub(super) fn apply(&self, bytes: &mut [u8]) {
        let crate::schema::Rehash { window, step, k } = self.rehash;
        if self.table.is_empty() {
            rehash(&self.key, bytes, self.bits, window, step, k);
            return;
        }
        let (window, step, k) = (window as usize, step as usize, k as usize);
        // Eight bytes past the end, so that every window is one fixed-size load.
        let mut padded = vec![0u8; bytes.len() + 8];
        padded[..bytes.len()].copy_from_slice(bytes);
        let mut out = vec![0u64; bytes.len().div_ceil(8)];
        for (s, start) in (0..=self.bits - window).step_by(step).enumerate() {
            let word = padded[start / 8..][..8]
                .first_chunk()
                .map_or(0, |b| u64::from_be_bytes(*b));
            let value = ((word << (start % 8)) >> (64 - window)) as usize;
            let at = ((s << window) | value) * k;
            for &p in &self.table[at..at + k] {
                out[usize::from(p / 64)] |= 1 << (63 - p % 64);
            }
        }
        for (chunk, w) in bytes.chunks_mut(8).zip(&out) {
            chunk.copy_from_slice(&w.to_be_bytes()[..chunk.len()]);
        }
    }
}

/// A keyed permutation of `n` positions (Fisher–Yates on ChaCha8 seeded with the key).
pub(super) fn permutation(key: &[u8; 32], n: usize) -> Vec<u32> {
    let mut rng = ChaCha8Rng::from_seed(*key);
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = ((u64::from(rng.next_u32()) * (i as u64 + 1)) >> 32) as usize;
        p.swap(i, j);
    }
    p
}

/// Output bit `j` is input bit `perm[j]` (`perm` a permutation of the first `perm.len()` bits);
/// bits past them stay as they are.
pub(super) fn permute(bytes: &[u8], perm: &[u32]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let whole = perm.len() / 8;
    gather_bits(&mut out[..whole], &perm[..whole * 8], |p| bit_of(bytes, p));
    for (j, &p) in perm.iter().enumerate().skip(whole * 8) {
        let mask = 0x80 >> (j % 8);
        if get(bytes, p as usize) {
            out[j / 8] |= mask;
        } else {
            out[j / 8] &= !mask;
        }
    }
    out
}

/// Bit `i` of `bytes` (MSB first) as 0 or 1.
#[inline]
fn bit_of(bytes: &[u8], i: usize) -> u8 {
    bytes[i / 8] >> (7 - i % 8) & 1
}

/// Each byte of `out` made of the bits `bit` gives for its eight entries of `from`, in order: no
/// branch on a bit's value, which is as likely 0 as 1 and cost a misprediction one time in two.
#[inline]
fn gather_bits(out: &mut [u8], from: &[u32], bit: impl Fn(usize) -> u8) {
    for (o, ps) in out.iter_mut().zip(from.chunks(8)) {
        *o = ps.iter().fold(0u8, |acc, &p| acc << 1 | bit(p as usize)) << (8 - ps.len());
    }
}

/// Balancing: the first `bits` bits followed by their complement, permuted by `perm` (`2 * bits`
/// positions): output bit `j` is input bit `perm[j]`. Every balanced CLK sets exactly `bits` bits.
pub(super) fn balance(bytes: &[u8], bits: usize, perm: &[u32]) -> Vec<u8> {
    let mut out = vec![0u8; (2 * bits).div_ceil(8)];
    gather_bits(&mut out, perm, |i| {
        // Bit i of the first `bits`, or the complement of bit i - bits.
        let high = usize::from(i >= bits);
        bit_of(bytes, i - high * bits) ^ high as u8
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Known answers of rehashing (window, step, k at a length) on one input: the encodings of
    /// every holder who rehashes depend on them, so they must not move.
    #[test]
    fn rehashing_gives_its_known_answers() {
        for (bits, window, step, k, expect) in [
            (
                1024usize,
                8,
                6,
                3,
                "0044250febbc364660a01042991fad40880eb48e93884c70913d1a60c0c279d488289008d0609487eea661c31b9616013114a1d08a04b02a214300948a0d14e4c4e2212e04268a2a47789404f8c1954642c2a6fabb9084114c2b82c0d34a70b69475b2f70b532ac4d42921d925800ead139135596c86030084421c21bbb2d0d6",
            ),
            (
                256,
                1,
                1,
                1,
                "e655a86ff38dffbbb17ecf87f99fe81731e7ebf8f3b3a859cf5aaf677d7afb5f",
            ),
            (
                256,
                13,
                5,
                2,
                "215940204b500a022a0904147a4083976e19486d622800844281951ba110e054",
            ),
            (128, 32, 32, 16, "a358016265256db000c4f81a034d7ead"),
            (
                1000,
                8,
                6,
                3,
                "00446a1fcf38bc988280410ca4ed66044076e8ed3885461327a34c28108e75220c480458304c83a96261c32d962a026269c7412812c149061804a460d14e4c4e2417c084d14749ff25015620e7a321c361fab3908413d84b0581cd15c2d651d783a859997a4722921f167801cda2726dae5b2100c0222102116dd3c856",
            ),
        ] {
            let input: Vec<u8> = (0..bits.div_ceil(8))
                .map(|i| (i as u8).wrapping_mul(37) ^ 0x5a)
                .collect();
            let mut direct = input.clone();
            rehash(&[9; 32], &mut direct, bits, window, step, k);
            assert_eq!(
                crate::hex(&direct),
                expect,
                "{bits} bits, {window}/{step}/{k}"
            );
            let r = crate::schema::Rehash { window, step, k };
            let rehasher = Rehasher::new(zeroize::Zeroizing::new([9; 32]), bits, r);
            assert_eq!(
                rehasher.table.is_empty(),
                window > 8,
                "a table for short windows only"
            );
            let mut tabulated = input.clone();
            rehasher.apply(&mut tabulated);
            assert_eq!(
                crate::hex(&tabulated),
                expect,
                "tabulated, {bits} bits, {window}/{step}/{k}"
            );
        }
    }

    proptest! {
        #[test]
        fn balanced_clks_set_exactly_half_their_bits(bytes in proptest::collection::vec(any::<u8>(), 16)) {
            let perm = permutation(&[7; 32], 256);
            let out = balance(&bytes, 128, &perm);
            prop_assert_eq!(out.len(), 32);
            prop_assert_eq!(out.iter().map(|b| b.count_ones()).sum::<u32>(), 128);
            // Equal inputs, equal outputs; the permutation is a permutation.
            let mut seen = perm.clone();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..256).collect::<Vec<u32>>());
        }

        #[test]
        fn a_tabulated_rehasher_draws_what_rehashing_draws(
            bytes in proptest::collection::vec(any::<u8>(), 1..48),
            window in 1u32..12,
            step in 1u32..12,
            k in 1u32..5,
            cut in 0usize..8,
        ) {
            let step = step.min(window);
            let bits = (bytes.len() * 8).saturating_sub(cut).max(1);
            let r = crate::schema::Rehash { window, step, k };
            let rehasher = Rehasher::new(zeroize::Zeroizing::new([5; 32]), bits, r);
            let mut a = bytes.clone();
            let mut b = bytes.clone();
            rehash(&[5; 32], &mut a, bits, window, step, k);
            rehasher.apply(&mut b);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn rehashing_keeps_similar_clks_similar(bytes in proptest::collection::vec(any::<u8>(), 32), flip in 0usize..256) {
            let mut a = bytes.clone();
            let mut b = bytes.clone();
            b[flip / 8] ^= 0x80 >> (flip % 8);
            rehash(&[3; 32], &mut a, 256, 8, 6, 3);
            rehash(&[3; 32], &mut b, 256, 8, 6, 3);
            // One flipped bit lies in at most two windows: at most 2k new bits differ each way.
            let differ: u32 = a.iter().zip(&b).map(|(x, y)| (x ^ y).count_ones()).sum();
            prop_assert!(differ <= 12, "{differ} bits differ");
            let mut c = bytes.clone();
            rehash(&[3; 32], &mut c, 256, 8, 6, 3);
            prop_assert_eq!(&a, &c, "deterministic");
        }

        #[test]
        fn folding_xors_the_halves(words in proptest::collection::vec(any::<u64>(), 1..9)) {
            let mut w: Vec<u64> = words.iter().chain(&words).map(|x| x.rotate_left(7)).collect();
            w.extend(words.iter().copied());
            w.truncate(2 * words.len());
            let expect: Vec<u64> = (0..words.len()).map(|i| w[i] ^ w[i + words.len()]).collect();
            fold(&mut w);
            prop_assert_eq!(w, expect);
        }

        #[test]
        fn rule90_is_the_xor_of_the_neighbours(
            bytes in proptest::collection::vec(any::<u8>(), 1..40),
            cut in 0usize..80,
        ) {
            let bits = (bytes.len() * 8).saturating_sub(cut).max(1);
            let mut out = bytes.clone();
            rule90(&mut out, bits);
            for i in 0..bits {
                let expect = get(&bytes, (i + bits - 1) % bits) ^ get(&bytes, (i + 1) % bits);
                prop_assert_eq!(get(&out, i), expect, "bit {} of {}", i, bits);
            }
            for i in bits..bytes.len() * 8 {
                prop_assert_eq!(get(&out, i), get(&bytes, i), "bit {} past {}", i, bits);
            }
        }

        #[test]
        fn permuting_and_balancing_move_each_bit_where_the_permutation_says(
            bytes in proptest::collection::vec(any::<u8>(), 1..40),
            cut in 0usize..16,
            key in any::<u8>(),
        ) {
            let bits = (bytes.len() * 8).saturating_sub(cut).max(1);
            let perm = permutation(&[key; 32], bits);
            let out = permute(&bytes, &perm);
            for (j, &p) in perm.iter().enumerate() {
                prop_assert_eq!(get(&out, j), get(&bytes, p as usize), "bit {}", j);
            }
            for i in bits..bytes.len() * 8 {
                prop_assert_eq!(get(&out, i), get(&bytes, i), "bit {} past {}", i, bits);
            }
            let perm = permutation(&[key; 32], 2 * bits);
            let out = balance(&bytes, bits, &perm);
            prop_assert_eq!(out.len(), (2 * bits).div_ceil(8));
            for (j, &p) in perm.iter().enumerate() {
                let p = p as usize;
                let expect = if p < bits { get(&bytes, p) } else { !get(&bytes, p - bits) };
                prop_assert_eq!(get(&out, j), expect, "balanced bit {}", j);
            }
            for j in 2 * bits..out.len() * 8 {
                prop_assert!(!get(&out, j), "padding bit {} is zero", j);
            }
        }
    }
}
