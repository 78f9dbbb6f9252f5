//! Data errors: each names the file and what is wrong with it.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong reading a data set.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error (part of the message, not a separate cause, so that error
        /// chains print it once).
        error: std::io::Error,
    },
    /// A file or directory the data set needs is not there.
    #[error("{}: not found; {hint}", path.display())]
    Missing {
        /// What is missing.
        path: PathBuf,
        /// What it should hold and how to get it.
        hint: String,
    },
    /// A file's contents are not what its format says.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A setting is unusable.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error: source,
        }
    }
}
