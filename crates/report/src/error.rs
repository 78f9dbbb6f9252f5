//! Errors of drawing and reporting: each names the file or what could not be drawn.

use std::path::PathBuf;

/// What stopped a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the run is missing or malformed.
    #[error(transparent)]
    Run(#[from] proxyless_rundir::Error),
    /// The run's space or architecture is malformed.
    #[error("{origin}: {source}")]
    Space {
        /// Which file or text.
        origin: String,
        /// What is wrong.
        source: proxyless_space::Error,
    },
    /// The latency table the run's cost comes from cannot be read.
    #[error("the run's latency table {table}: {source}")]
    Table {
        /// The table's name or path.
        table: String,
        /// What is wrong.
        source: proxyless_latency::Error,
    },
    /// The run has no architecture yet (no epoch finished).
    #[error("{}: no architecture yet (no epoch finished)", run.display())]
    NoArchitecture {
        /// The run directory.
        run: PathBuf,
    },
    /// A picture could not be drawn.
    #[error("cannot draw {what}: {message}")]
    Draw {
        /// The picture.
        what: String,
        /// Why.
        message: String,
    },
    /// The report could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}
