//! Project automation, in the style of cargo-xtask: a small dispatcher that runs cargo.
//!
//! It compiles in seconds and never links the heavy crates. Commands:
//!
//! - `cargo xtask test [--cpu-only] [--no-compile-check] [--slurm]`: the test suite on every
//!   backend CI covers (flex, ndarray, and wgpu, on a software Vulkan driver when there is no
//!   GPU), then a compile check of the vulkan, cuda and tch backends (`--slurm`: and a study on
//!   a single-node Slurm);
//! - `cargo xtask tidy`: architecture invariants (crate layering, backend features, file docs);
//! - `cargo xtask chaos`: kills small searches, trainings and a study at random moments,
//!   resumes them, and checks that they end bitwise as uninterrupted runs;
//! - `cargo xtask soak`: a long small search whose peak memory per epoch must stay flat;
//! - `cargo xtask fuzz`: a million mutated inputs for every file parser (`proxyless-fuzz`);
//! - `cargo xtask validate`: fmt, clippy, tidy, then the tests (cheapest first);
//! - `cargo xtask gpu-check`: packages the GPU checks so they run on a machine without Rust;
//! - `cargo xtask tables [--backend B]`: measures the shipped CPU latency tables again;
//! - `cargo xtask search [--backend B] [args]`: the main job; with no `--config`, `--data` or
//!   `--resume` it searches the default space on Fashion-MNIST, installing Debian's
//!   `dataset-fashion-mnist` first when it is missing (as root with apt);
//! - `cargo xtask train [--backend B] [args]`: trains the network of the newest search run in
//!   `runs/` from scratch on its data set (Fashion-MNIST by default) with the paper's recipe;
//! - `cargo xtask <proxyless command> [--backend B] [args]`: builds the `proxyless` binary with
//!   the backend's Cargo feature and runs the command on that backend, for example
//!   `cargo xtask info configs/nets/proxyless_gpu.json` or
//!   `cargo xtask check configs/nets/proxyless_cpu.json --backend ndarray`.

mod backend;
mod cargo;
mod chaos;
mod data;
mod fuzz;
mod gpu_check;
mod llvm;
mod run;
mod soak;
mod tables;
mod test;
mod tidy;

use std::path::PathBuf;
use std::process::ExitCode;

/// The repository's root directory (where the workspace's `Cargo.toml` is).
pub fn repo_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the repository root")
        .to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("help" | "--help" | "-h") => {
            print!("{}", USAGE);
            Ok(())
        }
        Some("test") => test::run(&args[1..]),
        Some("chaos") => chaos::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("soak") => soak::run(&args[1..]),
        Some("tidy") => tidy::run(),
        Some("gpu-check") => gpu_check::run(&args[1..]),
        Some("validate") => validate(),
        Some("tables") => tables::run(&args[1..]),
        Some(_) => run::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "\
usage: cargo xtask <command> [options]

  search [--backend B] [args] the main job: a ProxylessNAS search (default: Fashion-MNIST)
  train [--backend B] [args]  train the newest search's network from scratch on its data
  test [--cpu-only] [--no-compile-check] [--slurm] [cargo test args]
                             run the tests on the flex, ndarray and wgpu backends (wgpu on a
                             software Vulkan driver without a GPU; --cpu-only leaves it out),
                             then build and run tests/embed (a Burn project outside the
                             workspace that searches its own model with proxyless-supernet),
                             package the library crates, and compile the vulkan, cuda and
                             tch backends (cargo check); --slurm also runs a study's
                             Slurm jobs on a single-node Slurm started here (root, Debian)
  tidy                       check the architecture invariants
  chaos [--kills N] [--seed S] [--only search|reinforce|train|study]
                             kill small runs and a tiny study with SIGKILL at N random moments
                             (some while a checkpoint or study.json is written), resume them,
                             and check that each ends bitwise as an uninterrupted run
  soak [--epochs N] [--backend B]
                             a 40-epoch search on 2,000 Fashion-MNIST images recording peak
                             memory per epoch (memory.jsonl); fails if the last epochs' peak
                             exceeds the first search epoch's by more than 5%
  fuzz [--inputs N] [--seed S] [--only TARGET]
                             fuzz every file parser (default 1,000,000 inputs each) in
                             address-space-capped workers; report in target/fuzz/report.md
  gpu-check [--package-only] [--out DIR] [--features LIST]... [--libtorch DIR]
                             build proxyless with GPU backends (one binary per --features,
                             default wgpu; --libtorch adds a tch binary built against that
                             LibTorch for tch-cuda), package them with the check script and
                             data (target/gpu-check), and run the checks: parity, latency
                             profile and validation, a short search, the benchmark
  validate                   fmt, clippy, tidy, then test
  tables [--backend B]...    measure the shipped CPU latency tables (configs/latency/) again
                             on this machine, each with its whole-network correction
  <command> [--backend B] [--dev] [args]
                             build `proxyless` with backend B (flex, ndarray, wgpu, vulkan,
                             cuda, tch, tch-cuda; default flex) and run `proxyless <command> args`
                             (release build unless --dev)
";

fn validate() -> Result<(), String> {
    cargo::run(&["fmt", "--all", "--", "--check"], &[])?;
    cargo::run(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--features",
            "proxyless-cli/ndarray",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    tidy::run()?;
    test::run(&[])
}
