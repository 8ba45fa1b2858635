//! The linkage party's library: everything after the holders have encoded, and nothing that needs
//! their secret.
//!
//! One path: [`Dataset`]s (from kith encodings or clkhash-json) → [`link::find_candidates`]
//! (blocking in [`block`], Dice scoring in [`compare`] on the kernels of [`kernel`]) →
//! [`threshold::suggest`] when no threshold was given → [`link::solve`] (greedy solving in
//! [`solve`], entity ids) → outputs; [`evaluate`] scores links against a labelled sample.
//!
//! This crate depends on `kith-core` (the encodings format, bit vectors, kernels, opaque tokens)
//! and not on `kith`, the holders' crate: a linkage build contains no keyed hash and no key
//! derivation (`.ci/check-wall` fails if one appears), and linkage code cannot name a key type:
//!
//! ```compile_fail
//! // `kith` (with `Secret` and `Encoder`) is not a dependency of the linkage party's crate.
//! fn holds_a_key(_: &kith::Secret) {}
//! ```
pub mod block;
pub mod compare;
pub mod dataset;
pub mod evaluate;
pub mod families;
pub use kith_core::kernel;
pub mod link;
pub mod solve;
pub mod threshold;
pub mod weigh;

pub use dataset::Dataset;

/// Errors of the linkage party.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// An encodings file could not be read.
    #[error(transparent)]
    Encodings(#[from] kith_core::EncodingsError),
    /// Input that cannot be linked.
    #[error("{0}")]
    Input(String),
}
