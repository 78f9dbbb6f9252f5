//! Errors of a search: each names the file or setting and what is wrong.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What stopped a search.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable.
    #[error("{origin}: {message}")]
    Config {
        /// The configuration file (or `arguments`).
        origin: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A file of the run directory could not be read or written.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The data set is missing or malformed.
    #[error(transparent)]
    Data(#[from] proxyless_data::Error),
    /// The space is malformed.
    #[error(transparent)]
    Space(#[from] proxyless_space::Error),
    /// The latency table is malformed or lacks an entry.
    #[error(transparent)]
    Latency(#[from] proxyless_latency::Error),
    /// A file of the run directory could not be read or written.
    #[error(transparent)]
    Run(#[from] proxyless_rundir::Error),
    /// The search's own device could not be profiled into a cached table.
    #[error(transparent)]
    Measured(#[from] proxyless_profiler::CacheError),
    /// Training diverged.
    #[error("training diverged: {0}")]
    Diverged(String),
}

impl Error {
    pub(crate) fn config(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            origin: origin.into(),
            message: message.into(),
        }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
