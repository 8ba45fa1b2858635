#![doc = include_str!("../README.md")]

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
pub mod profile;
pub mod propose;
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
