//! The kernels of `proxyless-kernels` inside a whole network: the gradients of every weight of
//! a child network match those with Burn's own operations (`set_enabled(false)`). Alone in its
//! test binary, because the switch is process-wide.

use burn::module::Module;
use burn::prelude::*;
use proxyless_nn::ProxylessNet;
use proxyless_space::{Architecture, presets};

/// The gradients of the first convolution and of every depthwise convolution after one
/// forward and backward pass, flattened in order.
fn gradients(net: &ProxylessNet, x: &Tensor<4>) -> Vec<Vec<f32>> {
    let logits = net.forward(x.clone());
    let grads = (logits.clone() * logits).mean().backward();
    let values = |w: Tensor<4>| {
        w.grad(&grads)
            .expect("a gradient")
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32")
    };
    let mut out = vec![values(net.first_conv.conv.weight.val())];
    for block in &net.blocks {
        if let Some(op) = &block.mobile_inverted_conv {
            out.push(values(op.depth_conv.conv.weight.val()));
        }
    }
    out
}

#[test]
fn a_network_has_the_same_gradients_with_and_without_the_kernels() {
    let space = presets::load("fmnist").expect("the fmnist preset");
    let arch = Architecture::parse(
        "k3e3 k5e3 | k7e3 zero zero | k5e6 k3e3 zero | k7e3",
        &space,
        "test",
    )
    .expect("a valid architecture");
    let device = Device::flex().autodiff();
    let net = ProxylessNet::new(&arch.to_net_spec(&space), &device);
    let values: Vec<f32> = (0..8 * 28 * 28)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(values, [8, 1, 28, 28]), &device);

    proxyless_kernels::set_enabled(false);
    let burns = gradients(&net, &x);
    proxyless_kernels::set_enabled(true);
    let ours = gradients(&net, &x);
    assert!(burns.len() > 4, "the network has depthwise convolutions");
    for (i, (a, b)) in ours.iter().zip(&burns).enumerate() {
        let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = a
            .iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max);
        assert!(scale > 0.0, "layer {i} has a gradient");
        assert!(
            worst <= 1e-4 * scale,
            "layer {i}: off by {worst} (scale {scale})"
        );
    }
    // The inference network is unchanged by the switch too.
    let valid = net.valid();
    let x = x.inner();
    let y_ours = valid
        .forward(x.clone())
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32");
    proxyless_kernels::set_enabled(false);
    let y_burns = valid
        .forward(x)
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32");
    proxyless_kernels::set_enabled(true);
    for (a, b) in y_ours.iter().zip(&y_burns) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
}
