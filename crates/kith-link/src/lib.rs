//! The linkage party's library: everything after the holders have encoded, and nothing that needs
//! their secret.
//!
//! One path: [`Dataset`]s (from kith encodings or clkhash-json) → [`link::find_candidates`]
//! (blocking in [`block`], Dice scoring in [`compare`] on the kernels of [`kernel`]) →
//! [`threshold::suggest`] when no threshold was given → [`link::solve`] (greedy solving in
//! [`solve`], entity ids) → outputs; [`evaluate`] scores links against a labelled sample.
//! [`job::LinkJob`] runs that path as `kith link` does; [`families`] and [`identify`] group
//! linked people into families; [`explain`] gives one pair's evidence under a run's model;
//! [`audit`] holds the attacks `kith audit` runs on encodings; [`shard`] splits linkage into
//! groups of records for an engine that spreads the work (the Spark job).
//!
//! This crate depends on `kith-core` (the encodings format, bit vectors, kernels, opaque tokens)
//! and not on `kith`, the holders' crate: a linkage build contains no keyed hash and no key
//! derivation (`.ci/check-wall` fails if one appears), and linkage code cannot name a key type:
//!
//! ```compile_fail
//! // `kith` (with `Secret` and `Encoder`) is not a dependency of the linkage party's crate.
//! fn holds_a_key(_: &kith::Secret) {}
//! ```
pub mod audit;
pub mod block;
pub mod compare;
pub mod dataset;
pub mod disclose;
pub mod evaluate;
pub mod explain;
pub mod families;
pub mod identify;
pub mod input;
pub mod job;
pub mod output;
pub mod partner;
pub mod patterns;
pub mod report;
pub mod shard;
pub use kith_core::kernel;
pub mod link;
pub mod solve;
pub mod threshold;
pub mod weigh;

pub use dataset::Dataset;

/// Errors of the linkage party. Each message is whole (it names the file and line where there is
/// one), so a caller prints it as it is.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// An encodings file could not be read.
    #[error(transparent)]
    Encodings(#[from] kith_core::EncodingsError),
    /// An error in the named file.
    #[error("{}: {error}", path.display())]
    InFile {
        /// The file.
        path: std::path::PathBuf,
        /// What was wrong in it.
        error: Box<LinkError>,
    },
    /// A file could not be opened, read or written.
    #[error("{context}: {error}")]
    Io {
        /// What was being done (`cannot open links/clusters.csv`).
        context: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// Input that cannot be linked.
    #[error("{0}")]
    Input(String),
}

impl LinkError {
    pub(crate) fn io(context: impl Into<String>, error: std::io::Error) -> LinkError {
        LinkError::Io {
            context: context.into(),
            error,
        }
    }

    /// This error, as found in `path`.
    pub fn in_file(self, path: &std::path::Path) -> LinkError {
        LinkError::InFile {
            path: path.to_path_buf(),
            error: Box::new(self),
        }
    }
}
