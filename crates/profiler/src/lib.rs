//! Measuring latency on the device a search targets: every distinct layer a space can
//! contain, timed on a Burn [`Device`](burn::tensor::Device) into a lookup table in the official
//! key format, and whole networks end to end to check the table's predictions.
//!
//! Timing is inference latency: warm-up rounds first, then repeated rounds in which every
//! layer (or network) gives one sample, each ended by synchronising the device so that
//! asynchronous GPU backends are timed honestly. A table also carries a whole-network
//! correction fitted to a few networks measured end to end ([`calibrate`]), and a header that
//! says where it was measured ([`machine_meta`]).
//!
//! [`measured_table`] profiles the device a search runs on once and caches the table.

mod cache;
mod calibration;
mod layers;
mod machine;
mod stats;
mod timing;

pub use cache::{CacheError, measured_table};
pub use calibration::{calibrate, calibration_networks};
pub use layers::{MeasuredLayer, space_layers};
pub use machine::{backend_label, build_id, cpu_threads, here, machine_meta, utc_stamp};
pub use proxyless_plumbing::cache_dir;
pub use stats::{Measurement, kendall_tau, mean_absolute_percentage_error};
pub use timing::{
    ProfileSettings, TableOrigin, measure_forward, measure_net, measure_nets, profile_space,
    profile_table, time_interleaved,
};
