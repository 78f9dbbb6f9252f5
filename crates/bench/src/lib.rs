//! What a search step costs and whether backends agree, measured: the benchmarks and checks
//! behind `proxyless bench` and `proxyless parity`, on any Burn device.
//!
//! - [`steps`]: the child network's training step, the supernet's weight step, the
//!   architecture step in each mode and REINFORCE ([`BenchCase`]), timed on one batch with
//!   peak memory, as ratios to the child's step; the child step split into phases;
//! - [`launches`]: the kernels a step launches on a CubeCL device (wgpu, vulkan, cuda);
//! - [`layers`]: every convolution layer of one network timed forward and backward, summed by
//!   kind of layer;
//! - [`pytorch`]: the same step and layers timed by PyTorch on the same machine, from the
//!   reference scripts embedded in this crate;
//! - [`loader`]: the image-folder loader's images per second per core, its stages and peak
//!   memory, and a batch's way to the device;
//! - [`parity`]: the same supernet, batch and paths on two devices, and how far apart their
//!   logits, gradients and updates end up.

mod error;
pub mod launches;
pub mod layers;
pub mod loader;
pub mod parity;
pub mod pytorch;
pub mod steps;

pub use error::{Error, Result};
pub use steps::{BenchCase, BenchReport, BenchSettings, CaseTimes, PytorchStep};
