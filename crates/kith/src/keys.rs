//! The shared secret and every key derived from it.
//!
//! CLK keys come from the secret exactly as clkhash derives them (one HKDF call over the whole
//! schema; feature i gets bytes `[2i·ks, (2i+2)·ks)`). kith's own keys (record tokens, exact-match
//! tokens, the key check) come from separate HKDF-SHA256 calls with their own purpose labels, so no
//! kith token ever shares key material with a CLK. All key bytes are zeroized when dropped, and no
//! `Debug` output shows them.

use hkdf::Hkdf;
use sha2::{Sha256, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::SecretError;
use crate::schema::{Kdf, KdfHash};

/// The secret the data holders agreed. Its bytes are zeroized on drop and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wrap secret bytes. Empty secrets are refused.
    pub fn new(bytes: Vec<u8>) -> Result<Secret, SecretError> {
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Secret(bytes))
    }

    /// A secret read from a file or an environment variable: the bytes with one trailing newline
    /// (`\n` or `\r\n`) removed, as a text editor or `echo` leaves it.
    pub fn from_file_bytes(mut bytes: Vec<u8>) -> Result<Secret, SecretError> {
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Secret::new(bytes)
    }

    /// The secret's length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: empty secrets cannot be made.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret([redacted; {} bytes])", self.0.len())
    }
}

/// The two keys of one schema feature, as clkhash derives them.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct FeatureKeys {
    /// First key: BLAKE2b, and HMAC-SHA1 in double hashing.
    pub(crate) a: Vec<u8>,
    /// Second key: HMAC-MD5 in double hashing.
    pub(crate) b: Vec<u8>,
}

impl std::fmt::Debug for FeatureKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeatureKeys([redacted])")
    }
}

impl FeatureKeys {
    /// The key bytes, for known-answer tests against clkhash's derived keys.
    pub fn bytes(&self) -> (&[u8], &[u8]) {
        (&self.a, &self.b)
    }
}

/// Derive clkhash's per-feature key pairs: `num_features` includes ignored features.
pub fn clk_keys(
    secret: &Secret,
    kdf: &Kdf,
    num_features: usize,
) -> Result<Vec<FeatureKeys>, SecretError> {
    let ks = kdf.key_size;
    let len = num_features * 2 * ks;
    let mut okm = Zeroizing::new(vec![0u8; len]);
    let info = kdf.info.as_deref().unwrap_or(&[]);
    let salt = kdf.salt.as_deref();
    let too_long = |max: usize, hash| SecretError::KeyMaterialTooLong {
        wanted: len,
        max,
        hash,
    };
    match kdf.hash {
        KdfHash::Sha256 => Hkdf::<Sha256>::new(salt, secret.expose())
            .expand(info, &mut okm)
            .map_err(|_| too_long(255 * 32, "SHA256"))?,
        KdfHash::Sha512 => Hkdf::<Sha512>::new(salt, secret.expose())
            .expand(info, &mut okm)
            .map_err(|_| too_long(255 * 64, "SHA512"))?,
    }
    Ok((0..num_features)
        .map(|i| FeatureKeys {
            a: okm[2 * i * ks..(2 * i + 1) * ks].to_vec(),
            b: okm[(2 * i + 1) * ks..(2 * i + 2) * ks].to_vec(),
        })
        .collect())
}

/// Purposes of kith's own keys. Each label is fed to HKDF as `info`, so the keys are independent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose<'a> {
    /// Record tokens of one holder.
    RecordToken,
    /// Record tokens of one holder in one run (with a run salt).
    RunRecordToken,
    /// Exact-match tokens of one identifier.
    ExactToken(&'a str),
    /// Blocking tokens of one blocking key.
    BlockToken(&'a str),
    /// Field-level Bloom filters of one key group.
    FieldFilter(&'a str),
    /// The randomised-response (BLIP) stream of one feature's field filter.
    FieldNoise(&'a str),
    /// The streams of one key group's rehashed field filters.
    FieldRehash(&'a str),
    /// The permutation of one key group's balanced field filters.
    FieldBalance(&'a str),
    /// The randomised-response (BLIP) stream of the CLK.
    ClkNoise,
    /// The permutation of a balanced CLK.
    ClkBalance,
    /// The streams of a rehashed CLK.
    ClkRehash,
    /// The permutations of a salted CLK, one per salt value.
    ClkSalt,
    /// Household tokens of one kind (`dwelling`, `register`).
    HouseToken(&'a str),
    /// The key-check value that lets the linkage party see that holders used the same secret.
    KeyCheck,
}

/// Derive a 32-byte kith key for `purpose`, bound to the schema fingerprint.
pub(crate) fn kith_key(
    secret: &Secret,
    fingerprint: &str,
    purpose: Purpose<'_>,
) -> Zeroizing<[u8; 32]> {
    let label = match purpose {
        Purpose::RecordToken => "kith/v1/record-token".to_owned(),
        Purpose::RunRecordToken => "kith/v1/record-token/run".to_owned(),
        Purpose::ExactToken(name) => format!("kith/v1/exact-token/{name}"),
        Purpose::BlockToken(name) => format!("kith/v1/block-token/{name}"),
        Purpose::FieldFilter(group) => format!("kith/v1/field-filter/{group}"),
        Purpose::FieldNoise(feature) => format!("kith/v1/field-noise/{feature}"),
        Purpose::FieldRehash(group) => format!("kith/v1/field-rehash/{group}"),
        Purpose::FieldBalance(group) => format!("kith/v1/field-balance/{group}"),
        Purpose::ClkNoise => "kith/v1/clk-noise".to_owned(),
        Purpose::ClkBalance => "kith/v1/clk-balance".to_owned(),
        Purpose::ClkRehash => "kith/v1/clk-rehash".to_owned(),
        Purpose::ClkSalt => "kith/v1/clk-salt".to_owned(),
        Purpose::HouseToken(name) => format!("kith/v1/house-token/{name}"),
        Purpose::KeyCheck => "kith/v1/key-check".to_owned(),
    };
    let mut out = Zeroizing::new([0u8; 32]);
    let hk = Hkdf::<Sha256>::new(Some(fingerprint.as_bytes()), secret.expose());
    // 32 bytes is always within HKDF-SHA256's limit.
    if hk.expand(label.as_bytes(), out.as_mut()).is_err() {
        unreachable!("HKDF-SHA256 can always produce 32 bytes");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_secret() {
        let s = Secret::new(b"hunter2-very-secret".to_vec()).expect("secret");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let kdf = Kdf {
            hash: KdfHash::Sha256,
            salt: None,
            info: None,
            key_size: 64,
        };
        let keys = clk_keys(&s, &kdf, 1).expect("keys");
        let shown = format!("{keys:?}");
        assert!(!shown.contains(&crate::hex(&keys[0].a[..4])), "{shown}");
    }

    #[test]
    fn one_trailing_newline_is_removed() {
        assert_eq!(
            Secret::from_file_bytes(b"abc\n".to_vec())
                .expect("ok")
                .expose(),
            b"abc"
        );
        assert_eq!(
            Secret::from_file_bytes(b"abc\r\n".to_vec())
                .expect("ok")
                .expose(),
            b"abc"
        );
        assert_eq!(
            Secret::from_file_bytes(b"abc\n\n".to_vec())
                .expect("ok")
                .expose(),
            b"abc\n"
        );
        assert_eq!(
            Secret::from_file_bytes(b"\n".to_vec()).err(),
            Some(SecretError::Empty)
        );
    }

    #[test]
    fn kith_keys_are_separated_by_purpose_and_schema() {
        let s = Secret::new(b"secret".to_vec()).expect("secret");
        let a = kith_key(&s, "sha256:aa", Purpose::RecordToken);
        let b = kith_key(&s, "sha256:aa", Purpose::ExactToken("nhs"));
        let c = kith_key(&s, "sha256:bb", Purpose::RecordToken);
        assert_ne!(*a, *b);
        assert_ne!(*a, *c);
    }
}
