//! Errors of a study: each names the file or setting and what is wrong.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What stopped a study.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The study's configuration is unusable.
    #[error("{origin}: {message}")]
    Config {
        /// The configuration file (or `arguments`).
        origin: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A file of the study directory could not be read or written.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A search failed.
    #[error(transparent)]
    Search(#[from] proxyless_search::Error),
    /// A retraining failed.
    #[error(transparent)]
    Train(#[from] proxyless_train::Error),
    /// The space or a cost band is unusable.
    #[error(transparent)]
    Space(#[from] proxyless_space::Error),
}

impl Error {
    pub(crate) fn config(origin: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Config {
            origin: origin.into(),
            message: message.to_string(),
        }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
