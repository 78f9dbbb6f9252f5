//! Helpers of this crate's tests.

use burn::prelude::*;

/// Output, input gradient and weight gradient of `sum(conv(x, w) · r)` on a Flex autodiff
/// device.
pub fn conv_and_gradients(
    conv: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
    x: &Tensor<4>,
    w: &Tensor<4>,
    r: &Tensor<4>,
) -> [Vec<f32>; 3] {
    let device = Device::flex().autodiff();
    let x = Tensor::from_data(x.to_data(), &device).require_grad();
    let w = Tensor::from_data(w.to_data(), &device).require_grad();
    let y = conv(x.clone(), w.clone());
    let grads = (y.clone() * Tensor::from_data(r.to_data(), &device))
        .sum()
        .backward();
    let values = |t: Tensor<4>| t.into_data().try_into_vec::<f32>().expect("f32 values");
    [
        values(y.inner()),
        values(x.grad(&grads).expect("input gradient")),
        values(w.grad(&grads).expect("weight gradient")),
    ]
}

/// Asserts that `a` is within `tolerance` of `b`, relative to `b`'s largest value (at least 1).
pub fn assert_close(what: &str, a: &[f32], b: &[f32], tolerance: f32) {
    assert_eq!(a.len(), b.len(), "{what}");
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max);
    assert!(
        worst <= tolerance * scale,
        "{what}: off by {worst} (scale {scale})"
    );
}
