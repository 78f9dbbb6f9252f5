//! `proxyless latency`: profile a backend into a lookup table, predict and measure networks,
//! and validate the table's predictions against end-to-end measurements.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use burn::tensor::Device;
use clap::{Args, Subcommand};
use proxyless_latency::{CostModel, LatencyTable, table_sum};
use proxyless_plumbing::progress::Progress;
use proxyless_profiler::{
    ProfileSettings, TableOrigin, here, kendall_tau, mean_absolute_percentage_error, measure_net,
    measure_nets,
};
use proxyless_space::{Architecture, SearchSpace, presets};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use crate::backend::Backend;
use crate::description;
use crate::output::{print_stdout, write_atomic};

/// Latency tables: profile, predict, measure, validate.
#[derive(Debug, Args)]
pub struct LatencyArgs {
    #[command(subcommand)]
    command: LatencyCommand,
}

#[derive(Debug, Subcommand)]
enum LatencyCommand {
    /// Time every distinct layer of a space on the backend into a table (official key format).
    Profile(ProfileArgs),
    /// The cheapest and dearest architectures of a space on a table (the feasible targets).
    Range(RangeArgs),
    /// Predict a network's latency as the sum of a table's entries.
    Predict(PredictArgs),
    /// Time a whole network end to end on the backend.
    Measure(MeasureArgs),
    /// Predict and measure random architectures: MAPE, Kendall's tau and a scatter plot.
    Validate(ValidateArgs),
}

/// Timing options shared by the commands that measure.
#[derive(Debug, Args)]
struct TimingArgs {
    /// Images per forward pass.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Untimed rounds before timing.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Timed rounds: samples of every layer or network.
    #[arg(long, default_value_t = 100)]
    runs: usize,
    /// Forward passes per sample between two synchronisations (default: 10 on GPU backends,
    /// 1 on CPU backends).
    #[arg(long)]
    group: Option<usize>,
    /// Whole networks measured after profiling to fit the table's whole-network correction
    /// (0: none, predictions are the plain sum of the entries).
    #[arg(long, default_value_t = 12)]
    calibration: usize,
}

impl TimingArgs {
    fn settings(&self, device: &Device) -> Result<ProfileSettings> {
        ensure!(self.batch > 0, "--batch: expected at least 1 image, got 0");
        ensure!(self.runs > 0, "--runs: expected at least 1 run, got 0");
        ensure!(
            self.group != Some(0),
            "--group: expected at least 1 pass, got 0"
        );
        Ok(ProfileSettings {
            batch: self.batch,
            warmup: self.warmup,
            runs: self.runs,
            group: self
                .group
                .unwrap_or_else(|| ProfileSettings::group_for(device)),
            calibration: self.calibration,
        })
    }
}

#[derive(Debug, Args)]
struct ProfileArgs {
    /// The space: a preset name or a .toml file.
    #[arg(long)]
    space: String,
    #[command(flatten)]
    timing: TimingArgs,
    /// Where to write the table (YAML).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct PredictArgs {
    #[command(flatten)]
    network: description::NetworkArgs,
    #[command(flatten)]
    table: TableArgs,
    /// Print `{"latency_ms": ...}`.
    #[arg(long)]
    json: bool,
}

/// A latency table named on the command line, and whether to fill its gaps by a fit.
#[derive(Debug, Args)]
struct TableArgs {
    /// The table: a named one (`pixel1`) or a YAML file.
    #[arg(long)]
    table: String,
    /// Predict MBConv blocks the table lacks by a linear fit of its entries (MACs and
    /// activation sizes) instead of failing on the first missing key.
    #[arg(long)]
    fallback: bool,
}

#[derive(Debug, Args)]
struct RangeArgs {
    /// The space: a preset name or a .toml file.
    #[arg(long)]
    space: String,
    #[command(flatten)]
    table: TableArgs,
    /// Print `{"min_ms": ..., "max_ms": ..., ...}`.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct MeasureArgs {
    #[command(flatten)]
    network: description::NetworkArgs,
    #[command(flatten)]
    timing: TimingArgs,
    /// Print `{"latency_ms": ...}`.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// The space: a preset name or a .toml file.
    #[arg(long)]
    space: String,
    /// Random architectures to predict and measure.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// Seed of the architectures.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Use this table instead of profiling the backend first.
    #[arg(long)]
    table: Option<String>,
    #[command(flatten)]
    timing: TimingArgs,
    /// Where to draw the predicted-vs-measured scatter plot (SVG).
    #[arg(long, default_value = "latency-validation.svg")]
    plot: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `latency` on `backend`.
pub fn run(args: &LatencyArgs, backend: Backend, quiet: bool) -> Result<()> {
    match &args.command {
        LatencyCommand::Profile(a) => profile(a, backend, quiet),
        LatencyCommand::Range(a) => range(a),
        LatencyCommand::Predict(a) => predict(a, backend),
        LatencyCommand::Measure(a) => measure(a, backend),
        LatencyCommand::Validate(a) => validate(a, backend, quiet),
    }
}

/// Profiles `space` on `backend` into a table (layers, then the whole-network correction).
fn profile_table(
    space: &SearchSpace,
    backend: Backend,
    settings: &ProfileSettings,
    name: &str,
    quiet: bool,
) -> Result<LatencyTable> {
    let device = backend.device()?;
    let bar = Progress::new(quiet).epoch("profile", 0);
    let table = proxyless_profiler::profile_table(
        space,
        &device,
        settings,
        &TableOrigin::new(backend.name()),
        name,
        |phase, done, total| {
            bar.set_length(total as u64);
            bar.set_message(format!("{phase} (round {done}/{total})"));
            bar.set_position(done as u64);
        },
    );
    bar.finish_and_clear();
    Ok(table)
}

/// Warns on standard error of every way `table` was measured elsewhere than `backend` here.
fn warn_if_elsewhere(table: &LatencyTable, backend: Backend) {
    for line in table.differences_from(&here(backend.name())) {
        eprintln!("warning: {line}");
    }
}

fn profile(args: &ProfileArgs, backend: Backend, quiet: bool) -> Result<()> {
    let space = presets::resolve(&args.space)?;
    let table = profile_table(
        &space,
        backend,
        &args.timing.settings(&backend.device()?)?,
        &args.out.display().to_string(),
        quiet,
    )?;
    write_atomic(&args.out, table.to_yaml().as_bytes())?;
    println!(
        "{}: {} entries measured on {backend} (batch {})",
        args.out.display(),
        table.len(),
        args.timing.batch
    );
    if let Some(c) = table.correction() {
        println!(
            "whole-network correction: {:.4} ms + {:.4} x sum + {:.4} ms per layer, fitted to {} networks (MAPE {:.1}%)",
            c.overhead_ms,
            c.scale,
            c.per_layer_ms,
            c.networks,
            c.fit_mape * 100.0
        );
    }
    Ok(())
}

fn predict(args: &PredictArgs, backend: Backend) -> Result<()> {
    let (spec, resolution) = args.network.load()?;
    let table = args.table.load()?;
    warn_if_elsewhere(&table, backend);
    let ms = CostModel::Table(table).predict(&spec, resolution)?;
    let text = if args.json {
        format!(
            "{}\n",
            json!({"latency_ms": ms, "resolution": resolution, "table": args.table.table})
        )
    } else {
        format!(
            "{}: predicted {ms:.4} ms ({})\n",
            args.network.file, args.table.table
        )
    };
    print_stdout(&text)
}

impl TableArgs {
    /// The table, with the fitted fallback when `--fallback` asks for it.
    fn load(&self) -> Result<LatencyTable> {
        let table = LatencyTable::resolve(&self.table)?;
        if !self.fallback {
            return Ok(table);
        }
        let table = table.with_fitted_fallback()?;
        if let Some(fit) = table.fallback() {
            eprintln!(
                "fallback: ms = {:.4} + {:.4}/MMAC + {:.4}/M elements, fitted to {} blocks (MAPE {:.1}%)",
                fit.coefficients[0],
                fit.coefficients[1],
                fit.coefficients[2],
                fit.entries,
                fit.mape * 100.0
            );
        }
        Ok(table)
    }
}

fn range(args: &RangeArgs) -> Result<()> {
    let space = presets::resolve(&args.space)?;
    let table = args.table.load()?;
    let costs = CostModel::Table(table).candidate_costs(&space)?;
    let (cheapest, dearest) = (costs.cheapest(), costs.dearest());
    let text_of = |indices: &[usize]| -> Result<String> {
        Ok(Architecture::from_indices(&space, indices, &args.table.table)?.to_text(&space))
    };
    let (cheapest, dearest) = (text_of(&cheapest)?, text_of(&dearest)?);
    let (low, high) = (costs.of(&costs.cheapest()), costs.of(&costs.dearest()));
    let text = if args.json {
        format!(
            "{}\n",
            json!({"min_ms": low, "max_ms": high, "cheapest": cheapest,
                   "dearest": dearest, "table": args.table.table, "space": space.name})
        )
    } else {
        format!(
            "{} on {}: {low:.4} ms ({}) to {high:.4} ms ({})\n",
            space.name, args.table.table, cheapest, dearest
        )
    };
    print_stdout(&text)
}

fn measure(args: &MeasureArgs, backend: Backend) -> Result<()> {
    let (spec, resolution) = args.network.load()?;
    let device = backend.device()?;
    let settings = args.timing.settings(&device)?;
    let m = measure_net(&spec, resolution, &device, &settings);
    let text = if args.json {
        format!(
            "{}\n",
            json!({"latency_ms": m.trimmed_mean, "mean_ms": m.mean, "median_ms": m.median, "std_ms": m.std, "runs": m.count,
                   "batch": settings.batch, "resolution": resolution, "backend": backend.to_string()})
        )
    } else {
        format!(
            "{}: {:.4} ms (trimmed mean), {:.4} ms mean, {:.4} ms median, std {:.4} over {} runs (batch {}, {backend})\n",
            args.network.file, m.trimmed_mean, m.mean, m.median, m.std, m.count, settings.batch
        )
    };
    print_stdout(&text)
}

fn validate(args: &ValidateArgs, backend: Backend, quiet: bool) -> Result<()> {
    ensure!(
        args.samples >= 2,
        "--samples: expected at least 2 architectures, got {}",
        args.samples
    );
    let space = presets::resolve(&args.space)?;
    let device = backend.device()?;
    let settings = args.timing.settings(&device)?;
    let table = match &args.table {
        Some(t) => {
            let table = LatencyTable::resolve(t)?;
            warn_if_elsewhere(&table, backend);
            table
        }
        None => profile_table(
            &space,
            backend,
            &settings,
            &format!("profile of {} on {backend}", space.name),
            quiet,
        )?,
    };
    let resolution = space.input.resolution;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let specs: Vec<_> = (0..args.samples)
        .map(|_| Architecture::random(&space, &mut rng).to_net_spec(&space))
        .collect();
    let model = CostModel::Table(table.clone());
    let predicted = specs
        .iter()
        .map(|spec| model.predict(spec, resolution))
        .collect::<proxyless_latency::Result<Vec<f64>>>()?;
    let plain = specs
        .iter()
        .map(|spec| Ok(table_sum(&table, spec, resolution)?.0))
        .collect::<proxyless_latency::Result<Vec<f64>>>()?;
    // Two measuring passes: their mean is the measurement, their disagreement the noise
    // floor a prediction error is read against.
    let passes: Vec<Vec<f64>> = (1..=2)
        .map(|pass| {
            let bar = Progress::new(quiet).epoch(&format!("measure {pass}/2"), 0);
            let times = measure_nets(&specs, resolution, &device, &settings, |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            });
            bar.finish_and_clear();
            times.iter().map(|m| m.trimmed_mean).collect()
        })
        .collect();
    let measured: Vec<f64> = passes[0]
        .iter()
        .zip(&passes[1])
        .map(|(a, b)| (a + b) / 2.0)
        .collect();
    let repeat_mape = passes[0]
        .iter()
        .zip(&passes[1])
        .map(|(a, b)| (a - b).abs() / ((a + b) / 2.0))
        .sum::<f64>()
        / args.samples as f64;
    let repeat_tau = kendall_tau(&passes[0], &passes[1]);
    let mape = mean_absolute_percentage_error(&predicted, &measured);
    let plain_mape = mean_absolute_percentage_error(&plain, &measured);
    let tau = kendall_tau(&predicted, &measured);
    let title = format!(
        "{} on {backend}, batch {}: MAPE {:.1}%, Kendall tau {:.3} ({} architectures)",
        space.name,
        settings.batch,
        mape * 100.0,
        tau,
        args.samples
    );
    write_atomic(
        &args.plot,
        scatter_svg(&title, &predicted, &measured).as_bytes(),
    )
    .with_context(|| format!("cannot draw {}", args.plot.display()))?;
    let text = if args.json {
        format!(
            "{}\n",
            json!({"mape": mape, "kendall_tau": tau, "samples": args.samples,
                   "uncorrected_mape": plain_mape,
                   "correction": table.correction().map(|c| json!({"overhead_ms": c.overhead_ms,
                       "scale": c.scale, "per_layer_ms": c.per_layer_ms, "networks": c.networks,
                       "fit_mape": c.fit_mape})),
                   "repeat_mape": repeat_mape, "repeat_kendall_tau": repeat_tau,
                   "batch": settings.batch, "resolution": resolution, "backend": backend.name(),
                   "predicted_ms": predicted, "measured_ms": measured,
                   "measured_passes_ms": passes, "plot": args.plot.display().to_string()})
        )
    } else {
        format!(
            "{title}\nplain sum of the entries: MAPE {:.1}%\nrepeatability (two measuring passes): \
             {:.1}% apart, Kendall tau {:.3}\nplot: {}\n",
            plain_mape * 100.0,
            repeat_mape * 100.0,
            repeat_tau,
            args.plot.display()
        )
    };
    print_stdout(&text)
}

/// A predicted-vs-measured scatter plot with the y = x line.
fn scatter_svg(title: &str, predicted: &[f64], measured: &[f64]) -> String {
    let (w, h, pad) = (520.0, 520.0, 60.0);
    let max = predicted
        .iter()
        .chain(measured)
        .copied()
        .fold(0.0f64, f64::max)
        * 1.05;
    let min = predicted
        .iter()
        .chain(measured)
        .copied()
        .fold(f64::INFINITY, f64::min)
        * 0.95;
    let span = (max - min).max(1e-9);
    let x = |v: f64| pad + (v - min) / span * (w - 2.0 * pad);
    let y = |v: f64| h - pad - (v - min) / span * (h - 2.0 * pad);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="13">{title}</text>
<line x1="{pad}" y1="{}" x2="{}" y2="{}" stroke="black"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{}" stroke="black"/>
<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="gray" stroke-dasharray="4 4"/>
<text x="{}" y="{}" text-anchor="middle">predicted (ms)</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">measured (ms)</text>
"#,
        w / 2.0,
        h - pad,
        w - pad,
        h - pad,
        h - pad,
        x(min),
        y(min),
        x(max),
        y(max),
        w / 2.0,
        h - 18.0,
        h / 2.0,
        h / 2.0,
    );
    for tick in 0..=4 {
        let v = min + span * tick as f64 / 4.0;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{v:.3}</text><text x="{}" y="{:.1}" text-anchor="end">{v:.3}</text>"#,
            x(v),
            h - pad + 16.0,
            pad - 6.0,
            y(v) + 4.0
        );
    }
    for (p, m) in predicted.iter().zip(measured) {
        let _ = writeln!(
            svg,
            r#"<circle class="point" cx="{:.1}" cy="{:.1}" r="4" fill="steelblue"/>"#,
            x(*p),
            y(*m)
        );
    }
    svg.push_str("</svg>\n");
    svg
}
