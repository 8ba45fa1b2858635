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
//! The library does no I/O of its own: callers hand it strings, readers and writers. Its only
//! `unsafe` code is in [`kernel`]: SIMD kernels chosen at run time for the encoder's OR of token
//! bits, the CSV reader's comma search and the linkage party's popcounts.
//!
//! ```
//! use kith::{Encoder, EncoderOptions, Layout, RecordInput, Schema, Scratch, Secret};
//!
//! let schema = Schema::from_json_str(r#"{
//!     "version": 3,
//!     "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
//!     "features": [
//!         {"identifier": "name", "format": {"type": "string"},
//!          "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 20}}}],
//!     "kith": {"version": 1, "normalize": {"name": "name"}}
//! }"#)?;
//! // A holder whose CSV calls the column `forename`:
//! let mapping = kith::Mapping::from_json_str(r#"{"kith_mapping": 1, "columns": {"name": "forename"}}"#)?;
//! let layout = Layout::resolve(&schema, Some(&mapping), None, &["id", "forename"])?;
//!
//! let secret = Secret::new(b"shared only among the data holders".to_vec())?;
//! let encoder = Encoder::new(&schema, &secret, "council", &EncoderOptions::default())?;
//! let mut scratch = Scratch::default();
//!
//! let mut clk_of = |row: &[&str]| {
//!     let (mut features, mut exact) = (Vec::new(), Vec::new());
//!     layout.extract(row, &mut features, &mut exact);
//!     let input = RecordInput { features: &features, exact: &exact, local_id: Some(row[0]) };
//!     encoder.encode(&mut scratch, &input).map(|r| r.clk.clone())
//! };
//! let a = clk_of(&["17", "Zoë"])?;
//! let b = clk_of(&["18", " ZOE "])?;
//! assert_eq!(a.len(), 128); // 1,024 bits
//! assert_eq!(a, b); // normalisation made the two spellings one
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod blocking;
pub mod datefmt;
pub mod encode;
pub mod error;
mod format;
#[doc(hidden)]
pub mod fuzzing;
mod hash;
mod jsonpath;
pub mod keys;
pub mod mapping;
pub mod normalize;
pub mod schema;
mod tokenize;

pub use encode::{
    EncodedRecord, Encoder, EncoderOptions, FieldOutcome, RecordInput, Scratch, Token,
};
pub use error::{EncodingsError, FieldError, LayoutError, SchemaError, SecretError};
pub use keys::Secret;
pub use kith_core::{BitVec, bits, encodings, hex, kernel, push_hex};
pub use mapping::{Layout, Mapping};
pub use schema::Schema;
