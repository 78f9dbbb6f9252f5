//! One training step and one evaluation of a fixed network, and the pieces the search's steps
//! share with them: batches as tensors, label-smoothed cross-entropy, accuracy.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use proxyless_data::{Batch, Loader};
use proxyless_nn::ProxylessNet;

use crate::metrics::Evaluation;

/// A batch as tensors on `device`: images `[batch, channels, height, width]` and labels.
pub fn batch_tensors(batch: &Batch, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let x = Tensor::<1>::from_floats(batch.images.as_slice(), device).reshape(batch.shape);
    let y = Tensor::<1, Int>::from_ints(batch.labels.as_slice(), device);
    (x, y)
}

/// Loss and accuracy of a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Mean loss of the batch.
    pub loss: f64,
    /// Correctly classified images.
    pub correct: usize,
    /// Images.
    pub total: usize,
}

/// Images of the batch whose top prediction is the label.
pub fn correct(logits: &Tensor<2>, y: &Tensor<1, Int>) -> usize {
    let [n, _] = logits.dims();
    let predicted = logits.clone().argmax(1).reshape([n]);
    predicted.equal(y.clone()).int().sum().into_scalar::<i64>() as usize
}

/// Mean cross-entropy of `logits` against `y`, label-smoothed by `smoothing` when above 0.
pub fn cross_entropy(logits: Tensor<2>, y: Tensor<1, Int>, smoothing: f32) -> Tensor<1> {
    let smoothing = (smoothing > 0.0).then_some(smoothing);
    CrossEntropyLossConfig::new()
        .with_smoothing(smoothing)
        .init(&logits.device())
        .forward(logits, y)
}

/// One training step of `net`: forward, label-smoothed cross-entropy, backward, and an
/// optimiser step at `lr`.
pub fn train_step(
    net: ProxylessNet,
    optim: &mut ModuleOptimizer,
    lr: f64,
    (x, y): (Tensor<4>, Tensor<1, Int>),
    label_smoothing: f32,
) -> (ProxylessNet, StepStats) {
    let total = y.dims()[0];
    let logits = net.forward(x);
    let correct = correct(&logits, &y);
    let loss = cross_entropy(logits, y, label_smoothing);
    let loss_value = loss.clone().into_scalar::<f64>();
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let net = optim.step(lr, net, grads);
    (
        net,
        StepStats {
            loss: loss_value,
            correct,
            total,
        },
    )
}

/// Evaluates `net` in inference mode (BatchNorm on its running statistics, no dropout) on
/// every batch of `loader`, on `device` (an autodiff device is stripped). `on_batch` is
/// called after each batch, for progress.
pub fn evaluate(
    net: &ProxylessNet,
    loader: &Loader,
    device: &Device,
    classes: usize,
    mut on_batch: impl FnMut(),
) -> Evaluation {
    let net = if device.is_autodiff() {
        net.valid()
    } else {
        net.clone()
    };
    let device = device.clone().without_autodiff();
    let mut evaluation = Evaluation::new(classes);
    for batch in loader.epoch(0) {
        let (x, _) = batch_tensors(&batch, &device);
        let logits = net.forward(x);
        let values = logits
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("logits convert to f32");
        evaluation.add(&values, &batch.labels);
        on_batch();
    }
    evaluation
}
