//! BatchNorm, alone or followed by ReLU6: the training forward through the Flex kernels where
//! they apply, Burn's otherwise.

use burn::nn::BatchNorm;
use burn::prelude::*;

#[cfg(feature = "flex")]
use crate::flex::batch_norm::Activation;
use crate::relu6;

/// `bn.forward(x)`, with the same results and the same update of the running statistics; in
/// training on a Flex autodiff device, computed by this crate's kernels (one pass for the
/// statistics, one for the output, two for the gradients) instead of Burn's generic version,
/// which transposes the activation for each reduction.
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if kernel_applies(bn, &x) {
        return training_forward(bn, x, Activation::Identity);
    }
    bn.forward(x)
}

/// [`relu6`]`(bn.forward(x))`; in training on a Flex autodiff device, ReLU6 is applied in the
/// BatchNorm kernel's output pass and its gradient in the kernel's backward pass, so the
/// activation costs no pass, and no tensor, of its own.
pub fn batch_norm_relu6(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if kernel_applies(bn, &x) {
        return training_forward(bn, x, Activation::Relu6);
    }
    relu6(bn.forward(x))
}

/// Whether the kernels compute `bn` on `x`: on, in training, on a Flex autodiff device.
#[cfg(feature = "flex")]
fn kernel_applies(bn: &BatchNorm, x: &Tensor<4>) -> bool {
    crate::enabled()
        && bn.training.is_enabled()
        && x.device().is_autodiff()
        && crate::flex::applies_to(x)
}

#[cfg(feature = "flex")]
fn training_forward(bn: &BatchNorm, x: Tensor<4>, activation: Activation) -> Tensor<4> {
    use crate::flex::batch_norm::{normalize, statistics};
    let device = x.device();
    let [_, channels, _, _] = x.dims();
    let stats = Tensor::from_inner(statistics(x.clone().inner()));
    let output = normalize(
        x,
        bn.gamma.val(),
        bn.beta.val(),
        stats.clone(),
        bn.epsilon,
        activation,
    );
    // As Burn's BatchNorm: running = (1 − momentum)·running + momentum·batch, biased variance.
    let [mean, variance] = [0, 1].map(|row| stats.clone().slice(row..row + 1).reshape([channels]));
    for (running, batch) in [(&bn.running_mean, mean), (&bn.running_var, variance)] {
        let updated = running
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - bn.momentum)
            .add(batch.mul_scalar(bn.momentum));
        running.update(updated.detach());
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::assert_close;
    use burn::module::Param;
    use burn::nn::BatchNormConfig;

    /// Values in `[lo, hi)` from a fixed sequence (the shared RNG is not deterministic while
    /// tests run in parallel).
    fn pseudo_random<const D: usize>(
        shape: [usize; D],
        seed: u32,
        lo: f32,
        hi: f32,
        device: &Device,
    ) -> Tensor<D> {
        let n = shape.iter().product();
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(11);
        let v: Vec<f32> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                lo + (hi - lo) * (state % 10_000) as f32 / 10_000.0
            })
            .collect();
        Tensor::from_data(burn::tensor::TensorData::new(v, shape), device)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().expect("f32 values")
    }

    /// Output, gradients of x, γ and β, and the running statistics after two training steps,
    /// through `forward`.
    fn two_steps(forward: impl Fn(&BatchNorm, Tensor<4>) -> Tensor<4>) -> Vec<Vec<f32>> {
        let device = Device::flex().autodiff();
        let mut bn = BatchNormConfig::new(6)
            .with_momentum(0.1)
            .with_epsilon(1e-3)
            .init(&device);
        bn.gamma = Param::from_tensor(pseudo_random([6], 1, 1.5, 4.0, &device));
        bn.beta = Param::from_tensor(pseudo_random([6], 2, 0.5, 2.5, &device));
        let mut out = Vec::new();
        for step in 0..2 {
            let shape = [4, 6, 5, 3];
            let x = pseudo_random(shape, 3 + step, -4.0, 8.0, &device).require_grad();
            let r = pseudo_random(shape, 5 + step, -1.0, 1.0, &device);
            let y = forward(&bn, x.clone());
            let grads = (y.clone() * r).sum().backward();
            if step == 1 {
                out.push(values(y.inner()));
                out.push(values(x.grad(&grads).expect("x gradient")));
                out.push(values(bn.gamma.val().grad(&grads).expect("γ gradient")));
                out.push(values(bn.beta.val().grad(&grads).expect("β gradient")));
            }
        }
        out.push(values(bn.running_mean.value_sync()));
        out.push(values(bn.running_var.value_sync()));
        out
    }

    #[test]
    fn training_matches_burns_batch_norm_with_its_gradients_and_running_statistics() {
        let names = [
            "output",
            "x gradient",
            "γ gradient",
            "β gradient",
            "running mean",
            "running var",
        ];
        let ours = two_steps(batch_norm);
        let burns = two_steps(|bn, x| bn.forward(x));
        for ((name, a), b) in names.iter().zip(&ours).zip(&burns) {
            assert_close(name, a, b, 1e-5);
        }
        let ours = two_steps(batch_norm_relu6);
        let burns = two_steps(|bn, x| relu6(bn.forward(x)));
        for ((name, a), b) in names.iter().zip(&ours).zip(&burns) {
            assert_close(&format!("{name} with ReLU6"), a, b, 1e-5);
        }
        let clipped = |f: fn(f32) -> bool| ours[0].iter().filter(|&&v| f(v)).count();
        assert!(clipped(|v| v == 0.0) > 0 && clipped(|v| v == 6.0) > 0);
    }

    #[test]
    fn inference_is_burns() {
        let device = Device::flex();
        let bn = BatchNormConfig::new(3).init(&device);
        let x = Tensor::<4>::random(
            [2, 3, 4, 4],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        assert_close(
            "inference output",
            &values(batch_norm(&bn, x.clone())),
            &values(bn.forward(x)),
            0.0,
        );
    }
}
