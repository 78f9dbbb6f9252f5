//! The ProxylessNAS search driver: it combines the supernet, the data, the optimisers and
//! the cost model.
//!
//! - [`SearchConfig`]: the configuration (TOML), defaults from the paper scaled for small data;
//!   [`DEFAULT_CONFIG`] is the default run on Fashion-MNIST;
//! - [`Search`]: warm-up epochs of weight steps, then weight steps alternating with
//!   architecture updates (gradient modes `two`, `full`, `full_v2`, or REINFORCE) on held-out
//!   data; a run directory with the config, metrics, α history, checkpoints and the final
//!   architecture; resume from the newest checkpoint. Its steps are the supernet crate's
//!   ([`proxyless_supernet::steps`]), which models with their own choice blocks use too;
//! - [`Space`]: an MBConv space or a tree-cell space, with its supernet ([`SuperModel`]).

pub mod config;
mod data;
mod driver;
mod error;
mod run_dir;
mod space;

pub use config::{ArchAlgorithm, DEFAULT_CONFIG, SearchConfig, WarmupPaths, WeightInit};
pub use data::{SearchData, data_dir, load_train};
pub use driver::{Search, SearchOutcome, search_costs};
pub use error::{Error, Result};
pub use run_dir::{RunDir, SearchState};
pub use space::{Space, SpaceInput, SuperModel};
