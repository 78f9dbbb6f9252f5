//! Measuring latency on the device a search targets: every distinct layer a space can
//! contain, timed on a Burn [`Device`](burn::tensor::Device) into a lookup table in the official
//! key format, and whole networks end to end to check the table's predictions.
//!
//! Timing is inference latency: warm-up runs first, then repeated runs, each ended by
//! synchronising the device so that asynchronous GPU backends are timed honestly.
//!
//! [`ops`] times the layers of one network as a training step runs them (forward and
//! backward), to find where a step's time goes.

mod layers;
pub mod ops;
mod stats;
mod timing;

pub use layers::{MeasuredLayer, space_layers};
pub use stats::{Measurement, kendall_tau, mean_absolute_percentage_error};
pub use timing::{ProfileSettings, measure_forward, measure_net, profile_space, profile_table};
