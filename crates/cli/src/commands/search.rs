//! `proxyless search`: run (or resume) a ProxylessNAS search.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use proxyless_report::write_run_report;
use proxyless_search::{DEFAULT_CONFIG, Search, SearchConfig};

use crate::backend::Backend;
use crate::output::utc_stamp;

/// Search an architecture on the target task and hardware.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Search configuration (TOML); the built-in default searches the `fmnist` space on
    /// Fashion-MNIST.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory (overrides `data.path`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run directory to create (default: `runs/<space>-<UTC time>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Resume the run in this directory from its newest checkpoint.
    #[arg(long, conflicts_with_all = ["config", "out", "set"])]
    pub resume: Option<PathBuf>,
    /// Override a configuration value, e.g. `--set schedule.epochs=5 --set arch.mode=two`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Stop after this many epochs in total (the run can be resumed later).
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// Stop once this many weight steps are done in all, with a checkpoint inside the epoch
    /// (a few steps of a large search, to try it; the run can be resumed later).
    #[arg(long)]
    pub stop_after_steps: Option<u64>,
    /// Search data-parallel on several devices of the backend: a count (`2`) or a list
    /// (`cuda:0,cuda:1`; wgpu and vulkan also take adapters by kind, `wgpu:default,wgpu:cpu`).
    /// Every batch is split into one shard per device, the gradients summed on the first.
    #[arg(long, value_name = "LIST")]
    pub devices: Option<String>,
}

/// Runs `search` on `backend`.
pub fn run(args: &SearchArgs, backend: Backend, quiet: bool) -> Result<()> {
    let devices = crate::devices::parse(backend, args.devices.as_deref())?;
    let device = devices[0].clone();
    let search = match &args.resume {
        Some(dir) => Search::resume(dir, &device, quiet)?,
        None => {
            let (text, origin) = match &args.config {
                Some(path) => (
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                    path.display().to_string(),
                ),
                None => (
                    DEFAULT_CONFIG.to_string(),
                    "default search config".to_string(),
                ),
            };
            let mut overrides = args.set.clone();
            if let Some(data) = &args.data {
                overrides.push(format!("data.path={:?}", data.display().to_string()));
            }
            let config = SearchConfig::from_toml_with_overrides(&text, &origin, &overrides)?;
            if let Some(wanted) = config.target.cost.strip_prefix("measured:") {
                anyhow::ensure!(
                    wanted == backend.name(),
                    "{origin}: target.cost = \"measured:{wanted}\" profiles the backend the search runs on; run with --backend {wanted} (this run uses {backend})"
                );
            }
            let out = args.out.clone().unwrap_or_else(|| {
                PathBuf::from("runs").join(format!("{}-{}", config.space, utc_stamp()))
            });
            // Before the run directory exists: a refused list writes nothing.
            config.check_devices(devices.len())?;
            Search::create_from(config, &origin, &out, &device, quiet)?
        }
    };
    let search = match args.stop_after_steps {
        Some(n) => search.stop_after_steps(n),
        None => search,
    };
    let search = search.with_devices(&devices)?;
    let dir = search.run_dir().to_path_buf();
    match search.run(args.stop_after)? {
        None => println!(
            "stopped as asked; resume with: proxyless search --resume {}",
            dir.display()
        ),
        Some(outcome) => {
            println!("architecture: {}", outcome.text);
            if let Some((cost, unit)) = &outcome.cost {
                let what = if unit == "ms" { "latency" } else { "cost" };
                println!("predicted {what} of the derived network: {cost:.4} {unit}");
            }
            if let Some(ms) = outcome.measured_latency_ms {
                println!("measured latency of the derived network on {backend}: {ms:.4} ms");
            }
            println!(
                "held-out accuracy (supernet weights): {:.4}; {:.0} s",
                outcome.holdout_accuracy, outcome.seconds
            );
            println!("run directory: {}", outcome.run_dir.display());
            match write_run_report(&outcome.run_dir) {
                Ok(page) => println!("report: {}", page.display()),
                Err(e) => eprintln!("warning: no report: {e}"),
            }
        }
    }
    Ok(())
}
