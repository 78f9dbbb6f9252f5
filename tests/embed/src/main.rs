//! A Burn project that embeds proxyless as a library: its own model with choice blocks over
//! its own candidates, searched with the supernet crate's steps (weight steps on sampled
//! paths, ProxylessNAS-G architecture steps with an expected-cost term), on images it makes
//! itself. It depends on `proxyless-space` and `proxyless-supernet` by path and on nothing
//! else of the project; `cargo xtask test` builds and runs it, and it exits non-zero when the
//! search did not learn.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::SgdConfig;
use burn::prelude::*;
use burn::tensor::activation::relu;
use proxyless_space::CandidateCosts;
use proxyless_supernet::gradient::CostLoss;
use proxyless_supernet::steps::{arch_step, evaluate, weight_step};
use proxyless_supernet::{
    AdamSettings, ArchMode, ArchParams, Candidate, ChoiceBlock, Paths, Searchable,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const WIDTH: usize = 8;
const SIDE: usize = 12;
const CLASSES: usize = 4;
const BATCH: usize = 32;

/// This project's candidates.
#[derive(Module, Debug)]
enum Op {
    /// A 3x3 convolution and ReLU.
    Conv3(Conv2d),
    /// A 3x3 convolution with dilation 2 and ReLU: a 5x5 view at a 3x3 price.
    Dilated(Conv2d),
    /// Nothing: the block is skipped.
    Skip(burn::nn::Identity),
}

impl Candidate<4> for Op {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Op::Conv3(conv) | Op::Dilated(conv) => relu(conv.forward(x)),
            Op::Skip(_) => x.zeros_like(),
        }
    }

    fn is_zero(&self) -> bool {
        matches!(self, Op::Skip(_))
    }
}

/// This project's model: a stem, two choice blocks with shortcuts, a linear head.
#[derive(Module, Debug)]
struct StripeNet {
    stem: Conv2d,
    blocks: Vec<ChoiceBlock<Op>>,
    head: Linear,
}

impl StripeNet {
    fn new(device: &Device) -> Self {
        let conv = |dilation: usize| {
            Conv2dConfig::new([WIDTH, WIDTH], [3, 3])
                .with_dilation([dilation, dilation])
                .with_padding(PaddingConfig2d::Explicit(
                    dilation, dilation, dilation, dilation,
                ))
                .init(device)
        };
        let blocks = (0..2)
            .map(|_| {
                let ops = vec![
                    Op::Conv3(conv(1)),
                    Op::Dilated(conv(2)),
                    Op::Skip(burn::nn::Identity::new()),
                ];
                ChoiceBlock::new(ops, true)
            })
            .collect();
        Self {
            stem: Conv2dConfig::new([1, WIDTH], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            blocks,
            head: LinearConfig::new(WIDTH, CLASSES).init(device),
        }
    }

    /// Multiply-accumulates of each candidate (millions), for the cost term.
    fn costs() -> CandidateCosts {
        let conv = (WIDTH * WIDTH * 9 * SIDE * SIDE) as f64 / 1e6;
        CandidateCosts {
            unit: "MMACs".into(),
            fixed: (WIDTH * 9 * SIDE * SIDE + WIDTH * CLASSES) as f64 / 1e6,
            blocks: vec![vec![conv, conv, 0.0]; 2],
        }
    }
}

impl Searchable for StripeNet {
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

/// A batch of noisy stripe images: class 0 horizontal stripes, 1 vertical, 2 diagonal,
/// 3 a checkerboard, with period 2 or 3 and a random phase.
fn batch(rng: &mut StdRng, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let mut pixels = Vec::with_capacity(BATCH * SIDE * SIDE);
    let mut labels = Vec::with_capacity(BATCH);
    for _ in 0..BATCH {
        let class = rng.random_range(0..CLASSES);
        let period = rng.random_range(2..4);
        let phase = rng.random_range(0..period);
        for r in 0..SIDE {
            for c in 0..SIDE {
                let on = match class {
                    0 => (r + phase) % period == 0,
                    1 => (c + phase) % period == 0,
                    2 => (r + c + phase) % period == 0,
                    _ => ((r / period) + (c / period) + phase) % 2 == 0,
                };
                let noise: f32 = rng.random_range(-0.5..0.5);
                pixels.push(if on { 1.0 } else { 0.0 } + noise);
            }
        }
        labels.push(class as i64);
    }
    let x = Tensor::<1>::from_floats(pixels.as_slice(), device).reshape([BATCH, 1, SIDE, SIDE]);
    (x, Tensor::<1, Int>::from_ints(labels.as_slice(), device))
}

fn main() {
    let device = Device::flex().autodiff();
    device.seed(0);
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = StripeNet::new(&device);
    let mut optim = SgdConfig::new().init();
    let adam = AdamSettings {
        lr: 0.05,
        ..AdamSettings::default()
    };
    let mut arch = ArchParams::new(model.zero_candidates(), 1e-3, adam, &mut rng);
    let costs = StripeNet::costs();
    let cost_loss = CostLoss::AddLinear {
        lambda: 0.01,
        reference: 0.1,
    };
    for step in 0..240 {
        let active = arch.sample_paths(&mut rng);
        model = weight_step(
            model,
            &mut optim,
            0.1,
            &active,
            batch(&mut rng, &device),
            0.0,
        )
        .0;
        if step >= 80 && step % 2 == 1 {
            let held = batch(&mut rng, &device);
            let cost = Some((&costs, cost_loss));
            arch_step(&model, &mut arch, ArchMode::FullV2, cost, held, &mut rng);
        }
    }
    let derived = arch.argmax();
    let held = (0..4).map(|_| batch(&mut rng, &device));
    let stats = evaluate(&model, &derived, held.collect::<Vec<_>>().into_iter());
    let accuracy = stats.correct as f64 / stats.total as f64;
    let names = ["conv3x3", "dilated3x3", "skip"];
    for (b, (choice, p)) in derived.iter().zip(arch.probs()).enumerate() {
        let p: Vec<String> = p.iter().map(|v| format!("{v:.3}")).collect();
        println!("block {b}: {} (p = [{}])", names[*choice], p.join(", "));
    }
    println!("held-out accuracy of the derived network: {accuracy:.3}");
    let moved = arch
        .probs()
        .iter()
        .any(|p| p.iter().any(|&v| (v - 1.0 / 3.0).abs() > 1e-3));
    assert!(moved, "the architecture parameters never moved");
    assert!(
        accuracy > 0.5,
        "the derived network is near chance (0.25): {accuracy}"
    );
}
