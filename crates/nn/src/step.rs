//! One optimiser step on a classification loss, the piece that training a network and the
//! search's weight step share: label-smoothed cross-entropy, accuracy, backward, update.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

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

/// The step after `model`'s forward pass gave `logits` for labels `y`: label-smoothed
/// cross-entropy, backward, and one step of `optim` at `lr`. Parameters the forward pass did
/// not use get no gradient, so the optimiser leaves them and their state untouched.
pub fn descend<M: burn::module::Module>(
    model: M,
    optim: &mut ModuleOptimizer,
    lr: f64,
    logits: Tensor<2>,
    y: Tensor<1, Int>,
    label_smoothing: f32,
) -> (M, StepStats) {
    let total = y.dims()[0];
    let correct = correct(&logits, &y);
    let loss = cross_entropy(logits, y, label_smoothing);
    let loss_value = loss.clone().into_scalar::<f64>();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optim.step(lr, model, grads);
    (
        model,
        StepStats {
            loss: loss_value,
            correct,
            total,
        },
    )
}
