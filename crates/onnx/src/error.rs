//! Errors of building and writing an ONNX model: each names the tensor or the file.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong turning a network into an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor the network needs is missing from the state dict, or has the wrong shape.
    #[error("the weights do not fit the network: {0}")]
    Weights(String),
    /// The network has a part ONNX export does not cover.
    #[error("{0}")]
    Unsupported(String),
    /// ONNX Runtime (the Python script) failed or is missing.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// The model file could not be written or read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        error: std::io::Error,
    },
}
