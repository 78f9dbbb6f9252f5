//! Data-parallel steps (`proxyless_nn::parallel`) against one device: a network without
//! BatchNorm stepped with two shards of b images takes the same weights as with one batch of
//! 2b; with BatchNorm, the running statistics are the mean of the two replicas' updates,
//! computed here independently from each shard's batch statistics. Two handles of Flex, the
//! one CPU device, run the two replicas on two threads.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{ModuleOptimizer, SgdConfig, momentum::MomentumConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use proxyless_nn::parallel::{Shard, descend_sharded};
use proxyless_nn::step::descend;
use proxyless_nn::{ConvBnAct, ConvBnActConfig};

#[derive(Module, Debug)]
struct Tiny {
    conv: Conv2d,
    fc: Linear,
}

impl Tiny {
    fn new(device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([1, 4], [3, 3]).init(device),
            fc: LinearConfig::new(4 * 6 * 6, 10).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = burn::tensor::activation::relu(self.conv.forward(x));
        let [n, c, h, w] = x.dims();
        self.fc.forward(x.reshape([n, c * h * w]))
    }
}

fn sgd() -> ModuleOptimizer {
    SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(0.9)
                .with_dampening(0.0)
                .with_nesterov(true),
        ))
        .init()
}

/// Every float tensor of a module, flattened, in visiting order.
struct Values(Vec<Vec<f32>>);

impl ModuleVisitor for Values {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(
            param
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec()
                .unwrap(),
        );
    }
}

fn values<M: Module>(m: &M) -> Vec<Vec<f32>> {
    let mut v = Values(Vec::new());
    m.visit(&mut v);
    v.0
}

fn batch(step: usize, n: usize, device: &Device) -> Shard {
    device.seed(100 + step as u64);
    let x = Tensor::<4>::random([n, 1, 8, 8], Distribution::Normal(0.0, 1.0), device);
    let labels: Vec<i64> = (0..n).map(|i| ((i * 7 + step * 3) % 10) as i64).collect();
    (x, Tensor::from_ints(labels.as_slice(), device))
}

fn split(shard: Shard, at: usize, devices: [&Device; 2]) -> Vec<Shard> {
    let (x, y) = shard;
    let n = y.dims()[0];
    vec![
        (
            x.clone().slice(0..at).to_device(devices[0]),
            y.clone().slice(0..at).to_device(devices[0]),
        ),
        (
            x.slice(at..n).to_device(devices[1]),
            y.slice(at..n).to_device(devices[1]),
        ),
    ]
}

#[test]
fn two_shards_of_b_step_as_one_batch_of_2b() {
    let device = Device::flex().autodiff();
    let second = Device::flex().autodiff();
    device.seed(7);
    let start = Tiny::new(&device);
    let (mut one, mut two) = (start.clone(), start);
    let (mut optim_one, mut optim_two) = (sgd(), sgd());
    // Uneven shards too (5 + 3): each shard's loss is weighted by its share of the images.
    for (step, at) in [(0, 4), (1, 4), (2, 5)] {
        let (x, y) = batch(step, 8, &device);
        let logits = one.forward(x.clone());
        let (next, stats_one) = descend(one, &mut optim_one, 0.05, logits, y.clone(), 0.1);
        let stats_one = stats_one.read();
        one = next;
        let shards = split((x, y), at, [&device, &second]);
        let (next, stats_two) =
            descend_sharded(two, &mut optim_two, 0.05, shards, 0.1, |m, x| m.forward(x));
        let stats_two = stats_two.read();
        two = next;
        assert_eq!(stats_one.correct, stats_two.correct);
        assert_eq!(stats_one.total, stats_two.total);
        // The mean of two shards' means weighted by size is the batch's mean: a few ulps apart.
        assert!((stats_one.loss - stats_two.loss).abs() < 1e-5 * stats_one.loss.abs());
    }
    // Tolerance: the gradients differ only by the order of their float sums (two partial sums
    // added instead of one), about 1e-7 relative per step in f32; 1e-5 of the largest weight
    // after three momentum steps leaves two orders of magnitude of room and catches a shard
    // weighted wrongly (a factor 2 on half the gradient moves weights by ~1e-3).
    for (a, b) in values(&one).iter().zip(values(&two).iter()) {
        let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-5 * scale, "{x} vs {y}");
        }
    }
    // And the step changed the weights: the comparison is not of two untouched networks.
    let fresh = {
        device.seed(7);
        Tiny::new(&device)
    };
    assert_ne!(values(&fresh), values(&one));
}

#[test]
fn running_statistics_are_the_mean_of_the_replicas_updates() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let layer = ConvBnActConfig::new(2, 3, 1).init(&device);
    let before_mean = layer_running(&layer).0;
    let (x, y) = batch(0, 6, &device);
    let x = x.slice([0..6, 0..1]).repeat_dim(1, 2);
    // The batch statistics of each shard, computed on the host from the convolution's output.
    let shard_means: Vec<Vec<f32>> = [0..3, 3..6]
        .into_iter()
        .map(|r| {
            let conv = layer
                .convolve(x.clone().slice(r))
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let per_channel = conv.len() / 3 / 3;
            (0..3)
                .map(|c| {
                    let mut sum = 0.0f64;
                    for image in 0..3 {
                        let base = (image * 3 + c) * per_channel;
                        sum += conv[base..base + per_channel]
                            .iter()
                            .map(|&v| v as f64)
                            .sum::<f64>();
                    }
                    (sum / (3 * per_channel) as f64) as f32
                })
                .collect()
        })
        .collect();
    let model = Wrapped { layer };
    let shards = split((x, y), 3, [&device, &device]);
    let (model, _) = descend_sharded(model, &mut sgd(), 0.0, shards, 0.0, |m, x| {
        let y = m.layer.forward(x);
        let [n, c, h, w] = y.dims();
        y.reshape([n, c * h * w]).slice([0..n, 0..10])
    });
    let after_mean = layer_running(&model.layer).0;
    let momentum = 0.1f32;
    for c in 0..3 {
        let updates: Vec<f32> = shard_means
            .iter()
            .map(|m| (1.0 - momentum) * before_mean[c] + momentum * m[c])
            .collect();
        let expected = (updates[0] + updates[1]) / 2.0;
        assert!(
            (after_mean[c] - expected).abs() < 1e-5,
            "channel {c}: {} vs {expected} (updates {updates:?})",
            after_mean[c]
        );
    }
}

#[derive(Module, Debug)]
struct Wrapped {
    layer: ConvBnAct,
}

/// Running mean and variance of a layer's BatchNorm.
fn layer_running(layer: &ConvBnAct) -> (Vec<f32>, Vec<f32>) {
    let bn = layer.bn.as_ref().expect("the layer has BatchNorm");
    let read = |t: Tensor<1>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    (
        read(bn.running_mean.value_sync()),
        read(bn.running_var.value_sync()),
    )
}
