//! Embedding choice blocks in your own Burn model: a small network whose blocks choose among
//! user-defined candidates (3x3 conv, 5x5 conv, average pooling, skip), searched with the same
//! weight and architecture steps and latency term as the built-in supernet, on synthetic data.
//!
//! Run it with `cargo run --release -p proxyless-search --example custom_choice_blocks`.

use std::sync::Arc;

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::SgdConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;
use proxyless_data::{Loader, Normalize, synthetic};
use proxyless_space::CandidateCosts;
use proxyless_supernet::gradient::CostLoss;
use proxyless_supernet::steps::{arch_step, evaluate, weight_step};
use proxyless_supernet::{
    AdamSettings, ArchMode, ArchParams, Candidate, ChoiceBlock, Paths, Searchable,
};
use proxyless_train::steps::batch_tensors;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The candidates of this model's choice blocks.
#[derive(Module, Debug)]
pub enum Op {
    /// 3x3 convolution and ReLU.
    Conv3(Conv2d),
    /// 5x5 convolution and ReLU.
    Conv5(Conv2d),
    /// 3x3 average pooling.
    Pool(AvgPool2d),
    /// Nothing: the block is skipped.
    Skip(burn::nn::Identity),
}

impl Candidate<4> for Op {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Op::Conv3(conv) | Op::Conv5(conv) => relu(conv.forward(x)),
            Op::Pool(pool) => pool.forward(x),
            Op::Skip(_) => x.zeros_like(),
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self, Op::Skip(_))
    }
}

/// A user model: a stem, three choice blocks with residual shortcuts, a linear head.
#[derive(Module, Debug)]
pub struct TinyNet {
    stem: Conv2d,
    blocks: Vec<ChoiceBlock<Op>>,
    head: Linear,
}

const WIDTH: usize = 12;

impl TinyNet {
    fn new(device: &Device) -> Self {
        let conv = |k: usize| {
            Conv2dConfig::new([WIDTH, WIDTH], [k, k])
                .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
                .init(device)
        };
        let blocks = (0..3)
            .map(|_| {
                let pool = AvgPool2dConfig::new([3, 3])
                    .with_strides([1, 1])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init();
                ChoiceBlock::new(
                    vec![
                        Op::Conv3(conv(3)),
                        Op::Conv5(conv(5)),
                        Op::Pool(pool),
                        Op::Skip(burn::nn::Identity::new()),
                    ],
                    true,
                )
            })
            .collect();
        Self {
            stem: Conv2dConfig::new([1, WIDTH], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            blocks,
            head: LinearConfig::new(WIDTH, 4).init(device),
        }
    }

    /// What each candidate costs, in millions of multiply-accumulates on 12x12 inputs.
    fn costs() -> CandidateCosts {
        let conv = |k: usize| (WIDTH * WIDTH * k * k * 12 * 12) as f64 / 1e6;
        CandidateCosts {
            unit: "MMACs".into(),
            fixed: (WIDTH * 9 * 144 + WIDTH * 4) as f64 / 1e6,
            blocks: vec![vec![conv(3), conv(5), (WIDTH * 9 * 144) as f64 / 1e6, 0.0]; 3],
        }
    }
}

impl Searchable for TinyNet {
    fn zero_candidates(&self) -> Vec<Vec<bool>> {
        self.blocks
            .iter()
            .map(|b| b.zero_candidates::<4>())
            .collect()
    }

    fn forward_paths(&self, x: Tensor<4>, paths: &Paths<4>) -> Tensor<2> {
        let mut x = relu(self.stem.forward(x));
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x, paths, i);
        }
        let [n, c, _, _] = x.dims();
        self.head.forward(x.mean_dim(3).mean_dim(2).reshape([n, c]))
    }
}

/// Searches `TinyNet` for a few epochs; returns the derived choice of every block and the
/// held-out accuracy of the derived network.
pub fn search(epochs: u64) -> (Vec<usize>, Vec<Vec<f64>>, f64) {
    let device = Device::default().autodiff();
    device.seed(0);
    let config = synthetic::SyntheticConfig {
        classes: 4,
        per_class: 64,
        channels: 1,
        size: 12,
        noise: 0.1,
    };
    let set = synthetic::generate(&config, 1);
    let (train, held) = set.split_holdout(64, 0).expect("enough images");
    let norm = Normalize::from_set(&train);
    let train = Loader::new(Arc::new(train), 32, norm.clone()).with_drop_last(true);
    let held = Loader::new(Arc::new(held), 32, norm).with_drop_last(true);

    let mut model = TinyNet::new(&device);
    let mut optim = SgdConfig::new().init();
    let mut rng = StdRng::seed_from_u64(0);
    let adam = AdamSettings {
        lr: 0.02,
        ..AdamSettings::default()
    };
    let mut arch = ArchParams::new(model.zero_candidates(), 1e-3, adam, &mut rng);
    let costs = TinyNet::costs();
    let loss = CostLoss::AddLinear {
        lambda: 0.05,
        reference: 1.0,
    };
    for epoch in 0..epochs {
        let mut arch_batches = held.epoch(epoch);
        for (i, batch) in train.epoch(epoch).enumerate() {
            let active = arch.sample_paths(&mut rng);
            model = weight_step(
                model,
                &mut optim,
                0.05,
                &active,
                batch_tensors(&batch, &device),
                0.0,
            )
            .0;
            if epoch > 0
                && i % 2 == 1
                && let Some(b) = arch_batches.next()
            {
                arch_step(
                    &model,
                    &mut arch,
                    ArchMode::Two,
                    Some((&costs, loss)),
                    batch_tensors(&b, &device),
                    &mut rng,
                );
            }
        }
    }
    let derived = arch.argmax();
    let stats = evaluate(
        &model,
        &derived,
        held.epoch(0).map(|b| batch_tensors(&b, &device)),
    );
    (
        derived,
        arch.probs(),
        stats.correct as f64 / stats.total as f64,
    )
}

fn main() {
    let (derived, probs, accuracy) = search(6);
    let names = ["conv3x3", "conv5x5", "avgpool", "skip"];
    for (b, (choice, p)) in derived.iter().zip(&probs).enumerate() {
        let p: Vec<String> = p.iter().map(|v| format!("{v:.3}")).collect();
        println!("block {b}: {} (p = [{}])", names[*choice], p.join(", "));
    }
    println!("held-out accuracy of the derived network: {accuracy:.3}");
}

#[test]
fn the_example_searches_a_user_model() {
    let (derived, probs, accuracy) = search(6);
    assert_eq!(derived.len(), 3);
    for p in &probs {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(p.iter().any(|&v| (v - 0.25).abs() > 1e-3), "α moved: {p:?}");
    }
    assert!(
        accuracy > 0.25,
        "the derived network beats chance: {accuracy}"
    );
}
