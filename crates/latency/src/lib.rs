//! Latency models for hardware-aware search: lookup tables in the official key format of
//! ProxylessNAS (`mobile_trim.yaml`), predictions of whole networks from them, and the
//! per-candidate cost vectors the search's expected-latency term needs.
//!
//! Tables and predictions are tensor-free; measuring a device lives with the Burn modules.
//!
//! ```
//! use proxyless_latency::{LatencyTable, CostModel};
//! use proxyless_space::presets;
//!
//! let table = LatencyTable::named("pixel1").unwrap();
//! let space = presets::load("imagenet").unwrap();
//! let costs = CostModel::Table(table).candidate_costs(&space).unwrap();
//! assert_eq!(costs.unit, "ms");
//! assert_eq!(costs.blocks.len(), 21);
//! ```

mod correction;
mod error;
mod fit;
mod key;
mod model;
mod table;

pub use correction::NetworkCorrection;
pub use error::{Error, Result};
pub use fit::FittedLatency;
pub use key::LatencyKey;
pub use model::{CostModel, SpaceKeys, net_keys, table_sum};
pub use table::{LatencyEntry, LatencyTable, NAMED_TABLES};
