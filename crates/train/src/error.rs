//! Training errors: each names the file or setting at fault.

use std::path::{Path, PathBuf};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong training or evaluating a network.
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
    /// A file of the training directory or a checkpoint could not be read or written.
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
    /// The network description is malformed.
    #[error(transparent)]
    Space(#[from] proxyless_space::Error),
    /// Training diverged.
    #[error("training diverged: {0}")]
    Diverged(String),
}

impl Error {
    /// A configuration error at `origin` (a file or `arguments`).
    pub fn config(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            origin: origin.into(),
            message: message.into(),
        }
    }

    /// A file error.
    pub fn file(path: &Path, message: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.to_path_buf(),
            message: message.to_string(),
        }
    }
}
