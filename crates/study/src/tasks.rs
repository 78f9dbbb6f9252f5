//! A study as independent tasks, so that a worker pool, a Slurm job array or several GPUs can
//! run them at once, coordinated only through the study directory:
//!
//! 1. one search per search seed ([`Task::Search`]);
//! 2. once every search is done, the plan ([`Task::Plan`]): the networks fixed, their latency
//!    measured in one set of interleaved rounds, their accuracy inherited from each supernet;
//! 3. once planned, one retraining per network and training seed ([`Task::Retrain`]).
//!
//! A task holds `locks/<task>.lock` while it runs (a second process running the same task
//! waits for it or, without `wait`, leaves it), resumes the checkpoint a killed run of it
//! left, and adds its result to `study.json` under `study.lock`. The single-process study
//! ([`Study::run`]) runs the same tasks in order, so every way of running a study gives the
//! same record (the times aside).

use std::fmt;

use crate::error::{Error, Result};
use crate::record::StudyRecord;
use crate::run::Study;

/// The three phases of a study, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The searches, independent of each other.
    Search,
    /// The plan, one task after every search.
    Plan,
    /// The retrainings, independent of each other, after the plan.
    Retrain,
}

impl Phase {
    /// The phase's name in task specifications (`search:3`, `plan`, `retrain:12`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Search => "search",
            Phase::Plan => "plan",
            Phase::Retrain => "retrain",
        }
    }

    /// Every phase, in order.
    pub const ALL: [Phase; 3] = [Phase::Search, Phase::Plan, Phase::Retrain];
}

/// One unit of a study's work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// The search with this seed.
    Search(u64),
    /// Fix the networks, measure their latency, inherit their supernet accuracy.
    Plan,
    /// Retrain network `net` (its id) with training seed `seed`.
    Retrain {
        /// The network's id (`searched-0`, `random-0-1`, ...).
        net: String,
        /// The training seed.
        seed: u64,
    },
}

impl Task {
    /// The phase the task belongs to.
    pub fn phase(&self) -> Phase {
        match self {
            Task::Search(_) => Phase::Search,
            Task::Plan => Phase::Plan,
            Task::Retrain { .. } => Phase::Retrain,
        }
    }
}

impl fmt::Display for Task {
    /// The task's name: `search-<seed>`, `plan`, `train-<net>-seed<seed>` (its lock's name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Task::Search(seed) => write!(f, "search-{seed}"),
            Task::Plan => write!(f, "plan"),
            Task::Retrain { net, seed } => write!(f, "train-{net}-seed{seed}"),
        }
    }
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Its result is in `study.json`.
    Done,
    /// Another process holds its lock.
    Running,
    /// What it needs is done: it can run.
    Ready,
    /// It needs tasks of an earlier phase.
    Waiting,
}

impl TaskState {
    /// The state's name as `study status` prints it.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Done => "done",
            TaskState::Running => "running",
            TaskState::Ready => "ready",
            TaskState::Waiting => "waiting",
        }
    }
}

/// What [`Study::run_task`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskRun {
    /// It ran (or finished what a killed run of it had started) and recorded its result.
    Ran,
    /// Its result was already recorded: nothing to do.
    AlreadyDone,
    /// Another process is running it (without `wait`): nothing done here.
    Busy,
}

impl Study {
    /// The tasks of `phase` known now, in the order a single process runs them: retrainings
    /// are known once the plan has fixed the networks.
    pub fn phase_tasks(&self, phase: Phase) -> Vec<Task> {
        match phase {
            Phase::Search => self
                .config()
                .study
                .search_seeds
                .iter()
                .map(|&s| Task::Search(s))
                .collect(),
            Phase::Plan => vec![Task::Plan],
            Phase::Retrain => {
                let record = self.record();
                record
                    .nets
                    .iter()
                    .flat_map(|n| {
                        record.train_seeds.iter().map(|&seed| Task::Retrain {
                            net: n.id.clone(),
                            seed,
                        })
                    })
                    .collect()
            }
        }
    }

    /// Every task known now, phase by phase.
    pub fn tasks(&self) -> Vec<Task> {
        Phase::ALL
            .iter()
            .flat_map(|&p| self.phase_tasks(p))
            .collect()
    }

    /// The task a specification names: `search:K`, `plan` or `retrain:K` (the K-th task of
    /// its phase, from 0, as a job array numbers them), or a task's name (`search-7`,
    /// `train-random-0-1-seed3`).
    pub fn task(&self, spec: &str) -> Result<Task> {
        let known = self.tasks();
        if let Some(task) = known.iter().find(|t| t.to_string() == spec) {
            return Ok(task.clone());
        }
        let (phase, index) = spec.split_once(':').unwrap_or((spec, "0"));
        let Some(phase) = Phase::ALL.into_iter().find(|p| p.name() == phase) else {
            return Err(Error::config(
                "task",
                format!(
                    "'{spec}' is not a task: give search:K, plan or retrain:K, or a task's name \
                     (`proxyless study status DIR` lists them)"
                ),
            ));
        };
        let tasks = self.phase_tasks(phase);
        let count = tasks.len();
        let index: usize = index.parse().map_err(|_| {
            Error::config("task", format!("'{spec}': '{index}' is not a task number"))
        })?;
        tasks.into_iter().nth(index).ok_or_else(|| {
            let why = if phase == Phase::Retrain && count == 0 {
                " (the retrainings are known once the plan task has run)".to_string()
            } else {
                String::new()
            };
            Error::config(
                "task",
                format!(
                    "'{spec}': the {} phase has {count} task(s), numbered from 0{why}",
                    phase.name()
                ),
            )
        })
    }

    /// Whether `record` holds `task`'s result.
    pub fn is_done(&self, task: &Task) -> bool {
        let record = self.record();
        match task {
            Task::Search(seed) => record.searches.iter().any(|s| s.seed == *seed),
            Task::Plan => self.plan_done(record),
            Task::Retrain { net, seed } => {
                let r = record.train_seeds.iter().position(|s| s == seed);
                let n = record.nets.iter().find(|n| &n.id == net);
                matches!((n, r), (Some(n), Some(r)) if n.top1.get(r).is_some_and(Option::is_some))
            }
        }
    }

    fn plan_done(&self, record: &StudyRecord) -> bool {
        let seeds = &self.config().study.search_seeds;
        seeds.iter().all(|seed| {
            record.searches.iter().any(|s| s.seed == *seed)
                && record
                    .nets
                    .iter()
                    .any(|n| n.id == format!("searched-{seed}"))
        }) && record.nets.iter().all(|n| {
            n.measured_ms.is_some()
                && n.inherited.len() == record.searches.len()
                && n.top1.len() == record.train_seeds.len()
        })
    }

    /// The unfinished tasks `task` needs (those of the earlier phase).
    pub fn needs(&self, task: &Task) -> Vec<Task> {
        let earlier = match task.phase() {
            Phase::Search => return Vec::new(),
            Phase::Plan => Phase::Search,
            Phase::Retrain => Phase::Plan,
        };
        self.phase_tasks(earlier)
            .into_iter()
            .filter(|t| !self.is_done(t))
            .collect()
    }

    /// Where `task` stands now (from the record as last read, and its lock).
    pub fn state(&self, task: &Task) -> Result<TaskState> {
        if self.is_done(task) {
            return Ok(TaskState::Done);
        }
        if crate::lock::try_exclusive(&self.lock_path(task))?.is_none() {
            return Ok(TaskState::Running);
        }
        Ok(if self.needs(task).is_empty() {
            TaskState::Ready
        } else {
            TaskState::Waiting
        })
    }

    fn lock_path(&self, task: &Task) -> std::path::PathBuf {
        self.dir().join("locks").join(format!("{task}.lock"))
    }

    /// Runs `task` alone and adds its result to `study.json` (and the pages). With another
    /// process on the same task, `wait` waits for it to end (then this one finishes what it
    /// left, or finds it done); without, returns [`TaskRun::Busy`] at once. A task whose
    /// earlier phase is unfinished is an error naming what it waits for.
    pub fn run_task(&mut self, task: &Task, wait: bool) -> Result<TaskRun> {
        let lock = self.lock_path(task);
        let _held = if wait {
            crate::lock::exclusive(&lock)?
        } else {
            match crate::lock::try_exclusive(&lock)? {
                Some(held) => held,
                None => return Ok(TaskRun::Busy),
            }
        };
        self.reload()?;
        if self.is_done(task) {
            return Ok(TaskRun::AlreadyDone);
        }
        let needs = self.needs(task);
        if !needs.is_empty() {
            let names: Vec<String> = needs.iter().map(ToString::to_string).collect();
            return Err(Error::config(
                "task",
                format!("{task} waits for {}", names.join(", ")),
            ));
        }
        match task {
            Task::Search(seed) => self.run_search(*seed)?,
            Task::Plan => self.run_plan()?,
            Task::Retrain { net, seed } => self.run_retrain(net, *seed)?,
        }
        Ok(TaskRun::Ran)
    }

    fn run_search(&mut self, seed: u64) -> Result<()> {
        let done = self.search(seed)?;
        let unit = self.costs()?.unit;
        let order = self.config().study.search_seeds.clone();
        let position = move |s: u64| order.iter().position(|&o| o == s);
        self.update(|record| {
            record.unit = unit;
            record.searches.retain(|s| s.seed != seed);
            let at = record
                .searches
                .iter()
                .position(|s| position(s.seed) > position(seed))
                .unwrap_or(record.searches.len());
            record.searches.insert(at, done);
            Ok(())
        })
    }

    fn run_plan(&mut self) -> Result<()> {
        let costs = self.costs()?;
        let (space, study) = (self.space().clone(), self.config().study.clone());
        // Planned on the newest record under the lock: the plan reads the searches and keeps
        // every network already planned with what it has.
        self.update(|record| {
            record.unit = costs.unit.clone();
            Study::plan_networks(&space, &study, &costs, record).map(|_| ())
        })?;
        let nets = self.record().nets.clone();
        if nets.iter().any(|n| n.measured_ms.is_none()) {
            let times = self.measure_latency(&nets);
            self.update(|record| {
                for (net, ms) in record.nets.iter_mut().zip(times) {
                    net.measured_ms = Some(ms);
                }
                Ok(())
            })?;
        }
        let searches = self.record().searches.clone();
        if nets.iter().any(|n| n.inherited.len() < searches.len()) {
            let inherited = self.inherit(&searches, &nets)?;
            self.update(|record| {
                for (net, accuracies) in record.nets.iter_mut().zip(inherited) {
                    net.inherited = accuracies;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn run_retrain(&mut self, id: &str, seed: u64) -> Result<()> {
        let net = self
            .record()
            .nets
            .iter()
            .find(|n| n.id == id)
            .cloned()
            .expect("a known task's network is planned");
        let (top1, seconds) = self.retrain(&net, seed)?;
        self.update(|record| {
            let r = record.train_seeds.iter().position(|&s| s == seed);
            let n = record.nets.iter_mut().find(|n| n.id == id);
            let (Some(n), Some(r)) = (n, r) else {
                return Err(Error::config(
                    "study.json",
                    format!("{id} with training seed {seed} is no longer in the study"),
                ));
            };
            n.top1[r] = Some(top1);
            n.train_seconds += seconds;
            Ok(())
        })
    }
}
