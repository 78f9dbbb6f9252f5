//! The error type of this crate: every message names where the bad input came from.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while reading or checking a space, an architecture or a `net.config`.
///
/// `origin` is the file the input came from (or a description such as `preset 'imagenet'`),
/// `field` the path of the offending value inside it (`blocks[3].mobile_inverted_conv.stride`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error (part of the message, not a separate cause, so that error
        /// chains print it once).
        error: std::io::Error,
    },
    /// The text is not valid TOML or does not have the expected structure.
    #[error("{origin}: invalid TOML: {message}")]
    Toml {
        /// Where the text came from.
        origin: String,
        /// The parser's message, with the line and the key.
        message: String,
    },
    /// The text is not valid JSON or does not have the expected structure.
    #[error("{origin}: {field}: {message}")]
    Json {
        /// Where the text came from.
        origin: String,
        /// Path of the value inside the document (`.` for the whole document).
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// The input parsed but a value is not acceptable.
    #[error("{origin}: {field}: {message}")]
    Invalid {
        /// Where the input came from.
        origin: String,
        /// The offending field.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
}

impl Error {
    /// An [`Error::Invalid`] for `field` of `origin`.
    pub fn invalid(
        origin: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            origin: origin.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error: source,
        }
    }
}

/// Reads a file to a string, naming the file on error.
pub(crate) fn read_to_string(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Parses JSON into `T`, reporting the path of a bad value.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        Error::Json {
            origin: origin.to_string(),
            field,
            message: inner.to_string(),
        }
    })?;
    de.end().map_err(|e| Error::Json {
        origin: origin.to_string(),
        field: ".".into(),
        message: e.to_string(),
    })?;
    Ok(value)
}
