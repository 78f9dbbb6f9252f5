//! Fast CPU kernels for the operations of ProxylessNAS networks where Burn's generic
//! implementation is slow, behind backend-generic functions.
//!
//! Burn 0.22's Flex backend has a fast depthwise convolution *forward*, but its backward pass
//! falls back to Burn's generic one: a transposed convolution for the input gradient and, for the
//! weight gradient, one convolution per channel group (hundreds of small convolutions and slice
//! assignments per layer). [`depthwise_conv2d`] routes depthwise convolutions on Flex devices
//! (with or without autodiff) through a backend extension with a hand-written backward: one pass
//! over the output gradient for each of the two gradients. On every other device, and for
//! anything but `f32` or dilation 1, it is Burn's `conv2d`.
//!
//! [`pointwise_conv2d`] does the same for 1x1 convolutions (stride 1, one group), whose
//! backward on Flex is two matrix products instead of Burn's generic convolution backward.
//!
//! Burn's training BatchNorm composes generic operations that transpose the whole activation
//! for each of its reductions. [`batch_norm`] computes it on Flex autodiff devices with two
//! passes for the statistics, one for the output and two for the gradients, and updates the
//! running statistics as Burn's `BatchNorm::forward` does; in inference, and on every other
//! device, it is `BatchNorm::forward`. [`batch_norm_relu6`] also applies ReLU6 in the same
//! kernel: in its output pass, and its gradient in the BatchNorm's backward pass.
//!
//! ```
//! use burn::prelude::*;
//! use burn::tensor::ops::ConvOptions;
//!
//! let device = Device::default();
//! let x = Tensor::<4>::ones([2, 8, 6, 6], &device);
//! let weight = Tensor::<4>::ones([8, 1, 3, 3], &device);
//! let y = proxyless_kernels::depthwise_conv2d(x, weight, ConvOptions::new([1, 1], [1, 1], [1, 1], 8));
//! assert_eq!(y.dims(), [2, 8, 6, 6]);
//! ```

mod activation;
mod batch_norm;
mod depthwise;
#[cfg(feature = "flex")]
mod flex;
mod pointwise;
#[cfg(test)]
mod test_support;

pub use activation::relu6;
pub use batch_norm::{batch_norm, batch_norm_relu6};
pub use depthwise::depthwise_conv2d;
pub use pointwise::pointwise_conv2d;

use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns this crate's kernels on (the default) or off for the whole process; off, every
/// operation is Burn's own, as a reference for comparisons and benchmarks (like PyTorch's
/// `torch.backends.cudnn.enabled`).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether this crate's kernels are on (see [`set_enabled`]).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether this build has any kernel of its own: false without a kernel feature (`flex`).
pub const fn compiled() -> bool {
    cfg!(feature = "flex")
}
