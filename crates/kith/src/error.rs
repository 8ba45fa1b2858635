//! Error types of the library. Every error says where the problem is: the JSON path of a bad schema
//! field, the feature and value of a bad record field, or the line of a bad encodings file.

use std::fmt;

/// A problem with a linkage schema or a column mapping, with the JSON path of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaError {
    /// JSON path of the bad field, such as `$.features[2].hashing.strategy`.
    pub path: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl SchemaError {
    pub(crate) fn new(path: impl fmt::Display, message: impl Into<String>) -> Self {
        SchemaError {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// A value in a record that the schema does not accept (clkhash would raise `InvalidEntryError`).
///
/// The message never repeats the value itself: errors end up in logs, and values are personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{feature}`: {message}")]
pub struct FieldError {
    /// The schema feature (or exact identifier) whose value was rejected.
    pub feature: String,
    /// Why it was rejected.
    pub message: String,
}

/// A problem with the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The secret has no bytes.
    #[error("the secret is empty")]
    Empty,
    /// A derived key does not fit its hash (for example a BLAKE2b key over 64 bytes).
    #[error("{0}")]
    InvalidKey(String),
    /// Key derivation failed (an HKDF output length beyond 255 hash blocks).
    #[error("cannot derive {wanted} bytes of key material with HKDF-{hash}: at most {max} bytes")]
    KeyMaterialTooLong {
        /// Bytes asked for.
        wanted: usize,
        /// Bytes HKDF can give.
        max: usize,
        /// Hash name.
        hash: &'static str,
    },
}

pub use kith_core::EncodingsError;

/// The columns of an extract do not fit the schema and the holder's column mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LayoutError(pub String);
