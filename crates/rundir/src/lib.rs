//! A search run directory, in one place: where each file lies ([`RunFiles`]), what its lines
//! and files hold ([`MetricLine`], [`AlphaLine`], [`Summary`]), and the whole run read back
//! typed ([`RunRecord`]) for reports and later commands. The search driver writes through
//! these types and the report reads through them, so renaming a file or a field is one change
//! that both sides see.
//!
//! ```text
//! RUN/config.toml          the full configuration (resume reads it)
//! RUN/space.toml           the space searched
//! RUN/latency-table.yaml   the table a measured cost was profiled into
//! RUN/metrics.jsonl        one MetricLine per logged step, architecture update and epoch
//! RUN/alpha.jsonl          one AlphaLine (α and p of every block) after each epoch
//! RUN/checkpoints/epoch-N/ supernet weights, optimiser state, search state
//! RUN/final/               architecture.txt, architecture.json, architecture.svg (drawn),
//!                          net.config, summary.json (a Summary)
//! RUN/report/              the HTML report and its pictures
//! ```

mod error;
mod files;
mod read;
mod records;

pub use error::{Error, Result};
pub use files::RunFiles;
pub use read::{RunRecord, RunTarget};
pub use records::{AlphaLine, MemoryLine, MetricLine, Summary};
