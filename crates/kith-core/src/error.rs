//! The error of reading or writing an encodings file.

/// A problem reading or writing an encodings file.
#[derive(Debug, thiserror::Error)]
pub enum EncodingsError {
    /// An I/O error from the reader or writer the caller handed in.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not what it should be; `line` is 1-based.
    #[error("line {line}: {message}")]
    Format {
        /// 1-based line number.
        line: u64,
        /// What was wrong and what was expected.
        message: String,
    },
}
