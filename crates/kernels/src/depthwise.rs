//! The depthwise convolution entry point: the fast path where it applies, Burn's otherwise.

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// A depthwise 2-D convolution without bias: `weight` is `[channels, 1, k_h, k_w]`, `x` is
/// `[batch, channels, height, width]` and `options.groups` equals `channels`.
///
/// Computes what `burn::tensor::module::conv2d(x, weight, None, options)` computes, and is
/// differentiable in the same way; on Flex devices its backward pass uses direct kernels
/// instead of Burn's per-group loop.
///
/// # Panics
/// If `weight` is not `[channels, 1, _, _]` for the `channels` of `x` and `options.groups`.
pub fn depthwise_conv2d(x: Tensor<4>, weight: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
    let [_, channels, _, _] = x.dims();
    let [out_channels, per_group, _, _] = weight.dims();
    assert!(
        out_channels == channels && per_group == 1 && options.groups == channels,
        "depthwise_conv2d: weight {:?} and groups {} do not describe a depthwise convolution of {channels} channels",
        weight.dims(),
        options.groups
    );
    #[cfg(feature = "flex")]
    if crate::enabled() && crate::flex::applies(&x, &weight, &options) {
        return crate::flex::depthwise_conv2d(x, weight, options);
    }
    conv2d(x, weight, None, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assert_close, conv_and_gradients};
    use burn::tensor::Distribution;

    #[test]
    fn matches_burns_grouped_convolution_and_its_gradients() {
        let device = Device::flex();
        for (side, kernel, stride, padding) in [
            (9, 3, 1, [(1, 1), (1, 1)]),
            (8, 5, 2, [(2, 2), (2, 2)]),
            (7, 7, 2, [(3, 3), (3, 3)]),
            (6, 3, 1, [(0, 2), (1, 0)]),
        ] {
            let channels = 5;
            let options = ConvOptions::new_with_padding([stride; 2], padding, [1, 1], channels);
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<4>::random([3, channels, side, side], normal, &device);
            let w = Tensor::<4>::random([channels, 1, kernel, kernel], normal, &device);
            let reference = |x, w| conv2d(x, w, None, options.clone());
            let out_shape = reference(x.clone(), w.clone()).dims();
            let r = Tensor::<4>::random(out_shape, normal, &device);

            let ours =
                conv_and_gradients(|x, w| depthwise_conv2d(x, w, options.clone()), &x, &w, &r);
            let burns = conv_and_gradients(reference, &x, &w, &r);
            for (what, a, b) in [
                ("output", 0, 0),
                ("input gradient", 1, 1),
                ("weight gradient", 2, 2),
            ] {
                assert_close(
                    &format!("{what} of k{kernel} s{stride} {padding:?}"),
                    &ours[a],
                    &burns[b],
                    1e-5,
                );
            }
        }
    }

    #[test]
    fn the_flex_kernels_take_flex_devices_with_or_without_autodiff() {
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 4);
        for device in [Device::flex(), Device::flex().autodiff()] {
            let x = Tensor::<4>::zeros([1, 4, 5, 5], &device);
            let w = Tensor::<4>::zeros([4, 1, 3, 3], &device);
            assert!(crate::flex::applies(&x, &w, &options), "{device:?}");
        }
        let dilated = ConvOptions::new([1, 1], [2, 2], [2, 2], 4);
        let device = Device::flex();
        let x = Tensor::<4>::zeros([1, 4, 5, 5], &device);
        let w = Tensor::<4>::zeros([4, 1, 3, 3], &device);
        assert!(!crate::flex::applies(&x, &w, &dilated));
    }

    #[test]
    #[should_panic(expected = "do not describe a depthwise convolution")]
    fn a_grouped_convolution_is_refused() {
        let device = Device::flex();
        let x = Tensor::<4>::zeros([1, 4, 5, 5], &device);
        let w = Tensor::<4>::zeros([4, 2, 3, 3], &device);
        depthwise_conv2d(x, w, ConvOptions::new([1, 1], [1, 1], [1, 1], 2));
    }
}
