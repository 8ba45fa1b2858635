//! Token hashing: a token's bytes to k bit indices in `[0, L)` (clkhash's `blakeHash` and
//! `doubleHash`). Keyed states are prepared once per feature and cloned per token.

use blake2::digest::block_api::{Block, Buffer, UpdateCore, VariableOutputCore};
use blake2::digest::{FixedOutput, Output, Update};
use blake2::{Blake2bMac512, Blake2bVarCore};
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use zeroize::Zeroize;

use crate::keys::FeatureKeys;
use crate::schema::HashKind;

/// A prepared hasher for one feature.
#[derive(Clone)]
pub(crate) enum TokenHasher {
    Blake {
        /// One prepared MAC per 32 indices, salted "0", "1", ….
        macs: Vec<Blake2bMac512>,
        /// For each MAC, the BLAKE2b state after its first block, the padded key, which every
        /// token's MAC starts with: a token of 1 to 128 bytes then costs one compression instead
        /// of two. (The MAC itself keeps the key block until input follows, since a MAC of
        /// nothing ends with it.)
        keyed: Vec<Blake2bVarCore>,
    },
    Double(Box<DoubleHasher>),
}

/// HMAC-SHA1 with the first key and HMAC-MD5 with the second, prepared.
#[derive(Clone)]
pub(crate) struct DoubleHasher {
    sha1: Hmac<Sha1>,
    md5: Hmac<Md5>,
    prevent_singularity: bool,
}

impl std::fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenHasher::Blake { .. } => "TokenHasher::Blake",
            TokenHasher::Double(_) => "TokenHasher::Double",
        })
    }
}

impl TokenHasher {
    /// Prepare a hasher; `max_k` is the largest k any token of the feature can get.
    pub(crate) fn new(
        kind: HashKind,
        keys: &FeatureKeys,
        max_k: u32,
    ) -> Result<TokenHasher, String> {
        Ok(match kind {
            HashKind::Blake => {
                let n = max_k.div_ceil(32).max(1);
                let macs = (0..n)
                    .map(|i| {
                        Blake2bMac512::new_with_salt_and_personal(
                            Some(&keys.a),
                            i.to_string().as_bytes(),
                            &[],
                        )
                        .map_err(|_| "blakeHash needs a key of 1 to 64 bytes".to_owned())
                    })
                    .collect::<Result<_, _>>()?;
                let keyed = (0..n)
                    .map(|i| {
                        // As the MAC sets itself up (checked above: a key of 1 to 64 bytes).
                        let mut core = Blake2bVarCore::new_with_params(
                            i.to_string().as_bytes(),
                            &[],
                            keys.a.len(),
                            64,
                        );
                        let mut block = Block::<Blake2bVarCore>::default();
                        block[..keys.a.len()].copy_from_slice(&keys.a);
                        core.update_blocks(&[block]);
                        block.as_mut_slice().zeroize();
                        core
                    })
                    .collect();
                TokenHasher::Blake { macs, keyed }
            }
            HashKind::Double {
                prevent_singularity,
            } => TokenHasher::Double(Box::new(DoubleHasher {
                sha1: Hmac::<Sha1>::new_from_slice(&keys.a)
                    .map_err(|_| "bad HMAC key".to_owned())?,
                md5: Hmac::<Md5>::new_from_slice(&keys.b).map_err(|_| "bad HMAC key".to_owned())?,
                prevent_singularity,
            })),
        })
    }

    /// Append the k indices of `token` (already encoded to bytes) in `[0, big_l)` to `out`.
    pub(crate) fn indices(&self, token: &[u8], k: u32, big_l: u32, out: &mut Vec<u32>) {
        match self {
            TokenHasher::Blake { macs, keyed } => {
                // big_l is a power of two (checked when the schema was loaded).
                let mask = big_l - 1;
                let mut left = k as usize;
                for (mac, keyed) in macs.iter().zip(keyed) {
                    if left == 0 {
                        break;
                    }
                    let digest = match Buffer::<Blake2bVarCore>::try_new(token) {
                        Ok(mut last) if !token.is_empty() => {
                            let mut core = keyed.clone();
                            let mut out = Output::<Blake2bVarCore>::default();
                            core.finalize_variable_core(&mut last, &mut out);
                            out
                        }
                        _ => {
                            let mut m = mac.clone();
                            Update::update(&mut m, token);
                            m.finalize_fixed()
                        }
                    };
                    let take = left.min(32);
                    out.extend(
                        digest
                            .chunks_exact(2)
                            .take(take)
                            .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])) & mask),
                    );
                    left -= take;
                }
            }
            TokenHasher::Double(d) => {
                let DoubleHasher {
                    sha1,
                    md5,
                    prevent_singularity,
                } = d.as_ref();
                let l = u64::from(big_l);
                let h1 = mod_be(&mac_once(sha1, token, None), l);
                let mut h2 = mod_be(&mac_once(md5, token, None), l);
                if *prevent_singularity {
                    let mut c: u32 = 0;
                    while h2 == 0 {
                        // token || utf8(chr(c))
                        let ch = char::from_u32(c).unwrap_or('\u{fffd}');
                        h2 = mod_be(&mac_once(md5, token, Some(ch)), l);
                        c += 1;
                    }
                }
                // (g + h2) % l, as g and h2 are below l.
                let mut g = h1;
                for _ in 0..k {
                    out.push(g as u32);
                    g += h2;
                    if g >= l {
                        g -= l;
                    }
                }
            }
        }
    }
}

fn mac_once<M: Mac + Clone>(prepared: &M, token: &[u8], suffix: Option<char>) -> Vec<u8> {
    let mut m = prepared.clone();
    m.update(token);
    if let Some(c) = suffix {
        let mut buf = [0u8; 4];
        m.update(c.encode_utf8(&mut buf).as_bytes());
    }
    m.finalize().into_bytes().to_vec()
}

/// A big-endian integer modulo `l`: for a power of two (as CLK lengths nearly always are), its last
/// eight bytes masked, without the division per byte of the general case.
fn mod_be(bytes: &[u8], l: u64) -> u64 {
    if l.is_power_of_two()
        && let Some(tail) = bytes.last_chunk::<8>()
    {
        return u64::from_be_bytes(*tail) & (l - 1);
    }
    mod_be_bytewise(bytes, l)
}

fn mod_be_bytewise(bytes: &[u8], l: u64) -> u64 {
    bytes
        .iter()
        .fold(0u64, |r, &b| ((r << 8) | u64::from(b)) % l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The power-of-two path of `mod_be` agrees with the byte-by-byte remainder.
        #[test]
        fn big_endian_remainders_agree(
            bytes in proptest::collection::vec(any::<u8>(), 0..24),
            shift in 0u32..40,
            other in 1u64..1_000_000,
        ) {
            let l = 1u64 << shift;
            prop_assert_eq!(mod_be(&bytes, l), mod_be_bytewise(&bytes, l));
            prop_assert_eq!(mod_be(&bytes, other), mod_be_bytewise(&bytes, other));
        }

        /// The state prepared after the key block gives every token exactly what its MAC gives
        /// (the empty token and tokens longer than one block go through the MAC itself).
        #[test]
        fn keyed_states_give_what_the_macs_give(
            key in proptest::collection::vec(any::<u8>(), 1..=64),
            token in proptest::collection::vec(any::<u8>(), 0..300),
            k in 1u32..100,
            bits in 6u32..13,
        ) {
            let keys = FeatureKeys { a: key, b: vec![7; 16] };
            let hasher = TokenHasher::new(HashKind::Blake, &keys, k).expect("hasher");
            let TokenHasher::Blake { macs, .. } = &hasher else {
                panic!("blakeHash");
            };
            let big_l = 1u32 << bits;
            let mut want = Vec::new();
            for (j, mac) in macs.iter().enumerate() {
                let mut m = mac.clone();
                Update::update(&mut m, &token);
                let digest = m.finalize_fixed();
                let take = (k as usize - 32 * j).min(32);
                want.extend(
                    digest
                        .chunks_exact(2)
                        .take(take)
                        .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])) & (big_l - 1)),
                );
            }
            let mut got = Vec::new();
            hasher.indices(&token, k, big_l, &mut got);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn big_endian_modulus() {
        assert_eq!(mod_be(&[0x01, 0x00], 7), 256 % 7);
        // 2^160 - 1 = 1461501637330902918203684832716283019655932542975.
        assert_eq!(mod_be(&[0xff; 20], 1000), 975);
    }
}
