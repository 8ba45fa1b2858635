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

/// Rule 90: bit `i` becomes bit `i - 1` XOR bit `i + 1`, cyclically over the first `bits` bits.
pub(super) fn rule90(bytes: &mut [u8], bits: usize) {
    let old = bytes.to_vec();
    for i in 0..bits {
        let left = get(&old, (i + bits - 1) % bits);
        let right = get(&old, (i + 1) % bits);
        let mask = 0x80 >> (i % 8);
        if left ^ right {
            bytes[i / 8] |= mask;
        } else {
            bytes[i / 8] &= !mask;
        }
    }
}

/// Rehashing: for each window of `window` bits starting every `step` bits (within the first
/// `bits`), the window's bits read as a number select a keyed stream (ChaCha8 under `key`, stream
/// number window index and value), whose first `k` draws set bits of a new vector of `bits` bits,
/// which replaces `bytes`. Records that share most windows share most of the new bits.
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
        let value = (start..start + window).fold(0u64, |v, i| v << 1 | u64::from(get(bytes, i)));
        rng.set_stream(((start as u64) << 32) | value);
        rng.set_word_pos(0);
        for _ in 0..k {
            let p = ((u64::from(rng.next_u32()) * bits as u64) >> 32) as usize;
            out[p / 8] |= 0x80 >> (p % 8);
        }
        start += step;
    }
    bytes.copy_from_slice(&out);
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
    for (j, &p) in perm.iter().enumerate() {
        let mask = 0x80 >> (j % 8);
        if get(bytes, p as usize) {
            out[j / 8] |= mask;
        } else {
            out[j / 8] &= !mask;
        }
    }
    out
}

/// Balancing: the first `bits` bits followed by their complement, permuted by `perm` (`2 * bits`
/// positions): output bit `j` is input bit `perm[j]`. Every balanced CLK sets exactly `bits` bits.
pub(super) fn balance(bytes: &[u8], bits: usize, perm: &[u32]) -> Vec<u8> {
    let both = |i: usize| {
        if i < bits {
            get(bytes, i)
        } else {
            !get(bytes, i - bits)
        }
    };
    let mut out = vec![0u8; (2 * bits).div_ceil(8)];
    for (j, &p) in perm.iter().enumerate() {
        if both(p as usize) {
            out[j / 8] |= 0x80 >> (j % 8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        fn rule90_is_the_xor_of_the_neighbours(bytes in proptest::collection::vec(any::<u8>(), 8)) {
            let mut out = bytes.clone();
            rule90(&mut out, 64);
            for i in 0..64 {
                prop_assert_eq!(get(&out, i), get(&bytes, (i + 63) % 64) ^ get(&bytes, (i + 1) % 64));
            }
        }
    }
}
