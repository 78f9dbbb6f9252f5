//! Errors of reading or writing a run directory: each names the file (and line).

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A file of the run that is missing, unreadable or malformed.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct Error {
    /// The file (with `:line` for a bad line of a JSON-lines file).
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl Error {
    pub(crate) fn new(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Self {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
