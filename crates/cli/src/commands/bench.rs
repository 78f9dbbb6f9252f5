//! `proxyless bench`: the cost of search steps against the child network's training step.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use proxyless_bench::layers::{LayerMs, layer_table, network_layers, time_layer};
use proxyless_bench::pytorch::{pytorch_layers, pytorch_step, pytorch_supernet_step};
use proxyless_bench::steps::{
    child_net_config, child_step_phases, child_text, full_v2_phase_table, full_v2_phases,
    phase_table, run_case, summarize, supernet_spec_json,
};
use proxyless_bench::{BenchCase, BenchSettings, CaseTimes, PytorchStep};
use proxyless_nn::Precision;
use proxyless_plumbing::Progress;
use proxyless_space::{SearchSpace, presets};

use crate::backend::Backend;
use crate::commands::train::PrecisionArg;
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
    /// (forward, backward, optimiser update), with --vs-pytorch beside PyTorch's times; then
    /// the full_v2 architecture step by phase (forward, backward, the other candidates
    /// recomputed for the gate gradients, α's update).
    #[arg(long)]
    pub ops: bool,
    /// Also time the child network's step and the supernet's weight and architecture steps
    /// (two, full, full_v2) in PyTorch on this machine (needs Python with torch), each right
    /// after ours, so every step is compared with PyTorch's in the same run.
    #[arg(long)]
    pub vs_pytorch: bool,
    /// The Python that runs the PyTorch reference.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Time batch-1 inference of these networks instead (net.config files at 224x224,
    /// --resolution or FILE@SIDE, timed with fresh weights; or checkpoints at their training
    /// side): ours,
    /// BatchNorm kept and folded, beside ONNX Runtime on the ONNX models `export` writes
    /// (needs Python with onnx and onnxruntime). Writes deploy.json and deploy.md.
    #[arg(long, value_name = "NET")]
    pub deploy: Vec<PathBuf>,
    /// Input side for --deploy.
    #[arg(long)]
    pub resolution: Option<usize>,
    /// Timed runs per measurement for --deploy.
    #[arg(long, default_value_t = 30)]
    pub runs: usize,
    /// Precision of the child step and the supernet's weight step: f32, or bf16 (mixed
    /// precision, on backends with bf16 tensors); architecture steps stay f32.
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,
    /// Measure the image-folder loader instead: images per second (and per thread) decoded,
    /// augmented and batched with one and with every decoding thread, each stage's time, peak
    /// memory, and a batch's way to the device; with --space (an RGB space, e.g.
    /// imagenet@224), also its supernet's weight steps fed by the loader against steps on a
    /// cached batch (--steps, --warmup). Writes loader.json and loader.md.
    #[arg(long)]
    pub loader: bool,
    /// The folder for --loader (default: a generated one of --loader-images JPEGs of 300-500
    /// px in 10 classes, written once under the output folder).
    #[arg(long)]
    pub folder: Option<PathBuf>,
    /// Images of the generated folder for --loader.
    #[arg(long, default_value_t = 2000)]
    pub loader_images: usize,
    /// Output side of --loader (ImageNet's 224 by default; a --space sets its own).
    #[arg(long, default_value_t = 224)]
    pub loader_side: usize,
    /// Run only this case in this process and print its measurements as JSON (each case runs
    /// in its own process, so that its peak memory is its own).
    #[arg(long, hide = true)]
    pub case: Option<String>,
}

/// Runs `bench` on `backend`.
pub fn run(args: &BenchArgs, backend: Backend, quiet: bool) -> Result<()> {
    if args.loader {
        return loader(args, backend, quiet);
    }
    if !args.deploy.is_empty() {
        let rounds = if args.quick { 1 } else { args.rounds.max(1) };
        let runs = if args.quick { 3 } else { args.runs.max(1) };
        return crate::commands::deploy_bench::run(
            &args.deploy,
            args.resolution,
            runs,
            rounds,
            &args.out,
            backend,
            quiet,
        );
    }
    let device = backend.device()?;
    Precision::from(args.precision)
        .check(&device)
        .map_err(|why| anyhow::anyhow!("--precision {}: {why}", args.precision.name()))?;
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
            precision: args.precision.into(),
        };
        if args.ops {
            let table = op_profile(args, backend, &space, &settings, &device, quiet)?;
            println!("{table}");
            markdown.push_str(&table);
            markdown.push('\n');
            continue;
        }
        if let Some(key) = &args.case {
            let case = BenchCase::from_key(key).with_context(|| {
                let keys: Vec<&str> = BenchCase::ALL.iter().map(|c| c.key()).collect();
                format!("--case: no case '{key}' (one of {})", keys.join(", "))
            })?;
            let measured = run_case(&space, &device, &settings, case);
            println!("{}", serde_json::to_string(&measured)?);
            return Ok(());
        }
        let cases = BenchCase::ALL.len();
        let bar = Progress::new(quiet).epoch(entry, cases * rounds);
        let mut measured = vec![CaseTimes::default(); cases];
        // PyTorch's runs of each case, each right after ours.
        let mut torch_runs: Vec<Vec<PytorchStep>> = vec![Vec::new(); cases];
        // The files the PyTorch references read, written once.
        let torch_inputs = if args.vs_pytorch {
            Some((
                write_torch_input(
                    &space,
                    &args.out,
                    "child.net.config",
                    child_net_config(&space, &settings),
                )?,
                write_torch_input(
                    &space,
                    &args.out,
                    "supernet.json",
                    supernet_spec_json(&space, &settings),
                )?,
            ))
        } else {
            None
        };
        for round in 0..rounds {
            let mut order: Vec<usize> = (0..cases).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let case = BenchCase::ALL[i];
                bar.set_message(format!("{} (round {}/{rounds})", case.name(), round + 1));
                measured[i].merge(case_in_child(backend, entry, &settings, case)?);
                if let Some((child, supernet)) = torch_inputs.as_ref().filter(|_| case.in_pytorch())
                {
                    bar.set_message(format!(
                        "{}, PyTorch (round {}/{rounds})",
                        case.name(),
                        round + 1
                    ));
                    let inputs = (child.as_path(), supernet.as_path());
                    let run = torch_case(backend, &args.python, &space, &settings, inputs, case);
                    torch_runs[i].push(run?);
                }
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
        let mut report = summarize(&space, &device, &settings, &measured);
        for (case, runs) in report.cases.iter_mut().zip(&torch_runs) {
            if !runs.is_empty() {
                case.pytorch_ms = Some(PytorchStep::pooled(runs.clone()).median_ms);
            }
        }
        if !torch_runs[0].is_empty() {
            report.pytorch = Some(PytorchStep::pooled(torch_runs.swap_remove(0)));
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
    settings: &BenchSettings,
    case: BenchCase,
) -> Result<CaseTimes> {
    let exe = std::env::current_exe().context("finding the proxyless binary")?;
    let (batch, steps) = (settings.batch.to_string(), settings.steps.to_string());
    let precision = PrecisionArg::from(settings.precision).name();
    let output = std::process::Command::new(exe)
        .args([
            "--quiet",
            "--backend",
            backend.name(),
            "bench",
            "--space",
            space,
        ])
        .args([
            "--batch",
            &batch,
            "--steps",
            &steps,
            "--precision",
            precision,
        ])
        .args([
            "--warmup",
            &settings.warmup.to_string(),
            "--case",
            case.key(),
        ])
        .output()
        .context("running a bench case")?;
    if !output.status.success() {
        bail!(
            "bench case '{}' on {space} failed ({}): {}",
            case.name(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "bench case '{}' printed no measurements: {}",
            case.name(),
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Writes `text` into `out` as `<space>-<side>-<name>`, an input of the PyTorch references (the
/// child's `net.config`, the supernet's description).
fn write_torch_input(
    space: &SearchSpace,
    out: &std::path::Path,
    name: &str,
    text: String,
) -> Result<PathBuf> {
    std::fs::create_dir_all(out)?;
    let path = out.join(format!("{}-{}-{name}", space.name, space.input.resolution));
    write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// Times `case` in PyTorch: the child step from the `net.config` at `child`, or a supernet
/// step of the supernet described at `supernet`; the same batch shape and steps, with as many
/// threads as this machine has cores, on CUDA when our backend runs on a GPU.
fn torch_case(
    backend: Backend,
    python: &str,
    space: &SearchSpace,
    settings: &BenchSettings,
    (child, supernet): (&std::path::Path, &std::path::Path),
    case: BenchCase,
) -> Result<PytorchStep> {
    if case == BenchCase::ChildStep {
        return torch_child_step(backend, python, space, settings, child);
    }
    pytorch_supernet_step(
        python,
        supernet,
        case.key(),
        space.input.channels,
        space.input.resolution,
        settings,
        backend.is_gpu(),
    )
    .with_context(|| format!("--vs-pytorch, {}", case.name()))
}

/// Times the child step from the `net.config` at `child` in PyTorch (see [`torch_case`]).
fn torch_child_step(
    backend: Backend,
    python: &str,
    space: &SearchSpace,
    settings: &BenchSettings,
    child: &std::path::Path,
) -> Result<PytorchStep> {
    pytorch_step(
        python,
        child,
        space.input.channels,
        space.input.resolution,
        settings,
        backend.is_gpu(),
    )
    .context("--vs-pytorch")
}

/// Times every convolution layer of the child network here (and in PyTorch with
/// `--vs-pytorch`), and returns a Markdown table summed by kind of layer, then the whole step
/// by phase.
fn op_profile(
    args: &BenchArgs,
    backend: Backend,
    space: &SearchSpace,
    settings: &BenchSettings,
    device: &burn::prelude::Device,
    quiet: bool,
) -> Result<String> {
    let config = child_net_config(space, settings);
    let spec = proxyless_space::NetSpec::from_net_config_str(&config, "the bench's child")?;
    let layers = network_layers(&spec, space.input.resolution);
    let runs = settings.steps.max(3);
    let bar = Progress::new(quiet).epoch("layers", layers.len());
    let ours: Vec<LayerMs> = layers
        .iter()
        .map(|l| {
            let t = time_layer(l, settings.batch, device, settings.warmup, runs);
            bar.inc(1);
            t.medians()
        })
        .collect();
    bar.finish_and_clear();
    let theirs = if args.vs_pytorch {
        let cuda = backend.is_gpu();
        Some(pytorch_layers(&args.python, &layers, settings, runs, cuda).context("--vs-pytorch")?)
    } else {
        None
    };
    let torch = theirs
        .as_ref()
        .map_or(String::new(), |(v, _)| format!(", PyTorch {v}"));
    let title = format!(
        "`{}` at {}x{}, batch {}, {backend}{torch}: the child `{}` layer by layer (convolution, \
         BatchNorm in training mode, ReLU6), medians of {runs} runs, summed by kind",
        space.name,
        space.input.resolution,
        space.input.resolution,
        settings.batch,
        child_text(space, settings),
    );
    let mut out = layer_table(&title, &layers, &ours, theirs.as_ref().map(|(_, t)| &t[..]));
    out.push('\n');
    let phases = child_step_phases(space, device, settings);
    let torch_phases = if args.vs_pytorch {
        let config = child_net_config(space, settings);
        let child = write_torch_input(space, &args.out, "child.net.config", config)?;
        let step = torch_child_step(backend, &args.python, space, settings, &child)?;
        Some(
            step.phases
                .context("--vs-pytorch: the PyTorch reference printed no phases of its step")?,
        )
    } else {
        None
    };
    out.push_str(&phase_table(
        &phases,
        torch_phases.as_ref(),
        settings.steps.max(1),
    ));
    out.push('\n');
    let full_v2 = full_v2_phases(space, device, settings);
    out.push_str(&full_v2_phase_table(
        &full_v2,
        &phases,
        settings.steps.max(1),
    ));
    Ok(out)
}

/// `bench --loader`.
fn loader(args: &BenchArgs, backend: Backend, quiet: bool) -> Result<()> {
    use anyhow::ensure;
    use proxyless_bench::loader::{LoaderSettings, feed_times, markdown, measure};
    use proxyless_data::synthetic::{FolderSpec, write_folder};
    let space = match args.spaces.as_slice() {
        [] => None,
        [name] => Some(presets::resolve(name)?),
        _ => bail!("--loader takes one --space"),
    };
    if let Some(space) = &space {
        ensure!(
            space.input.channels == 3,
            "--loader --space {}: image folders are read as RGB here; the space takes {} channels",
            space.name,
            space.input.channels
        );
    }
    let device = backend.device()?;
    std::fs::create_dir_all(&args.out)?;
    let folder = match &args.folder {
        Some(f) => f.clone(),
        None => {
            let images = args.loader_images.max(10);
            let dir = args.out.join(format!("loader-folder-{images}"));
            if !dir.is_dir() {
                let spec = FolderSpec {
                    classes: 10,
                    per_class: images / 10,
                    ..FolderSpec::default()
                };
                if !quiet {
                    eprintln!(
                        "writing {} JPEGs to {}",
                        spec.classes * spec.per_class,
                        dir.display()
                    );
                }
                proxyless_plumbing::checkpoints::write_dir(&dir, |tmp| {
                    write_folder(tmp, &spec, 0)
                        .map(drop)
                        .map_err(|e| e.to_string())
                })
                .map_err(anyhow::Error::msg)?;
            }
            dir
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut workers = vec![1];
    if cores > 1 {
        workers.push(cores);
    }
    let (batch, batches) = if args.quick { (16, 2) } else { (64, 16) };
    let settings = LoaderSettings {
        resolution: space
            .as_ref()
            .map_or(args.loader_side, |s| s.input.resolution),
        batch: args.batch.unwrap_or(batch),
        batches,
        workers,
    };
    let cache = args.out.join("index-cache");
    let mut report = measure(&folder, &settings, &cache, &device, |run| {
        if !quiet {
            eprintln!(
                "{} thread(s), {}: {:.0} images/s",
                run.workers,
                if run.augment { "train" } else { "test" },
                run.images_per_s
            );
        }
    })?;
    if let Some(space) = &space {
        let options = proxyless_data::FolderOptions {
            index_cache: Some(cache.clone()),
            ..proxyless_data::FolderOptions::default()
        };
        let (set, _) = proxyless_data::FolderSet::open(
            &folder,
            proxyless_data::Split::Train,
            3,
            space.input.resolution,
            &options,
        )?;
        let (steps, warmup) = if args.quick {
            (2, 1)
        } else {
            (args.steps, args.warmup)
        };
        if !quiet {
            eprintln!(
                "{steps} weight steps of {} fed by the loader, then on a cached batch",
                space.name
            );
        }
        report.feed = Some(feed_times(
            space,
            &set,
            settings.batch,
            steps,
            warmup,
            &device,
        )?);
    }
    let text = markdown(&report);
    write_atomic(
        &args.out.join("loader.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    write_atomic(&args.out.join("loader.md"), text.as_bytes())?;
    print!("{text}");
    Ok(())
}
