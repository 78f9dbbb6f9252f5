//! Errors of latency tables: each names the table and the key or field.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong reading or using a latency table.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The table file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error (part of the message, not a separate cause, so that error
        /// chains print it once).
        error: std::io::Error,
    },
    /// The table is not valid YAML of the expected shape, or a value is unusable.
    #[error("{origin}: {message}")]
    Invalid {
        /// The table.
        origin: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A layer the network needs is not in the table.
    #[error("{origin}: no entry for key '{key}'")]
    MissingKey {
        /// The table.
        origin: String,
        /// The missing key, in the official format.
        key: String,
    },
    /// The space or network itself is invalid.
    #[error(transparent)]
    Space(#[from] proxyless_space::Error),
}
