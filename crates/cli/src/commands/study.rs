//! `proxyless study`: searched networks against random networks of the same cost, all
//! retrained alike; in one process, with local workers, or as tasks for a cluster's scheduler.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use proxyless_study::{
    Launcher, Phase, PoolEvent, SlurmJobs, Study, StudyConfig, Task, TaskRun, run_pool,
    summary_lines, write_slurm_jobs,
};

use crate::backend::Backend;
use crate::output::utc_stamp;

/// Does the search beat chance? Search with several seeds, draw random networks within a band
/// of each searched cost, add uniform and cheapest/dearest baselines, retrain all alike.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct StudyArgs {
    #[command(subcommand)]
    pub action: Option<StudyAction>,
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
    /// Run the study's tasks (searches, then the plan, then retrainings) with this many
    /// local worker processes at once; on a CPU each gets its share of the cores.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// With --workers: the devices the workers take in turn, one task per device at a time:
    /// a count (`2`) or a list (`cuda:0,cuda:1`). Workers default to one per device.
    #[arg(long, value_name = "LIST")]
    pub devices: Option<String>,
    /// Create (or update) the study and list its tasks without running any.
    #[arg(long)]
    pub prepare: bool,
    /// Write job scripts for a scheduler into the study directory (implies --prepare):
    /// `slurm` writes `slurm/submit.sh`, which submits every task with `sbatch`.
    #[arg(long, value_enum, value_name = "SCHEDULER")]
    pub emit: Option<Scheduler>,
    /// With --emit slurm: an `#SBATCH` option for every job, e.g. `--sbatch=--gres=gpu:1
    /// --sbatch=--time=04:00:00` (repeatable).
    #[arg(
        long,
        value_name = "OPTION",
        allow_hyphen_values = true,
        requires = "emit"
    )]
    pub sbatch: Vec<String>,
}

/// The schedulers `--emit` writes jobs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scheduler {
    /// Slurm job arrays with `sbatch`.
    Slurm,
}

/// A study's tasks one at a time (what workers and cluster jobs run).
#[derive(Debug, Subcommand)]
pub enum StudyAction {
    /// Run one task of a study alone and record its result: `search:K`, `plan`,
    /// `retrain:K` (the K-th of its phase, from 0) or a task's name from `study status`.
    /// A task another process is running is left to it (exit 0), unless --wait.
    Task {
        /// The study directory.
        dir: PathBuf,
        /// The task.
        task: String,
        /// If another process runs this task, wait for it and finish what it left.
        #[arg(long)]
        wait: bool,
        /// The device to run on, e.g. `cuda:1` (default: the backend's default device).
        #[arg(long)]
        device: Option<String>,
    },
    /// Where every task of a study stands; rewrites `study.json` and the pages from what is
    /// done, and prints the summary once everything is.
    Status {
        /// The study directory.
        dir: PathBuf,
        /// Print only the number of tasks of this phase (for job scripts).
        #[arg(long, value_name = "PHASE", value_parser = ["search", "plan", "retrain"])]
        count: Option<String>,
    },
}

/// Runs `study` on `backend`.
pub fn run(args: &StudyArgs, backend: Backend, quiet: bool) -> Result<()> {
    match &args.action {
        Some(StudyAction::Task {
            dir,
            task,
            wait,
            device,
        }) => return run_task(dir, task, *wait, device.as_deref(), backend, quiet),
        Some(StudyAction::Status { dir, count }) => return status(dir, count.as_deref(), backend),
        None => {}
    }
    let device = backend.device()?;
    let (mut study, dir) = match &args.resume {
        Some(dir) => {
            let mut study = Study::resume(dir, &device, quiet)?;
            if !args.add_search_seeds.is_empty() {
                study.add_search_seeds(&args.add_search_seeds)?;
            }
            (study, dir.clone())
        }
        None => create(args, backend, &device, quiet)?,
    };
    if args.prepare || args.emit.is_some() {
        print_tasks(&study);
        if args.emit == Some(Scheduler::Slurm) {
            let jobs = SlurmJobs {
                binary: std::env::current_exe()?,
                global_args: vec!["--backend".into(), backend.name().into()],
                sbatch: args.sbatch.clone(),
                searches: study.phase_tasks(Phase::Search).len(),
            };
            let submit = write_slurm_jobs(&dir, &jobs)?;
            println!("slurm: submit with `bash {}`", submit.display());
        }
        return Ok(());
    }
    let record = match (args.workers, &args.devices) {
        (None, None) => study.run()?,
        (workers, devices) => {
            let launcher = WorkerLauncher::new(backend, devices.as_deref(), workers)?;
            run_pool(&mut study, launcher.workers, &launcher, |e| {
                report_pool(e, quiet)
            })?;
            study.record().clone()
        }
    };
    for line in summary_lines(&record) {
        println!("{line}");
    }
    println!("study: {}", dir.join("study.html").display());
    Ok(())
}

/// Creates the study the arguments describe.
fn create(
    args: &StudyArgs,
    backend: Backend,
    device: &burn::tensor::Device,
    quiet: bool,
) -> Result<(Study, PathBuf)> {
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
        PathBuf::from("runs").join(format!("study-{}-{}", resolved.search.space, utc_stamp()))
    });
    if !quiet {
        eprintln!("study on {backend} into {}", out.display());
    }
    let study = Study::create(resolved, &out, backend.name(), device, quiet)?;
    Ok((study, out))
}

/// `study task DIR TASK`.
fn run_task(
    dir: &Path,
    spec: &str,
    wait: bool,
    device: Option<&str>,
    backend: Backend,
    quiet: bool,
) -> Result<()> {
    let devices = crate::devices::parse(backend, device)?;
    if devices.len() != 1 {
        bail!("--device names one device (e.g. cuda:1); a task runs on one");
    }
    let mut study = Study::resume(dir, &devices[0], quiet)?;
    let task = study.task(spec)?;
    match study.run_task(&task, wait)? {
        TaskRun::Ran => println!("{task}: done"),
        TaskRun::AlreadyDone => println!("{task}: already done"),
        TaskRun::Busy => println!("{task}: another process is running it; nothing to do"),
    }
    Ok(())
}

/// `study status DIR [--count PHASE]`.
fn status(dir: &Path, count: Option<&str>, backend: Backend) -> Result<()> {
    let mut study = Study::resume(dir, &backend.device()?, true)?;
    if let Some(phase) = count {
        let phase = Phase::ALL
            .into_iter()
            .find(|p| p.name() == phase)
            .expect("clap checked the phase");
        println!("{}", study.phase_tasks(phase).len());
        return Ok(());
    }
    let record = study.collect()?;
    let left = print_tasks(&study);
    if left == 0 {
        for line in summary_lines(&record) {
            println!("{line}");
        }
    }
    Ok(())
}

/// Prints every task with its state and the number of each state; returns how many tasks
/// are not done (the retrainings count once the plan has fixed the networks).
fn print_tasks(study: &Study) -> usize {
    let mut left = 0;
    for phase in Phase::ALL {
        let tasks = study.phase_tasks(phase);
        if tasks.is_empty() {
            println!("{}: known once the plan task has run", phase.name());
            left += 1;
            continue;
        }
        for (k, task) in tasks.iter().enumerate() {
            let state = study
                .state(task)
                .map(|s| s.name())
                .unwrap_or("unreadable lock");
            if state != "done" {
                left += 1;
            }
            println!("{}:{k}\t{task}\t{state}", phase.name());
        }
    }
    println!("{left} task(s) not done, in {}", study.dir().display());
    left
}

/// Prints the pool's progress on stderr.
fn report_pool(event: PoolEvent<'_>, quiet: bool) {
    if quiet {
        return;
    }
    match event {
        PoolEvent::Phase(phase, n) => {
            eprintln!("study: {} phase, {n} task(s) to run", phase.name())
        }
        PoolEvent::Started(task, slot) => eprintln!("  {task}: started on worker {slot}"),
        PoolEvent::Finished(task, ok, took) => eprintln!(
            "  {task}: {} after {:.1} s",
            if ok { "done" } else { "FAILED" },
            took.as_secs_f64()
        ),
    }
}

/// Starts each task as `proxyless --backend B --quiet study task DIR TASK --wait`, with the
/// slot's device or, on a CPU backend, its share of the cores.
struct WorkerLauncher {
    exe: PathBuf,
    backend: Backend,
    devices: Vec<String>,
    workers: usize,
    threads: Option<usize>,
}

impl WorkerLauncher {
    fn new(backend: Backend, devices: Option<&str>, workers: Option<usize>) -> Result<Self> {
        let devices: Vec<String> = match devices {
            None => Vec::new(),
            Some(spec) => match spec.trim().parse::<usize>() {
                Ok(n) => (0..n).map(|i| format!("{backend}:{i}")).collect(),
                Err(_) => spec.split(',').map(|d| d.trim().to_string()).collect(),
            },
        };
        // Every listed device starts here first, so a bad one is an error before any task.
        if !devices.is_empty() {
            crate::devices::parse(backend, Some(&devices.join(",")))?;
        }
        let workers = workers.unwrap_or(devices.len());
        if workers == 0 {
            bail!("--workers 0: a study needs at least one worker");
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            exe: std::env::current_exe()?,
            backend,
            threads: (!backend.is_gpu()).then(|| (cores / workers).max(1)),
            devices,
            workers,
        })
    }
}

impl Launcher for WorkerLauncher {
    fn command(&self, study_dir: &Path, task: &Task, slot: usize) -> Command {
        let mut command = Command::new(&self.exe);
        command
            .args(["--backend", self.backend.name(), "--quiet", "study", "task"])
            .arg(study_dir)
            .arg(task.to_string())
            .arg("--wait");
        if !self.devices.is_empty() {
            command.args(["--device", &self.devices[slot % self.devices.len()]]);
        }
        if let Some(threads) = self.threads {
            command.env("RAYON_NUM_THREADS", threads.to_string());
        }
        command
    }
}
