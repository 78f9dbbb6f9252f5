//! `proxyless check`: build a network on a backend, compare its weights with the count from its
//! description, and run a forward pass.

use std::time::Instant;

use anyhow::{Result, bail, ensure};
use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Args;
use proxyless_nn::{Network, count_buffers, count_trainable};
use proxyless_space::{NetConfig, TREE_NET_SIDE};

use crate::backend::Backend;
use crate::description::{self, Description};

/// Build the network on a backend, check its parameter count and run a forward pass.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A net.config JSON (either kind) or an architecture (JSON or text).
    pub file: String,
    /// The space of an architecture in text form (preset name or .toml file).
    #[arg(long)]
    pub space: Option<String>,
    /// Input side in pixels (default: the space's; 224 for a net.config).
    #[arg(long)]
    pub resolution: Option<usize>,
    /// Images in the batch.
    #[arg(long, default_value_t = 2)]
    pub batch: usize,
}

/// Runs `check` on `backend`.
pub fn run(args: &CheckArgs, backend: Backend) -> Result<()> {
    let description = description::read(&args.file, args.space.as_deref())?;
    let resolution = args
        .resolution
        .unwrap_or_else(|| description.default_resolution());
    let refusal = description.not_buildable();
    let (spec, params, buffers) = match description {
        Description::Net { spec, .. } => {
            let cost = spec.cost(resolution)?;
            (NetConfig::Mobile(spec), cost.params, cost.buffers)
        }
        Description::TreeNet(net) => {
            ensure!(
                resolution == TREE_NET_SIDE,
                "--resolution {resolution}: a PyramidTreeNet takes {TREE_NET_SIDE}x{TREE_NET_SIDE} \
                 images only (its classifier reads the flattened features)"
            );
            let cost = net.cost(resolution, &args.file)?;
            (NetConfig::Tree(net), cost.params, cost.buffers)
        }
        Description::Space(_) | Description::TreeSpace(_) => {
            bail!("{}: {}", args.file, refusal.unwrap_or_default())
        }
    };
    ensure!(args.batch > 0, "--batch: expected at least 1 image, got 0");
    let device = backend.device()?;
    let net = Network::new(&spec, &args.file, &device)?;
    let (trainable, buffer_values) = (count_trainable(&net), count_buffers(&net));
    ensure!(
        trainable == params && buffer_values == buffers,
        "the built network holds {trainable} parameters and {buffer_values} buffer values, \
         its description {params} and {buffers}"
    );
    let shape = [args.batch, spec.input_channels(), resolution, resolution];
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let start = Instant::now();
    let logits = net.forward(x);
    let finite = logits.clone().is_finite().all().into_scalar::<bool>();
    let elapsed = start.elapsed();
    let dims = logits.dims();
    ensure!(
        dims == [args.batch, spec.num_classes()],
        "expected logits of shape [{}, {}], got {dims:?}",
        args.batch,
        spec.num_classes()
    );
    ensure!(finite, "the forward pass produced non-finite logits");
    println!(
        "{}: backend {backend}, {trainable} parameters (as counted), forward {shape:?} -> {dims:?} \
         finite logits in {:.1} ms",
        args.file,
        elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}
