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

/// A step's loss and correct answers, left on the device: a run reads those of many steps to
/// the host in one transfer ([`read_stats`]) instead of two at every step, each of which would
/// make the host wait for a GPU to finish its queue.
#[derive(Debug, Clone)]
pub enum PendingStats {
    /// Still on the device: the mean loss `[1]` and the correct answers `[1]` (boxed: a
    /// tensor handle is large), the images.
    Device(Box<(Tensor<1>, Tensor<1, Int>)>, usize),
    /// Already on the host (a step whose values were read anyway).
    Host(StepStats),
}

impl PendingStats {
    /// Reads this step's values (one transfer).
    pub fn read(self) -> StepStats {
        read_stats(vec![self]).pop().expect("one step")
    }
}

/// Reads the values of `pending` steps, in order, in one transfer per device: the same values
/// a read at each step gives (an f32 loss widened to f64, a count).
pub fn read_stats(pending: Vec<PendingStats>) -> Vec<StepStats> {
    let on_device: Vec<Tensor<1>> = pending
        .iter()
        .filter_map(|p| match p {
            PendingStats::Device(values, _) => {
                let (loss, correct) = values.as_ref();
                let correct = correct.clone().float().to_device(&loss.device());
                Some(Tensor::cat(vec![loss.clone(), correct], 0))
            }
            PendingStats::Host(_) => None,
        })
        .collect();
    let mut values = if on_device.is_empty() {
        Vec::new()
    } else {
        Tensor::cat(on_device, 0)
            .into_data()
            .iter::<f64>()
            .collect()
    }
    .into_iter();
    pending
        .into_iter()
        .map(|p| match p {
            PendingStats::Host(stats) => stats,
            PendingStats::Device(_, total) => {
                let loss = values.next().expect("a loss per step");
                let correct = values.next().expect("a count per step") as usize;
                StepStats {
                    loss,
                    correct,
                    total,
                }
            }
        })
        .collect()
}

/// Images of the batch whose top prediction is the label.
pub fn correct(logits: &Tensor<2>, y: &Tensor<1, Int>) -> usize {
    correct_on_device(logits, y).into_scalar::<i64>() as usize
}

/// Images of the batch whose top prediction is the label, as a tensor `[1]` on the device.
pub fn correct_on_device(logits: &Tensor<2>, y: &Tensor<1, Int>) -> Tensor<1, Int> {
    let [n, _] = logits.dims();
    let predicted = logits.clone().argmax(1).reshape([n]);
    predicted.equal(y.clone()).int().sum()
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
/// not use get no gradient, so the optimiser leaves them and their state untouched. The loss
/// and the correct answers stay on the device (nothing in the step waits for it).
pub fn descend<M: burn::module::Module>(
    model: M,
    optim: &mut ModuleOptimizer,
    lr: f64,
    logits: Tensor<2>,
    y: Tensor<1, Int>,
    label_smoothing: f32,
) -> (M, PendingStats) {
    let total = y.dims()[0];
    let correct = correct_on_device(&logits, &y);
    let loss = cross_entropy(logits, y, label_smoothing);
    let stats = PendingStats::Device(Box::new((loss.clone().detach(), correct)), total);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optim.step(lr, model, grads);
    (model, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_together_read_as_each_alone() {
        let device = Device::flex();
        let pending = |loss: f32, correct: i64, total| {
            let values = (
                Tensor::from_floats([loss], &device),
                Tensor::from_ints([correct], &device),
            );
            PendingStats::Device(Box::new(values), total)
        };
        let host = StepStats {
            loss: 0.25,
            correct: 3,
            total: 4,
        };
        let steps = vec![
            pending(1.734_567, 7, 64),
            PendingStats::Host(host),
            pending(0.1, 64, 64),
        ];
        let alone: Vec<StepStats> = steps.iter().cloned().map(PendingStats::read).collect();
        let together = read_stats(steps);
        assert_eq!(together, alone);
        assert_eq!(together[0].loss, 1.734_567f32 as f64);
        assert_eq!((together[0].correct, together[0].total), (7, 64));
        assert_eq!(together[1], host);
        assert_eq!(together[2].correct, 64);
        assert!(read_stats(Vec::new()).is_empty());
    }
}
