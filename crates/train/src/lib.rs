//! Training a fixed ProxylessNAS network from scratch, as the paper retrains the searched
//! architecture: Nesterov SGD with momentum 0.9, cosine learning rate per iteration after a
//! linear warm-up, label smoothing, weight decay except on BatchNorm, dropout before the
//! classifier ([`TrainConfig`]). Each epoch ends with a top-1/top-5 evaluation on the test
//! split and a checkpoint ([`Checkpoint`]) from which a run resumes and which `eval` and
//! `export` read.
//!
//! The search driver shares this crate's [`steps`] (batches as tensors, the label-smoothed
//! loss) and [`schedule`].
//!
//! ```no_run
//! use burn::prelude::*;
//! use proxyless_space::{presets, Architecture};
//! use proxyless_train::{TrainConfig, Trainer};
//!
//! let space = presets::load("fmnist")?;
//! let spec = Architecture::widest(&space).to_net_spec(&space);
//! let config = TrainConfig::default_recipe();
//! let outcome = Trainer::new(spec, config, "runs/train".as_ref(), &Device::default(), false)?
//!     .run()?;
//! println!("top-1 {:.4}", outcome.test.top1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checkpoint;
mod config;
mod error;
pub mod metrics;
pub mod schedule;
pub mod steps;
mod trainer;

pub use checkpoint::{Checkpoint, EvalSummary, TrainState};
pub use config::{
    DEFAULT_CONFIG, OptimConfig, Precision, TrainConfig, TrainDataConfig, check_shards,
};
pub use error::{Error, Result};
pub use metrics::Evaluation;
pub use trainer::{TrainOutcome, Trainer, batch_norm_ids, load_data};
