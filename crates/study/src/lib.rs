//! Does the search beat chance? A study runs a ProxylessNAS search with several seeds, draws
//! random networks of the same cost (uniformly among the space's networks within a band, by
//! dynamic programming, before any retraining), adds MobileNetV2-style and cheapest/dearest
//! baselines, retrains every network alike with several seeds, and reports the comparison
//! with the one-shot diagnostic (Kendall's τ between supernet and retrained accuracy).
//!
//! - [`StudyConfig`]: the study (TOML), resolved into a [`ResolvedStudy`];
//! - [`Study`]: the run, resumable: `study.json`, `study.md` and `study.html` are rewritten
//!   after every search and every retraining;
//! - [`plan`](plan::plan): the networks, fixed before any retraining.

pub mod config;
mod error;
pub mod plan;
pub mod record;
mod render;
mod run;

pub use config::{ResolvedStudy, StudyConfig};
pub use error::{Error, Result};
pub use record::{NetKind, StudyNet, StudyRecord, Summary};
pub use render::summary_lines;
pub use run::Study;
