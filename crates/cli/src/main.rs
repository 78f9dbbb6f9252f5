//! The `proxyless` command: ProxylessNAS on Burn, from the command line.

mod backend;
mod commands;
mod description;
mod devices;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use backend::Backend;

/// ProxylessNAS: search a network directly on the target task and hardware.
#[derive(Debug, Parser)]
#[command(name = "proxyless", version, about)]
struct Cli {
    /// Backend for commands that run tensors (default: the first compiled in, flex first).
    #[arg(long, global = true, value_enum)]
    backend: Option<Backend>,
    /// No progress bars or epoch lines (results and errors still print).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// More log lines: -v for progress details (info), -vv for debugging; `RUST_LOG`
    /// overrides both.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Search an architecture on the target task and hardware (ProxylessNAS).
    Search(commands::search::SearchArgs),
    /// Does the search beat chance? Searched against random networks of the same cost and
    /// baselines, all retrained alike with several seeds.
    Study(commands::study::StudyArgs),
    /// Train a network from scratch (the searched one by default) with the paper's recipe.
    Train(commands::train::TrainArgs),
    /// Top-1, top-5, loss and confusion matrix of a trained checkpoint.
    Eval(commands::eval::EvalArgs),
    /// Export a checkpoint for PyTorch (net.config + safetensors) and as ONNX, and, BatchNorm
    /// folded, for Burn, with batch-1 latencies (Burn, and ONNX Runtime when Python has it).
    Export(commands::export::ExportArgs),
    /// Classify JPEG/PNG files with a checkpoint or an export: top-k classes and probabilities.
    Predict(commands::predict::PredictArgs),
    /// Import PyTorch weights (official names; .pth or safetensors) into a checkpoint.
    Import(commands::import::ImportArgs),
    /// Latency tables: profile a backend, predict, measure, validate.
    Latency(commands::latency::LatencyArgs),
    /// Block table, parameters and MACs of a net.config, an architecture or a space.
    Info(commands::info::InfoArgs),
    /// Benchmark search steps against the child network's training step.
    Bench(commands::bench::BenchArgs),
    /// Build a network on a backend, check its parameters and run a forward pass.
    Check(commands::check::CheckArgs),
    /// Draw a network as the paper draws it (SVG): blocks by kernel size and expansion.
    Draw(commands::draw::DrawArgs),
    /// Convert between architecture text, architecture JSON and net.config.
    Convert(commands::convert::ConvertArgs),
    /// Compare a backend with a reference backend on one supernet step (parity check).
    Parity(commands::parity::ParityArgs),
    /// Write the HTML report of a search run: architecture, probabilities, curves, costs.
    Report(commands::report::ReportArgs),
    /// Draw a random architecture of a space.
    Sample(commands::sample::SampleArgs),
    /// Image folders: generate one (JPEG photos-in-size of learnable patterns), or check one.
    Data(commands::data::DataArgs),
    /// List the backends compiled into this binary.
    Backends,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let backend = match cli.backend {
        Some(b) => b,
        None => Backend::default_compiled()?,
    };
    #[cfg(unix)]
    pin_default_device(backend)?;
    match &cli.command {
        Command::Search(args) => commands::search::run(args, backend, cli.quiet),
        Command::Study(args) => commands::study::run(args, backend, cli.quiet),
        Command::Train(args) => commands::train::run(args, backend, cli.quiet),
        Command::Eval(args) => commands::eval::run(args, backend, cli.quiet),
        Command::Export(args) => commands::export::run(args, backend),
        Command::Predict(args) => commands::predict::run(args, backend, cli.quiet),
        Command::Import(args) => commands::import::run(args, backend),
        Command::Latency(args) => commands::latency::run(args, backend, cli.quiet),
        Command::Info(args) => commands::info::run(args),
        Command::Bench(args) => commands::bench::run(args, backend, cli.quiet),
        Command::Check(args) => commands::check::run(args, backend),
        Command::Convert(args) => commands::convert::run(args),
        Command::Draw(args) => commands::draw::run(args),
        Command::Parity(args) => commands::parity::run(args, backend),
        Command::Report(args) => commands::report::run(args),
        Command::Sample(args) => commands::sample::run(args),
        Command::Data(args) => commands::data::run(args, cli.quiet),
        Command::Backends => {
            for b in Backend::compiled() {
                println!("{b}");
            }
            Ok(())
        }
    }
}

/// Makes the chosen backend Burn's `Device::default()` in a binary with several backends.
///
/// Burn 0.22 materialises a loaded optimiser state on `Device::default()` and moves it to the
/// weights' device at the next step; that default is the first compiled of cuda, vulkan, wgpu,
/// tch, flex, ndarray. So a flex run resumed by a binary with cuda compiled in would start CUDA
/// (and fail without a GPU), and one with wgpu would upload the state to a Vulkan device first.
/// The binary then runs itself again in place with `BURN_DEVICE` naming the chosen backend
/// (`exec`: same process id, arguments, standard streams); it does nothing when the chosen
/// backend is Burn's default already or `BURN_DEVICE` is set.
#[cfg(unix)]
fn pin_default_device(backend: Backend) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::os::unix::process::CommandExt;
    if std::env::var_os("BURN_DEVICE").is_some()
        || Backend::burn_default().is_none_or(|b| b.feature() == backend.feature())
    {
        return Ok(());
    }
    let exe = std::env::current_exe().context("finding the proxyless binary")?;
    let error = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("BURN_DEVICE", backend.feature())
        .exec();
    Err(error).context("running proxyless again with BURN_DEVICE set")
}
