//! One training step and one evaluation of a fixed network, and batches as tensors (which
//! the search's steps use too).

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use proxyless_data::{Batch, Loader};
use proxyless_nn::ProxylessNet;
use proxyless_nn::step::{StepStats, descend};

use crate::metrics::Evaluation;

/// A batch as tensors on `device`: images `[batch, channels, height, width]` and labels.
pub fn batch_tensors(batch: &Batch, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let x = Tensor::<1>::from_floats(batch.images.as_slice(), device).reshape(batch.shape);
    let y = Tensor::<1, Int>::from_ints(batch.labels.as_slice(), device);
    (x, y)
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
    let logits = net.forward(x);
    descend(net, optim, lr, logits, y, label_smoothing)
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
