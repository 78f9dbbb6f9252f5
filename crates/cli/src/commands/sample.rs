//! `proxyless sample`: draw random architectures of a space.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use proxyless_space::{Architecture, presets};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::commands::convert::{Format, emit, render};

/// Draw a random architecture of a space (each block uniformly).
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The space: a preset name or a .toml file.
    #[arg(long)]
    pub space: String,
    /// Seed of the random draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The encoding to write.
    #[arg(long, value_enum, default_value = "text")]
    pub to: Format,
    /// Write here instead of standard output (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `sample`.
pub fn run(args: &SampleArgs) -> Result<()> {
    let space = presets::resolve(&args.space)?;
    let arch = Architecture::random(&space, &mut StdRng::seed_from_u64(args.seed));
    let spec = arch.to_net_spec(&space);
    let text = render(args.to, &spec, Some(&(arch, space)))?;
    emit(&text, args.out.as_ref())
}
