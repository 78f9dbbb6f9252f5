//! `proxyless parity`: the same supernet, batch and paths on two backends, compared step by
//! step (logits, loss, weight and architecture gradients, an SGD step, inference).

use anyhow::{Result, bail};
use clap::Args;
use proxyless_bench::parity::{ParitySettings, TF32_FORWARD_TOLERANCE, compare_backends};
use proxyless_space::presets;

use crate::backend::Backend;

/// Compare a backend against a reference backend on one supernet step.
#[derive(Debug, Args)]
pub struct ParityArgs {
    /// The reference backend (the compared one is `--backend`).
    #[arg(long, value_enum, default_value = "flex")]
    pub reference: Backend,
    /// The space: a preset name or a .toml file.
    #[arg(long, default_value = "fmnist")]
    pub space: String,
    /// Images in the batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Seed of the input, α and the sampled paths.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Accepted relative difference of forward values (default: 1e-4; 1e-3 when either
    /// backend is cuda, whose f32 matrix products run on TF32 tensor cores).
    #[arg(long)]
    pub forward_tolerance: Option<f64>,
    /// Accepted relative difference of gradients and the optimiser step.
    #[arg(long, default_value_t = ParitySettings::default().gradient_tolerance)]
    pub gradient_tolerance: f64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `parity`; fails when a check is outside its tolerance.
pub fn run(args: &ParityArgs, backend: Backend) -> Result<()> {
    if args.batch < 2 {
        bail!("--batch must be at least 2 (training BatchNorm needs more than one image)");
    }
    let space = presets::resolve(&args.space)?;
    let reference = args.reference.device()?;
    let candidate = backend.device()?;
    let tf32 = [backend, args.reference].contains(&Backend::Cuda);
    let forward_tolerance = match args.forward_tolerance {
        Some(t) => t,
        None if tf32 => {
            eprintln!(
                "cuda computes f32 matrix products on TF32 tensor cores where the GPU has them: \
                 forward values to {TF32_FORWARD_TOLERANCE:e}"
            );
            TF32_FORWARD_TOLERANCE
        }
        None => ParitySettings::default().forward_tolerance,
    };
    let settings = ParitySettings {
        batch: args.batch,
        seed: args.seed,
        forward_tolerance,
        gradient_tolerance: args.gradient_tolerance,
    };
    let report = compare_backends(&space, &reference, &candidate, &settings);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    if !report.passed() {
        bail!(
            "{backend} differs from {} beyond the tolerances (see the checks marked FAILED)",
            args.reference
        );
    }
    Ok(())
}
