//! Run plumbing shared by the search, training, export and study crates, with no tensor in
//! sight: [`files`] that are never half-written (atomic writes, JSON lines, run and
//! checkpoint directories), [`checkpoints`] inside epochs that resume exactly,
//! [`progress`] bars with rate and ETA, and the process's resident [`memory`].

pub mod checkpoints;
pub mod files;
pub mod memory;
pub mod progress;

pub use checkpoints::{Cadence, CadenceClock, EpochTotals, LogLengths};
pub use files::{append_json_line, cache_dir, write_atomic};
pub use progress::Progress;
