//! `proxyless bench`: the cost of search steps against the child network's training step.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use proxyless_search::bench::{
    BenchSettings, CASES, CaseTimes, PytorchStep, StepPhases, child_net_config, run_case, summarize,
};
use proxyless_space::presets;
use proxyless_train::progress::Progress;

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
    /// Rounds over every case, each case in a fresh process per round and the order reversed
    /// every other round; the times of all rounds are pooled, so that a slow spell of a
    /// shared machine falls on every case alike (--ops: ignored).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// One small space, one round of 2 timed steps: a quick look.
    #[arg(long)]
    pub quick: bool,
    /// Where to write bench.json and bench.md.
    #[arg(long, default_value = "bench")]
    pub out: PathBuf,
    /// Profile the child network's step layer by layer instead (convolution, BatchNorm,
    /// ReLU6; forward and backward), summed by kind of layer, and the whole step by phase
    /// (forward, backward, optimiser update); with --vs-pytorch, beside PyTorch's times.
    #[arg(long)]
    pub ops: bool,
    /// Also time the child network's step in PyTorch on this machine (needs Python with
    /// torch), so our step is compared with PyTorch's in the same run.
    #[arg(long)]
    pub vs_pytorch: bool,
    /// The Python that runs the PyTorch reference.
    #[arg(long, default_value = "python3")]
    pub python: String,
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
    let rounds = if args.quick { 1 } else { args.rounds.max(1) };
    let mut reports = Vec::new();
    let mut markdown = format!("# proxyless bench on {backend}\n\n");
    for entry in &spaces {
        let space = presets::resolve(entry)?;
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
            rounds,
            seed: 0,
        };
        if args.ops {
            let table = op_profile(args, backend, &space, &settings, &device, quiet)?;
            println!("{table}");
            markdown.push_str(&table);
            markdown.push('\n');
            continue;
        }
        if let Some(case) = args.case {
            anyhow::ensure!(case < CASES.len(), "--case: expected below {}", CASES.len());
            let measured = run_case(&space, &device, &settings, case);
            println!("{}", serde_json::to_string(&measured)?);
            return Ok(());
        }
        let bar = Progress::new(quiet).epoch(entry, CASES.len() * rounds);
        let mut measured = vec![CaseTimes::default(); CASES.len()];
        let mut torch_runs = Vec::new();
        for round in 0..rounds {
            let mut order: Vec<usize> = (0..CASES.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                bar.set_message(format!("{} (round {}/{rounds})", CASES[i], round + 1));
                measured[i].merge(case_in_child(backend, entry, batch, steps, args.warmup, i)?);
                bar.inc(1);
            }
            if args.vs_pytorch {
                bar.set_message(format!("PyTorch (round {}/{rounds})", round + 1));
                torch_runs.push(pytorch_step(
                    backend,
                    &args.python,
                    &space,
                    &settings,
                    &args.out,
                )?);
            }
        }
        bar.finish_and_clear();
        let mut report = summarize(&space, &device, &settings, &measured);
        if !torch_runs.is_empty() {
            report.pytorch = Some(PytorchStep::pooled(torch_runs));
        }
        let table = report.to_markdown();
        println!("{table}");
        markdown.push_str(&table);
        markdown.push('\n');
        reports.push(report);
    }
    std::fs::create_dir_all(&args.out)?;
    if args.ops {
        write_atomic(&args.out.join("ops.md"), markdown.as_bytes())?;
        println!("written: {}", args.out.join("ops.md").display());
        return Ok(());
    }
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
            backend.name(),
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
            "bench case '{}' on {space} failed ({}): {}",
            CASES[case],
            output.status,
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

/// The PyTorch reference scripts, embedded so that the binary runs them from anywhere.
const TORCH_NET: &str = include_str!("../../../../tests/reference/proxyless_torch.py");
const TORCH_BENCH: &str = include_str!("../../../../tests/reference/bench_torch.py");

/// Times the child step in PyTorch: the same network (its net.config is written to `out`),
/// batch shape and step, with as many threads as this machine has cores; on CUDA when our
/// backend runs on a GPU.
fn pytorch_step(
    backend: Backend,
    python: &str,
    space: &proxyless_space::SearchSpace,
    settings: &BenchSettings,
    out: &std::path::Path,
) -> Result<PytorchStep> {
    std::fs::create_dir_all(out)?;
    let config = out.join(format!(
        "{}-{}-child.net.config",
        space.name, space.input.resolution
    ));
    write_atomic(&config, child_net_config(space, settings).as_bytes())?;
    let scripts = tempfile::tempdir().context("a temporary directory for the PyTorch scripts")?;
    std::fs::write(scripts.path().join("proxyless_torch.py"), TORCH_NET)?;
    std::fs::write(scripts.path().join("bench_torch.py"), TORCH_BENCH)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let output = std::process::Command::new(python)
        .arg(scripts.path().join("bench_torch.py"))
        .arg(&config)
        .args(
            [
                space.input.channels,
                space.input.resolution,
                settings.batch,
                settings.warmup,
                settings.steps,
                threads,
            ]
            .map(|v| v.to_string()),
        )
        .arg(if backend.is_gpu() { "cuda" } else { "cpu" })
        .output()
        .with_context(|| format!("--vs-pytorch: cannot run {python}"))?;
    if !output.status.success() {
        bail!(
            "--vs-pytorch: the PyTorch reference failed (needs `{python} -m pip install torch \
             safetensors`): {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "--vs-pytorch: the PyTorch reference printed no measurement: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

const TORCH_OPS: &str = include_str!("../../../../tests/reference/ops_torch.py");

/// Times every convolution layer of the child network here (and in PyTorch with
/// `--vs-pytorch`), and returns a Markdown table summed by kind of layer.
fn op_profile(
    args: &BenchArgs,
    backend: Backend,
    space: &proxyless_space::SearchSpace,
    settings: &BenchSettings,
    device: &burn::prelude::Device,
    quiet: bool,
) -> Result<String> {
    use proxyless_profiler::ops::{network_layers, time_layer};
    let config = child_net_config(space, settings);
    let spec = proxyless_space::NetSpec::from_net_config_str(&config, "the bench's child")?;
    let layers = network_layers(&spec, space.input.resolution);
    let runs = settings.steps.max(3);
    let bar = Progress::new(quiet).epoch("layers", layers.len());
    let ours: Vec<[f64; 3]> = layers
        .iter()
        .map(|l| {
            let t = time_layer(l, settings.batch, device, settings.warmup, runs);
            bar.inc(1);
            [
                t.forward.median,
                t.forward_backward.median,
                t.conv_forward_backward.median,
            ]
        })
        .collect();
    bar.finish_and_clear();
    let theirs: Option<(String, Vec<[f64; 3]>)> = if args.vs_pytorch {
        let json = serde_json::Value::Array(
            layers
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "name": l.name, "in_channels": l.in_channels,
                        "out_channels": l.out_channels, "kernel": l.kernel, "stride": l.stride,
                        "groups": l.groups, "activation": l.activation, "side": l.side,
                    })
                })
                .collect(),
        );
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let scripts = tempfile::tempdir()?;
        let script = scripts.path().join("ops_torch.py");
        std::fs::write(&script, TORCH_OPS)?;
        let mut child = std::process::Command::new(&args.python)
            .arg(&script)
            .args([settings.batch, settings.warmup, runs, threads].map(|v| v.to_string()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("--vs-pytorch: cannot run {}", args.python))?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().context("the reference's input")?;
            stdin.write_all(json.to_string().as_bytes())?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "--vs-pytorch: the PyTorch layer reference failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let value: serde_json::Value = serde_json::from_slice(&output.stdout)
            .context("--vs-pytorch: the PyTorch layer reference printed no JSON")?;
        let times = value["layers"]
            .as_array()
            .context("--vs-pytorch: no layers in the PyTorch reference's output")?
            .iter()
            .map(|l| {
                [
                    "forward_ms",
                    "forward_backward_ms",
                    "conv_forward_backward_ms",
                ]
                .map(|k| l[k].as_f64().unwrap_or(f64::NAN))
            })
            .collect();
        let version = value["torch"].as_str().unwrap_or("?").to_string();
        Some((version, times))
    } else {
        None
    };
    // Sum by kind, in order of first appearance.
    let mut kinds: Vec<(String, usize, [f64; 6])> = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let t = theirs.as_ref().map_or([f64::NAN; 3], |(_, v)| v[i]);
        let o = ours[i];
        let row = [o[0], o[1], o[2], t[0], t[1], t[2]];
        match kinds.iter_mut().find(|(k, _, _)| *k == layer.kind) {
            Some((_, n, sums)) => {
                *n += 1;
                sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
            None => kinds.push((layer.kind.clone(), 1, row)),
        }
    }
    let total = kinds.iter().fold([0.0; 6], |mut acc, (_, _, s)| {
        acc.iter_mut().zip(s).for_each(|(a, v)| *a += v);
        acc
    });
    let torch = theirs
        .as_ref()
        .map_or(String::new(), |(v, _)| format!(", PyTorch {v}"));
    let mut out = format!(
        "`{}` at {}x{}, batch {}, {backend}{torch}: the child `{}` layer by layer (convolution, \
         BatchNorm in training mode, ReLU6), medians of {runs} runs, summed by kind\n\n\
         | layers | count | forward ms | forward+backward ms | of which convolution | PyTorch forward ms | PyTorch forward+backward ms | of which convolution | ours / PyTorch (forward+backward) |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        space.name,
        space.input.resolution,
        space.input.resolution,
        settings.batch,
        proxyless_search::bench::child_text(space, settings),
    );
    let cell = |v: f64| {
        if v.is_nan() {
            "-".to_string()
        } else {
            format!("{v:.2}")
        }
    };
    for (kind, n, s) in
        kinds
            .iter()
            .chain(std::iter::once(&("all".to_string(), layers.len(), total)))
    {
        out.push_str(&format!(
            "| {kind} | {n} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(s[0]),
            cell(s[1]),
            cell(s[2]),
            cell(s[3]),
            cell(s[4]),
            cell(s[5]),
            cell(s[1] / s[4]),
        ));
    }
    out.push('\n');
    out.push_str(&phase_table(args, backend, space, settings, device)?);
    Ok(out)
}

/// The whole child step split into forward (with the loss), backward and update, ours and
/// (with `--vs-pytorch`) PyTorch's, as a Markdown table: what the layer table leaves out.
fn phase_table(
    args: &BenchArgs,
    backend: Backend,
    space: &proxyless_space::SearchSpace,
    settings: &BenchSettings,
    device: &burn::prelude::Device,
) -> Result<String> {
    let ours = proxyless_search::bench::child_step_phases(space, device, settings);
    let theirs = if args.vs_pytorch {
        let step = pytorch_step(backend, &args.python, space, settings, &args.out)?;
        Some(
            step.phases
                .context("--vs-pytorch: the PyTorch reference printed no phases of its step")?,
        )
    } else {
        None
    };
    let mut out = format!(
        "The whole child step by phase (medians of {} steps):\n\n\
         | phase | ours ms | PyTorch ms | ours / PyTorch |\n| --- | --- | --- | --- |\n",
        settings.steps.max(1)
    );
    let rows = |p: &StepPhases| {
        [
            p.forward_ms,
            p.backward_ms,
            p.optimizer_ms,
            p.forward_ms + p.backward_ms + p.optimizer_ms,
        ]
    };
    let names = ["forward and loss", "backward", "optimiser update", "step"];
    let theirs = theirs.as_ref().map(rows);
    for (i, (name, ms)) in names.iter().zip(rows(&ours)).enumerate() {
        let (torch, ratio) = match theirs {
            Some(t) => (format!("{:.1}", t[i]), format!("{:.2}", ms / t[i])),
            None => ("-".into(), "-".into()),
        };
        out.push_str(&format!("| {name} | {ms:.1} | {torch} | {ratio} |\n"));
    }
    Ok(out)
}
