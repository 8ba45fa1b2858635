#![doc = include_str!("../../../README.md")]
//!
//! # The library
//!
//! The data path is one straight line:
//!
//! 1. [`Schema::from_json_str`] reads the agreed linkage schema (clkhash v1, v2 or v3, plus kith's
//!    optional `kith` section) and computes its fingerprint.
//! 2. [`Mapping`] and [`Layout`] say which of a holder's CSV columns feed which feature.
//! 3. [`Encoder`] turns one record into its CLK (byte-identical to clkhash 0.18.3), its keyed exact
//!    tokens and its record token. [`normalize`] holds the opt-in normalisers.
//! 4. [`encodings`] writes and reads the file a holder sends to the linkage party.
//!
//! The library does no I/O of its own: callers hand it strings, readers and writers.

pub mod bits;
pub mod datefmt;
pub mod encode;
pub mod encodings;
pub mod error;
mod format;
mod hash;
mod jsonpath;
pub mod keys;
pub mod mapping;
pub mod normalize;
pub mod schema;
mod tokenize;

pub use bits::BitVec;
pub use encode::{
    EncodedRecord, Encoder, EncoderOptions, FieldOutcome, RecordInput, Scratch, Token,
};
pub use error::{EncodingsError, FieldError, LayoutError, SchemaError, SecretError};
pub use keys::Secret;
pub use mapping::{Layout, Mapping};
pub use schema::Schema;

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}
