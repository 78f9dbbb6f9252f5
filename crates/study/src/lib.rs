//! Does the search beat chance? A study runs a ProxylessNAS search with several seeds, draws
//! random networks of the same cost (uniformly among the space's networks within a band, by
//! dynamic programming, before any retraining), adds MobileNetV2-style and cheapest/dearest
//! baselines, retrains every network alike with several seeds, and reports the comparison
//! with the one-shot diagnostic (Kendall's τ between supernet and retrained accuracy).
//!
//! - [`StudyConfig`]: the study (TOML), resolved into a [`ResolvedStudy`];
//! - [`Study`]: the run, resumable: `study.json`, `study.md` and `study.html` are rewritten
//!   after every search and every retraining;
//! - [`tasks`]: the study as independent tasks (searches, the plan, retrainings) that separate
//!   processes run at once, and [`pool`] to run them with local workers;
//! - [`plan`](plan::plan): the networks, fixed before any retraining.

pub mod config;
mod error;
mod lock;
pub mod plan;
pub mod pool;
pub mod record;
mod render;
mod run;
pub mod slurm;
pub mod tasks;

pub use config::{ResolvedStudy, StudyConfig};
pub use error::{Error, Result};
pub use pool::{Launcher, PoolEvent, run_pool};
pub use record::{NetKind, StudyNet, StudyRecord, Summary};
pub use render::summary_lines;
pub use run::Study;
pub use slurm::{SlurmJobs, write_slurm_jobs};
pub use tasks::{Phase, Task, TaskRun, TaskState};
