//! `proxyless bench`: the cost of search steps against the child network's training step.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use proxyless_search::bench::{BenchSettings, CASES, CaseTimes, run_case, summarize};
use proxyless_search::progress::Progress;
use proxyless_space::presets;

use crate::backend::Backend;
use crate::output::write_atomic;

/// Time the child network's step, the supernet weight step, the architecture steps and
/// REINFORCE; report images per second, peak memory and ratios to the child step.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Spaces as NAME or NAME@RESOLUTION (default: fmnist, cifar10, imagenet@64, imagenet@128;
    /// with --quick: fmnist).
    #[arg(long = "space", value_name = "SPACE[@RES]")]
    pub spaces: Vec<String>,
    /// Images per step (default: 32, and 16 for the imagenet space).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Timed steps per case.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Untimed steps per case first.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// One small space, 2 timed steps: a quick look.
    #[arg(long)]
    pub quick: bool,
    /// Where to write bench.json and bench.md.
    #[arg(long, default_value = "bench")]
    pub out: PathBuf,
    /// Run only this case in this process and print its measurements as JSON (each case runs
    /// in its own process, so that its peak memory is its own).
    #[arg(long, hide = true)]
    pub case: Option<usize>,
}

/// Runs `bench` on `backend`.
pub fn run(args: &BenchArgs, backend: Backend, quiet: bool) -> Result<()> {
    let device = backend.device()?;
    let spaces: Vec<String> = match (args.spaces.is_empty(), args.quick) {
        (false, _) => args.spaces.clone(),
        (true, true) => vec!["fmnist".into()],
        (true, false) => ["fmnist", "cifar10", "imagenet@64", "imagenet@128"]
            .map(String::from)
            .to_vec(),
    };
    let steps = if args.quick { 2 } else { args.steps };
    let mut reports = Vec::new();
    let mut markdown = format!("# proxyless bench on {backend}\n\n");
    for entry in &spaces {
        let (name, resolution) = match entry.split_once('@') {
            Some((n, r)) => match r.parse::<usize>() {
                Ok(r) if r > 0 => (n, Some(r)),
                _ => bail!("--space {entry}: expected NAME@RESOLUTION with a positive resolution"),
            },
            None => (entry.as_str(), None),
        };
        let mut space = presets::resolve(name)?;
        if let Some(r) = resolution {
            space.input.resolution = r;
        }
        let batch = args
            .batch
            .unwrap_or(if space.name == "imagenet" { 16 } else { 32 });
        if batch < 2 {
            bail!("--batch must be at least 2 (training BatchNorm needs more than one image)");
        }
        let settings = BenchSettings {
            batch,
            warmup: args.warmup,
            steps,
            seed: 0,
        };
        if let Some(case) = args.case {
            anyhow::ensure!(case < CASES.len(), "--case: expected below {}", CASES.len());
            let measured = run_case(&space, &device, &settings, case);
            println!("{}", serde_json::to_string(&measured)?);
            return Ok(());
        }
        let bar = Progress::new(quiet).epoch(entry, CASES.len());
        let mut measured = Vec::new();
        for (i, name) in CASES.iter().enumerate() {
            bar.set_message(name.to_string());
            measured.push(case_in_child(backend, entry, batch, steps, args.warmup, i)?);
            bar.inc(1);
        }
        bar.finish_and_clear();
        let report = summarize(&space, &device, &settings, &measured);
        let table = report.to_markdown();
        println!("{table}");
        markdown.push_str(&table);
        markdown.push('\n');
        reports.push(report);
    }
    std::fs::create_dir_all(&args.out)?;
    let json = serde_json::to_string_pretty(&reports)?;
    write_atomic(&args.out.join("bench.json"), json.as_bytes())?;
    write_atomic(&args.out.join("bench.md"), markdown.as_bytes())?;
    println!("written: {}", args.out.join("bench.md").display());
    Ok(())
}

/// Runs one case in a fresh `proxyless` process and reads its measurements.
fn case_in_child(
    backend: Backend,
    space: &str,
    batch: usize,
    steps: usize,
    warmup: usize,
    case: usize,
) -> Result<CaseTimes> {
    let exe = std::env::current_exe().context("finding the proxyless binary")?;
    let output = std::process::Command::new(exe)
        .args([
            "--quiet",
            "--backend",
            backend.feature(),
            "bench",
            "--space",
            space,
        ])
        .args(["--batch", &batch.to_string(), "--steps", &steps.to_string()])
        .args(["--warmup", &warmup.to_string(), "--case", &case.to_string()])
        .output()
        .context("running a bench case")?;
    if !output.status.success() {
        bail!(
            "bench case '{}' on {space} failed: {}",
            CASES[case],
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "bench case '{}' printed no measurements: {}",
            CASES[case],
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
