//! `proxyless study`: searched networks against random networks of the same cost, all
//! retrained alike.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use proxyless_study::{Study, StudyConfig, summary_lines};

use crate::backend::Backend;
use crate::output::utc_stamp;

/// Does the search beat chance? Search with several seeds, draw random networks within a band
/// of each searched cost, add uniform and cheapest/dearest baselines, retrain all alike.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// Study configuration (TOML; `configs/study/fmnist.toml` is the benchmark's); the
    /// built-in default studies the default search with 2 search seeds, 3 random networks
    /// per search, ±5% cost band and 2 training seeds.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a study value, e.g. `--set random_per_search=5 --set train_epochs=3`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Data directory of the searches and retrainings (overrides the search's `data.path`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Study directory to create (default: `runs/study-<space>-<UTC time>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Resume the study in this directory where it stopped.
    #[arg(long, conflicts_with_all = ["config", "set", "out", "data"])]
    pub resume: Option<PathBuf>,
    /// With --resume: search with these further seeds (e.g. `2,3`), draw their random
    /// networks, and retrain those too, keeping everything the study has done.
    #[arg(long, requires = "resume", value_delimiter = ',', value_name = "SEEDS")]
    pub add_search_seeds: Vec<u64>,
}

/// Runs `study` on `backend`.
pub fn run(args: &StudyArgs, backend: Backend, quiet: bool) -> Result<()> {
    let device = backend.device()?;
    let study = match &args.resume {
        Some(dir) => {
            let mut study = Study::resume(dir, &device, quiet)?;
            if !args.add_search_seeds.is_empty() {
                study.add_search_seeds(&args.add_search_seeds)?;
            }
            study
        }
        None => {
            let (text, origin, base) = match &args.config {
                Some(path) => (
                    std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                    path.display().to_string(),
                    path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                ),
                None => (String::new(), "default study".into(), PathBuf::from(".")),
            };
            let mut config = StudyConfig::from_toml_with_overrides(&text, &origin, &args.set)?;
            if let Some(data) = &args.data {
                let path = toml::Value::String(data.display().to_string());
                config.search_set.push(format!("data.path={path}"));
            }
            let resolved = config.resolve(&base, &origin)?;
            let out = args.out.clone().unwrap_or_else(|| {
                PathBuf::from("runs").join(format!(
                    "study-{}-{}",
                    resolved.search.space,
                    utc_stamp()
                ))
            });
            if !quiet {
                eprintln!("study on {backend} into {}", out.display());
            }
            Study::create(resolved, &out, backend.name(), &device, quiet)?
        }
    };
    let record = study.run()?;
    for line in summary_lines(&record) {
        println!("{line}");
    }
    let dir = args.resume.clone().or(args.out.clone());
    if let Some(dir) = dir {
        println!("study: {}", dir.join("study.html").display());
    }
    Ok(())
}
