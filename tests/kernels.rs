//! The kernels of `proxyless-kernels` inside a whole network: every weight gradient of a child
//! network, and its inference output after a training step (BatchNorm's running statistics),
//! match those with Burn's own operations (`set_enabled(false)`). Alone in its test binary,
//! because the switch is process-wide.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::Gradients;
use proxyless_nn::ProxylessNet;
use proxyless_space::{Architecture, presets};

/// Every gradient of a module's float parameters, in visiting order.
struct CollectGradients<'a> {
    grads: &'a Gradients,
    out: Vec<Vec<f32>>,
}

impl ModuleVisitor for CollectGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = param.val().grad(self.grads) {
            self.out
                .push(g.into_data().try_into_vec::<f32>().expect("f32"));
        }
    }
}

/// The network, images and labels of the tests: an fmnist child with every kernel size.
struct Setup {
    spec: proxyless_space::NetSpec,
    net: ProxylessNet,
    images: Tensor<4>,
    labels: Tensor<1, Int>,
}

impl Setup {
    fn new() -> Self {
        let space = presets::load("fmnist").expect("the fmnist preset");
        let arch = Architecture::parse(
            "k3e3 k5e3 | k7e3 zero zero | k5e6 k3e3 zero | k7e3",
            &space,
            "test",
        )
        .expect("a valid architecture");
        let spec = arch.to_net_spec(&space);
        let device = Device::flex().autodiff();
        // Fixed weights: how far the gradients may move (the noise floor) depends on them.
        device.seed(7);
        let net = ProxylessNet::new(&spec, &device);
        let batch = 16;
        let labels: Vec<i64> = (0..batch as i64).map(|i| i % 10).collect();
        Setup {
            net,
            spec,
            images: images(batch, 0.0, &device),
            labels: Tensor::from_data(TensorData::new(labels, [batch]), &device),
        }
    }

    /// A fresh copy of the network (clones share BatchNorm's running statistics).
    fn fresh_net(&self) -> ProxylessNet {
        ProxylessNet::new(&self.spec, &self.images.device())
            .load_record(self.net.clone().into_record())
    }

    /// One training forward and backward of a fresh copy on `images`: every weight gradient,
    /// and the copy's inference logits afterwards.
    fn step(&self, images: &Tensor<4>) -> (Vec<Vec<f32>>, Vec<f32>) {
        let net = self.fresh_net();
        let logits = net.forward(images.clone());
        let loss = CrossEntropyLossConfig::new()
            .init(&images.device())
            .forward(logits, self.labels.clone());
        let grads = loss.backward();
        let mut collect = CollectGradients {
            grads: &grads,
            out: Vec::new(),
        };
        net.visit(&mut collect);
        let logits = net.valid().forward(images.clone().inner());
        (
            collect.out,
            logits.into_data().try_into_vec::<f32>().expect("f32"),
        )
    }
}

/// A fixed batch of images, each value scaled by `1 + perturbation·k` for a small pattern of k.
fn images(batch: usize, perturbation: f32, device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..batch * 28 * 28)
        .map(|i| {
            let v = ((i * 37 % 101) as f32 - 50.0) / 25.0;
            v * (1.0 + perturbation * ((i % 7) as f32 - 3.0))
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [batch, 1, 28, 28]), device)
}

fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (*p as f64 - *q as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn norm(a: &[f32]) -> f64 {
    a.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn a_network_has_the_same_gradients_and_statistics_with_and_without_the_kernels() {
    let setup = Setup::new();
    proxyless_kernels::set_enabled(false);
    let (burns, burns_logits) = setup.step(&setup.images);
    // The noise floor: how far Burn's own gradients move when the images move by a few parts
    // in 10⁶ (six patterns; through training-mode BatchNorm some gradients move by 1%).
    let noisy: Vec<Vec<Vec<f32>>> = [1e-6, 3e-6, -2e-6, -1e-6, 2e-6, -3e-6]
        .iter()
        .map(|p| setup.step(&images(16, *p, &setup.images.device())).0)
        .collect();
    proxyless_kernels::set_enabled(true);
    let (ours, our_logits) = setup.step(&setup.images);

    assert!(
        burns.len() > 40,
        "every weight has a gradient: {}",
        burns.len()
    );
    assert_eq!(ours.len(), burns.len());
    for (i, (a, b)) in ours.iter().zip(&burns).enumerate() {
        // Within 10⁻⁴ of the gradient's size, or within twice the noise floor (gradients that
        // are rounding noise, such as the shift of a BatchNorm that a linear layer and another
        // BatchNorm follow, differ entirely).
        let floor = noisy.iter().map(|n| distance(&n[i], b)).fold(0.0, f64::max);
        let off = distance(a, b);
        assert!(
            off <= (1e-4 * norm(b)).max(2.0 * floor),
            "parameter {i}: off by {off:.3e} (size {:.3e}, noise floor {floor:.3e})",
            norm(b)
        );
    }
    // After one training step, the running statistics give the same inference logits.
    let off = distance(&our_logits, &burns_logits) / norm(&burns_logits);
    assert!(off <= 1e-5, "inference logits after a step: {off:.3e}");

    // The inference network is unchanged by the switch.
    let valid = setup.net.valid();
    let x = setup.images.clone().inner();
    let values = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().expect("f32");
    let ours = values(valid.forward(x.clone()));
    proxyless_kernels::set_enabled(false);
    let burns = values(valid.forward(x));
    proxyless_kernels::set_enabled(true);
    for (a, b) in ours.iter().zip(&burns) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
}
