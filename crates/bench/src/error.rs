//! Errors of the benchmarks: what failed, naming the reference script.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What stopped a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The PyTorch reference could not run, failed, or printed no measurement.
    #[error("the PyTorch reference {script}: {message}")]
    Reference {
        /// The reference script.
        script: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    pub(crate) fn reference(script: &str, message: impl Into<String>) -> Self {
        Self::Reference {
            script: script.to_string(),
            message: message.into(),
        }
    }
}
