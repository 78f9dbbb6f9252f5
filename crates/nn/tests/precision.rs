//! Mixed precision: a network fed bf16 images computes its convolutions in bf16 (weights cast
//! where used), BatchNorm and the classifier in f32, and its gradients reach the f32 weights.
//! Whether bf16 training learns as f32 training does is `proxyless-train`'s test
//! (`bf16_training_learns_as_f32_training_does`).

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Distribution, FloatDType};
use proxyless_nn::step::cross_entropy;
use proxyless_nn::{Precision, ProxylessNet};
use proxyless_space::{Architecture, presets};

/// Every weight gradient, flattened in the visiting order, and the gradients' dtypes.
struct Grads<'a> {
    grads: &'a GradientsParams,
    values: Vec<f32>,
    dtypes: Vec<DType>,
}

impl ModuleVisitor for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.dtypes.push(g.dtype());
            self.values.extend(g.into_data().iter::<f32>());
        }
    }
}

/// Logits, and every weight's gradient of the label-smoothed loss with its dtype.
struct Pass {
    logits: Vec<f32>,
    gradients: Vec<f32>,
    dtypes: Vec<DType>,
}

fn pass(net: &ProxylessNet, x: Tensor<4>, y: Tensor<1, Int>) -> Pass {
    let logits = net.forward(x);
    assert_eq!(
        logits.dtype(),
        DType::F32,
        "logits are f32 whatever the images"
    );
    let loss = cross_entropy(logits.clone(), y, 0.1);
    let grads = GradientsParams::from_grads(loss.backward(), net);
    let mut visitor = Grads {
        grads: &grads,
        values: Vec::new(),
        dtypes: Vec::new(),
    };
    net.visit(&mut visitor);
    Pass {
        logits: logits.into_data().iter::<f32>().collect(),
        gradients: visitor.values,
        dtypes: visitor.dtypes,
    }
}

fn relative_error(reference: &[f32], other: &[f32]) -> f64 {
    let diff: f64 = reference
        .iter()
        .zip(other)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum();
    let norm: f64 = reference.iter().map(|a| (*a as f64).powi(2)).sum();
    (diff / norm).sqrt()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
fn bf16_images_give_f32_logits_and_f32_gradients_near_f32s() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let space = presets::load("fmnist").unwrap();
    let spec = Architecture::widest(&space).to_net_spec(&space);
    let net = ProxylessNet::new(&spec, &device);
    let x = Tensor::<4>::random([16, 1, 28, 28], Distribution::Normal(0.0, 1.0), &device);
    let labels: Vec<i64> = (0..16).map(|i| i % 10).collect();
    let y = Tensor::<1, Int>::from_ints(labels.as_slice(), &device);
    let full = pass(&net, x.clone(), y.clone());
    let mixed = pass(&net, Precision::Bf16.images(x), y);
    // Every weight gets an f32 gradient in both.
    assert_eq!(full.dtypes.len(), mixed.dtypes.len());
    assert!(mixed.dtypes.iter().all(|d| *d == DType::F32));
    assert!(mixed.gradients.iter().all(|g| g.is_finite()));
    // bf16 keeps 8 significant bits (a relative rounding of 2^-9); rounded activations over
    // the network's 20-odd layers moved the logits by 2.2% (measured), the bound is 5%. Zero
    // would mean the bf16 path never ran.
    let logits_error = relative_error(&full.logits, &mixed.logits);
    assert!(logits_error > 0.0 && logits_error < 0.05, "{logits_error}");
    // The gradients' errors grow layer by layer backwards from the classifier (0.3% there,
    // 40-60% at the first layers of this freshly initialised network with random labels,
    // whose BatchNorms cancel most of the signal); their direction stays: cosine 0.88
    // measured, bound 0.8. That training learns alike is the training crate's test.
    let cos = cosine(&full.gradients, &mixed.gradients);
    assert!(cos > 0.8, "cosine {cos}");
}

#[test]
fn a_bf16_convolutions_weight_gradient_is_accumulated_in_f32() {
    let device = Device::flex().autodiff();
    device.seed(1);
    // Reductions over 3,136 to 50,176 terms: accumulated in bf16, the error would grow with
    // their length; measured 0.28-0.30% for all three (the rounding of the operands), bound 1%.
    for (n, c, side, k) in [(16, 8, 28, 3), (16, 32, 14, 1), (64, 32, 28, 1)] {
        let x = Tensor::<4>::random([n, c, side, side], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<4>::random([c, c, k, k], Distribution::Normal(0.0, 0.1), &device)
            .require_grad();
        let upstream =
            Tensor::<4>::random([n, c, side, side], Distribution::Normal(0.0, 1.0), &device);
        let options = ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1);
        let weight_gradient = |dtype: FloatDType| -> Vec<f32> {
            let y = conv2d(
                x.clone().cast(dtype),
                w.clone().cast(dtype),
                None,
                options.clone(),
            );
            let grads = (y.cast(FloatDType::F32) * upstream.clone())
                .sum()
                .backward();
            w.grad(&grads).unwrap().into_data().iter::<f32>().collect()
        };
        let error = relative_error(
            &weight_gradient(FloatDType::F32),
            &weight_gradient(FloatDType::BF16),
        );
        assert!(error < 0.01, "[{n}, {c}, {side}, {side}] k{k}: {error}");
    }
}

#[test]
fn f32_is_everywhere_and_bf16_where_the_device_has_it() {
    let device = Device::flex();
    assert!(Precision::F32.check(&device).is_ok());
    assert!(
        Precision::Bf16.check(&device).is_ok(),
        "flex computes in bf16"
    );
    let x = Tensor::<4>::zeros([1, 1, 2, 2], &device);
    assert_eq!(Precision::F32.images(x.clone()).dtype(), DType::F32);
    assert_eq!(Precision::Bf16.images(x).dtype(), DType::BF16);
}
