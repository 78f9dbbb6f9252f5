//! The 1x1 convolution entry point: the fast path where it applies, Burn's otherwise.

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// A 1x1 2-D convolution without bias, stride 1, no padding and one group: `weight` is
/// `[out_channels, in_channels, 1, 1]` and `x` is `[batch, in_channels, height, width]`.
///
/// Computes what `burn::tensor::module::conv2d(x, weight, None, options)` computes for those
/// options, and is differentiable in the same way; on Flex devices its backward pass is two
/// matrix products instead of Burn's generic convolution backward.
///
/// ```
/// use burn::prelude::*;
///
/// let device = Device::default();
/// let x = Tensor::<4>::ones([2, 8, 5, 5], &device);
/// let weight = Tensor::<4>::ones([16, 8, 1, 1], &device);
/// assert_eq!(proxyless_kernels::pointwise_conv2d(x, weight).dims(), [2, 16, 5, 5]);
/// ```
///
/// # Panics
/// If `weight` is not `[_, in_channels, 1, 1]` for the `in_channels` of `x`.
pub fn pointwise_conv2d(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [_, in_channels, _, _] = x.dims();
    let [_, per_group, k_h, k_w] = weight.dims();
    assert!(
        per_group == in_channels && k_h == 1 && k_w == 1,
        "pointwise_conv2d: weight {:?} is not a 1x1 convolution of {in_channels} channels",
        weight.dims()
    );
    #[cfg(feature = "flex")]
    if crate::enabled() && crate::flex::applies(&x, &weight, &options()) {
        return crate::flex::pointwise::pointwise_conv2d(x, weight);
    }
    conv2d(x, weight, None, options())
}

/// The options of a 1x1 convolution: stride 1, no padding, no dilation, one group.
pub(crate) fn options() -> ConvOptions<2> {
    ConvOptions::new([1, 1], [0, 0], [1, 1], 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_close, conv_and_gradients};
    use burn::tensor::Distribution;

    #[test]
    fn matches_burns_convolution_and_its_gradients() {
        let device = Device::flex();
        for (batch, inputs, outputs, side) in
            [(3, 5, 7, 6), (2, 16, 4, 3), (4, 3, 9, 1), (1, 6, 6, 5)]
        {
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<4>::random([batch, inputs, side, side], normal, &device);
            let w = Tensor::<4>::random([outputs, inputs, 1, 1], normal, &device);
            let r = Tensor::<4>::random([batch, outputs, side, side], normal, &device);
            let ours = conv_and_gradients(pointwise_conv2d, &x, &w, &r);
            let burns = conv_and_gradients(|x, w| conv2d(x, w, None, options()), &x, &w, &r);
            for (i, what) in ["output", "input gradient", "weight gradient"]
                .iter()
                .enumerate()
            {
                assert_close(
                    &format!("{what} of {batch}x{inputs}->{outputs} at {side}x{side}"),
                    &ours[i],
                    &burns[i],
                    1e-5,
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "not a 1x1 convolution")]
    fn refuses_a_larger_kernel() {
        let device = Device::flex();
        let x = Tensor::<4>::ones([1, 2, 4, 4], &device);
        let _ = pointwise_conv2d(x, Tensor::<4>::ones([3, 2, 3, 3], &device));
    }
}
