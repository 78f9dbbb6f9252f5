//! Errors of reading, writing and applying weights: each names the file and the tensor.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong moving weights between a network and a file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error (part of the message, so that error chains print it once).
        error: std::io::Error,
    },
    /// The file is not a weights file of a supported format.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The weights do not fit the network: keys missing, unexpected or of the wrong shape.
    #[error("{origin}: the weights do not fit the network:\n  {}", problems.join("\n  "))]
    Mismatch {
        /// Where the weights came from.
        origin: String,
        /// Each problem, naming the tensor.
        problems: Vec<String>,
    },
    /// The network has no official PyTorch layout (its BatchNorms are folded).
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            error,
        }
    }

    pub(crate) fn format(path: &std::path::Path, message: impl Into<String>) -> Self {
        Self::Format {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}
