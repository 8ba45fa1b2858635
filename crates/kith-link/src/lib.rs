//! The linkage party's library.
pub mod block;
pub mod compare;
pub mod dataset;
pub mod kernel;
pub mod solve;

pub use dataset::Dataset;

/// Errors of the linkage party.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// An encodings file could not be read.
    #[error(transparent)]
    Encodings(#[from] kith::EncodingsError),
    /// Input that cannot be linked.
    #[error("{0}")]
    Input(String),
}
