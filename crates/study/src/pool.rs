//! A local worker pool: a study's tasks run by up to N processes at once, phase by phase
//! (every search, the plan, every retraining), each process running one task
//! (`proxyless study task DIR TASK --wait`) with its output in `logs/<task>.log`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::run::Study;
use crate::tasks::{Phase, Task};

/// How a pool starts the process of one task.
pub trait Launcher {
    /// The command that runs `task` of the study in `study_dir` on worker `slot` (from 0;
    /// a slot runs one task at a time, so it can own a device or a share of the cores).
    fn command(&self, study_dir: &std::path::Path, task: &Task, slot: usize) -> Command;
}

/// What a pool reports as it goes.
#[derive(Debug)]
pub enum PoolEvent<'a> {
    /// A phase starts with this many tasks left to run.
    Phase(Phase, usize),
    /// A task started on a slot.
    Started(&'a Task, usize),
    /// A task ended: whether it succeeded, and after how long.
    Finished(&'a Task, bool, Duration),
}

/// Runs every unfinished task of `study` with up to `workers` processes at a time and
/// rereads the record after each phase. A failed task lets the others of its phase finish,
/// then stops the pool with an error naming every failed task and its log.
pub fn run_pool(
    study: &mut Study,
    workers: usize,
    launcher: &dyn Launcher,
    mut report: impl FnMut(PoolEvent<'_>),
) -> Result<()> {
    let workers = workers.max(1);
    let logs = study.dir().join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| Error::file(&logs, e))?;
    for phase in Phase::ALL {
        study.reload()?;
        let pending: Vec<Task> = study
            .phase_tasks(phase)
            .into_iter()
            .filter(|t| !study.is_done(t))
            .collect();
        report(PoolEvent::Phase(phase, pending.len()));
        let mut failed = Vec::new();
        let mut running: Vec<(usize, &Task, Child, Instant)> = Vec::new();
        let mut queue = pending.iter();
        loop {
            while running.len() < workers {
                let Some(task) = queue.next() else { break };
                let slot = (0..workers)
                    .find(|s| !running.iter().any(|r| r.0 == *s))
                    .expect("a slot is free");
                let log = logs.join(format!("{task}.log"));
                let child = spawn(launcher.command(study.dir(), task, slot), &log)?;
                report(PoolEvent::Started(task, slot));
                running.push((slot, task, child, Instant::now()));
            }
            if running.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            let mut i = 0;
            while i < running.len() {
                let status = running[i]
                    .2
                    .try_wait()
                    .map_err(|e| Error::file(study.dir(), format!("waiting for a task: {e}")))?;
                if let Some(status) = status {
                    let (_, task, _, started) = running.swap_remove(i);
                    report(PoolEvent::Finished(
                        task,
                        status.success(),
                        started.elapsed(),
                    ));
                    if !status.success() {
                        failed.push((task.clone(), logs.join(format!("{task}.log"))));
                    }
                } else {
                    i += 1;
                }
            }
            if !failed.is_empty() {
                // No new task once one failed: let the running ones end.
                queue = pending[..0].iter();
            }
        }
        if !failed.is_empty() {
            return Err(tasks_failed(&failed));
        }
    }
    study.collect()?;
    Ok(())
}

fn spawn(mut command: Command, log: &std::path::Path) -> Result<Child> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::file(log, e))?;
    let err = out.try_clone().map_err(|e| Error::file(log, e))?;
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| Error::file(log, format!("could not start {command:?}: {e}")))
}

fn tasks_failed(failed: &[(Task, PathBuf)]) -> Error {
    let list: Vec<String> = failed
        .iter()
        .map(|(t, log)| format!("{t} (see {})", log.display()))
        .collect();
    Error::config(
        "study",
        format!(
            "{} task(s) failed: {}; fix the cause and run the study again: finished tasks are kept",
            failed.len(),
            list.join(", ")
        ),
    )
}
