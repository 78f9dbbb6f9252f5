//! `cargo xtask chaos [--kills N] [--seed S] [--only search|reinforce|train|study]`: kills
//! small runs with SIGKILL at random moments, some while a checkpoint or a study's record is
//! being written, resumes them, and checks that each ends bitwise as an uninterrupted run of
//! the same configuration.
//!
//! For each scenario (a gradient search with a constraint, a REINFORCE search, a training, a
//! tiny study of two searches and nine retrainings) it
//! runs the release `proxyless` once uninterrupted as the reference, noting the checkpoints it
//! takes (one every few steps). Then a second run is killed `N` times: before kill `k` it is
//! started or resumed and allowed to reach the reference's checkpoint at a random share of the
//! run; it is then killed at once, or (every other kill) the moment the next checkpoint folder
//! is being written. After the last kill it is resumed to the end and compared with the
//! reference: the metrics (wall times aside), α, the architecture and the fingerprint of the
//! final weights for a search; the metrics, the test evaluation and the weights' fingerprint
//! of the final checkpoint for a training; `study.json` for a study (its wall times and
//! measured latencies aside). A study's progress is every checkpoint of its searches and
//! retrainings; its kills alternate between at once, during a checkpoint's write and during
//! the write of `study.json` or its pages.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cargo;

/// A run the chaos kills: how to start it in a directory and how to resume it.
struct Scenario {
    name: &'static str,
    start: Vec<String>,
    resume: Vec<String>,
    /// The files compared with the reference, with the lines or keys left out of each.
    compare: fn(&Path, &Path) -> Result<(), String>,
    /// The complete checkpoints the run has taken so far (its progress), oldest first.
    progress: fn(&Path) -> Vec<String>,
    /// Whether the run is writing what a kill should interrupt: on kill `k`, `None` kills at
    /// once, otherwise when this says the write is under way.
    writing: fn(&Path, usize) -> Option<bool>,
}

/// A small xorshift generator: the xtask has no dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs the chaos.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut kills = 10;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut only: Option<String> = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--kills" => kills = value()?.parse().map_err(|e| format!("--kills: {e}"))?,
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--only" => only = Some(value()?.clone()),
            other => return Err(format!("chaos: unknown argument {other}")),
        }
    }
    cargo::run(&["build", "--release", "--package", "proxyless-cli"], &[])?;
    let root = crate::repo_root();
    let binary = root.join("target/release/proxyless");
    let work = root.join("target/chaos");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    println!(
        "chaos: seed {seed}, {kills} kills per scenario, in {}",
        work.display()
    );
    let mut rng = Rng(seed.max(1));
    let mut failed = Vec::new();
    for scenario in scenarios(&work)? {
        if only.as_deref().is_some_and(|o| o != scenario.name) {
            continue;
        }
        match run_scenario(&binary, &work, &scenario, kills, &mut rng) {
            Ok(()) => println!(
                "{}: {kills}/{kills} kills resumed; the end is bitwise the reference's",
                scenario.name
            ),
            Err(e) => {
                println!("{}: FAILED: {e}", scenario.name);
                failed.push(scenario.name);
            }
        }
    }
    if failed.is_empty() {
        println!("chaos: every scenario passed (seed {seed})");
        Ok(())
    } else {
        Err(format!(
            "chaos failed for {} (seed {seed})",
            failed.join(", ")
        ))
    }
}

fn scenarios(work: &Path) -> Result<Vec<Scenario>, String> {
    let search = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "--quiet",
            "search",
            "--set",
            "data.dataset=\"synthetic\"",
            "--set",
            "data.synthetic_per_class=60",
            "--set",
            "data.train_limit=600",
            "--set",
            "data.holdout=128",
            "--set",
            "data.batch_size=16",
            "--set",
            "data.arch_batch_size=16",
            "--set",
            "schedule.warmup_epochs=1",
            "--set",
            "schedule.epochs=2",
            "--set",
            "schedule.log_every=1",
            "--set",
            "schedule.checkpoint_every_steps=4",
            "--set",
            "schedule.keep_checkpoints=1000",
        ]
        .map(String::from)
        .to_vec();
        for e in extra {
            args.extend(["--set".to_string(), e.to_string()]);
        }
        args
    };
    let recipe = work.join("train.toml");
    std::fs::write(
        &recipe,
        "seed = 3\nepochs = 3\n[data]\ndataset = \"synthetic\"\nbatch_size = 16\n\
         synthetic_per_class = 40\nresolution = 28\n[optim]\nlr = 0.1\ndropout = 0.2\n\
         [checkpoint]\nevery_steps = 4\nkeep = 1000\n",
    )
    .map_err(|e| format!("{}: {e}", recipe.display()))?;
    let architecture = work.join("architecture.txt");
    std::fs::write(
        &architecture,
        "k3e3 zero | k5e3 zero zero | k3e6 zero zero | k7e3\n",
    )
    .map_err(|e| format!("{}: {e}", architecture.display()))?;
    let train = vec![
        "--quiet".to_string(),
        "train".into(),
        architecture.display().to_string(),
        "--space".into(),
        "fmnist".into(),
        "--config".into(),
        recipe.display().to_string(),
    ];
    Ok(vec![
        Scenario {
            name: "search",
            start: search(&["target.loss=\"constraint\""]),
            resume: vec!["--quiet".into(), "search".into()],
            compare: compare_search,
            progress: checkpoints,
            writing: checkpoint_writing,
        },
        Scenario {
            name: "reinforce",
            start: search(&["arch.algorithm=\"reinforce\"", "target.loss=\"mul#log\""]),
            resume: vec!["--quiet".into(), "search".into()],
            compare: compare_search,
            progress: checkpoints,
            writing: checkpoint_writing,
        },
        Scenario {
            name: "train",
            start: train,
            resume: vec!["--quiet".into(), "train".into()],
            compare: compare_train,
            progress: checkpoints,
            writing: checkpoint_writing,
        },
        Scenario {
            name: "study",
            start: study(work)?,
            resume: vec!["--quiet".into(), "study".into()],
            compare: compare_study,
            progress: study_checkpoints,
            writing: study_writing,
        },
    ])
}

/// A study of two small searches on synthetic images and nine networks retrained for one
/// epoch, every run taking a checkpoint every few steps.
fn study(work: &Path) -> Result<Vec<String>, String> {
    let write = |name: &str, text: &str| {
        let path = work.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(
        "study-search.toml",
        "space = \"fmnist\"\n[data]\ndataset = \"synthetic\"\nholdout = 32\nbatch_size = 16\n\
         arch_batch_size = 16\nsynthetic_per_class = 16\n[schedule]\nwarmup_epochs = 1\n\
         epochs = 2\narch_delay_epochs = 0\nlog_every = 2\ncheckpoint_every_steps = 3\n\
         keep_checkpoints = 1000\n[target]\ncost = \"macs\"\nreference = 3.0\n",
    )?;
    write(
        "study-train.toml",
        "epochs = 1\n[data]\ndataset = \"synthetic\"\nbatch_size = 16\nresolution = 28\n\
         [optim]\nlr = 0.1\n[checkpoint]\nevery_steps = 3\nkeep = 1000\n",
    )?;
    write(
        "study.toml",
        "search = \"study-search.toml\"\ntrain = \"study-train.toml\"\nsearch_seeds = [0, 1]\n\
         random_per_search = 2\ntrain_seeds = [3]\ntrain_epochs = 1\ntrain_limit = 96\n\
         test_limit = 40\nlatency_batch = 2\nlatency_runs = 3\n",
    )?;
    Ok(vec![
        "--quiet".into(),
        "study".into(),
        "--config".into(),
        work.join("study.toml").display().to_string(),
    ])
}

fn spawn(binary: &Path, args: &[String], out_flag: &str, dir: &Path) -> Result<Child, String> {
    Command::new(binary)
        .args(["--backend", "flex"])
        .args(args)
        .arg(out_flag)
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))
}

fn finish(child: Child, what: &str) -> Result<(), String> {
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The complete checkpoints of a run, oldest first.
fn checkpoints(run: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("epoch-"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Whether a checkpoint folder is being written (its temporary folder exists).
fn writing(run: &Path) -> bool {
    std::fs::read_dir(run.join("checkpoints")).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
    })
}

/// Every other kill of a run waits for a checkpoint's write.
fn checkpoint_writing(run: &Path, kill: usize) -> Option<bool> {
    (kill % 2 == 1).then(|| writing(run))
}

/// The runs of a study: its searches and its retrainings.
fn study_runs(study: &Path) -> Vec<PathBuf> {
    let list = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut runs: Vec<PathBuf> = list(study)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("search-"))
        })
        .collect();
    runs.extend(list(&study.join("train")));
    runs.sort();
    runs
}

/// Every complete checkpoint of a study's runs (the study's progress; none is deleted).
fn study_checkpoints(study: &Path) -> Vec<String> {
    study_runs(study)
        .iter()
        .flat_map(|run| {
            let name = run
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            checkpoints(run)
                .into_iter()
                .map(move |c| format!("{name}/{c}"))
        })
        .collect()
}

/// A study's kills cycle: at once, during a checkpoint's write, during the write of
/// `study.json` or a page (a temporary file of the study directory exists).
fn study_writing(study: &Path, kill: usize) -> Option<bool> {
    match kill % 3 {
        0 => None,
        1 => Some(study_runs(study).iter().any(|r| writing(r))),
        _ => Some(std::fs::read_dir(study).is_ok_and(|d| {
            d.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(".study.") && name.contains(".tmp-")
            })
        })),
    }
}

fn run_scenario(
    binary: &Path,
    work: &Path,
    s: &Scenario,
    kills: usize,
    rng: &mut Rng,
) -> Result<(), String> {
    let reference = work.join(format!("{}-reference", s.name));
    let started = Instant::now();
    finish(
        spawn(binary, &s.start, "--out", &reference)?,
        "the reference run",
    )?;
    let marks = (s.progress)(&reference);
    println!(
        "{}: reference run {:.1} s, {} checkpoints",
        s.name,
        started.elapsed().as_secs_f64(),
        marks.len()
    );
    if marks.len() < kills + 2 {
        return Err(format!(
            "{} checkpoints are too few for {kills} kills",
            marks.len()
        ));
    }
    // Kill k waits for the checkpoint at a random share of the run; the shares rise.
    let mut shares: Vec<f64> = (0..kills).map(|_| 0.05 + 0.85 * rng.unit()).collect();
    shares.sort_by(f64::total_cmp);
    let run = work.join(format!("{}-killed", s.name));
    for (k, share) in shares.iter().enumerate() {
        let index = ((marks.len() - 1) as f64 * share) as usize;
        let mark = &marks[index];
        let mut child = if k == 0 {
            spawn(binary, &s.start, "--out", &run)?
        } else {
            spawn(binary, &s.resume, "--resume", &run)?
        };
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut reached = false;
        loop {
            if child.try_wait().map_err(|e| e.to_string())?.is_some() {
                return Err(format!(
                    "kill {}: the run ended before it was killed",
                    k + 1
                ));
            }
            if !reached {
                reached = (s.progress)(&run).len() > index;
            }
            if reached && (s.writing)(&run, k).unwrap_or(true) {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!("kill {}: {mark} never came", k + 1));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        child.kill().map_err(|e| format!("kill {}: {e}", k + 1))?;
        let _ = child.wait();
        let newest = (s.progress)(&run).last().cloned().unwrap_or_default();
        println!(
            "{}: kill {:>2}/{kills} after {mark}{}; newest complete checkpoint {newest}",
            s.name,
            k + 1,
            if (s.writing)(&run, k) == Some(true) {
                ", while a checkpoint or record was being written"
            } else {
                ""
            },
        );
    }
    finish(
        spawn(binary, &s.resume, "--resume", &run)?,
        "the last resume",
    )?;
    (s.compare)(&reference, &run)
}

/// `path`'s lines without the fields named `keys` (JSON lines written by the tool, one
/// object per line), so wall times can be left out of a comparison.
fn lines_without(path: &Path, keys: &[&str]) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text.lines().map(|l| strip_keys(l, keys)).collect())
}

/// A JSON object's text without the numeric fields `keys` (`"key":value` and its comma, up
/// to the closing brace; pretty-printed lines `"key": value,` likewise).
fn strip_keys(line: &str, keys: &[&str]) -> String {
    let mut out = line.to_string();
    for key in keys {
        for pattern in [format!("\"{key}\":"), format!("\"{key}\": ")] {
            while let Some(at) = out.find(&pattern) {
                let rest = &out[at + pattern.len()..];
                let end = rest.find([',', '}']).unwrap_or(rest.len());
                let comma = usize::from(rest[end..].starts_with(','));
                out.replace_range(at..at + pattern.len() + end + comma, "");
            }
        }
    }
    out
}

fn same_lines(a: &Path, b: &Path, keys: &[&str]) -> Result<(), String> {
    let (x, y) = (lines_without(a, keys)?, lines_without(b, keys)?);
    if x == y {
        return Ok(());
    }
    let first = x
        .iter()
        .zip(&y)
        .position(|(p, q)| p != q)
        .unwrap_or(x.len().min(y.len()));
    Err(format!(
        "{} differs from {} at line {} ({} vs {} lines): {:?} vs {:?}",
        b.display(),
        a.display(),
        first + 1,
        y.len(),
        x.len(),
        x.get(first),
        y.get(first)
    ))
}

fn compare_search(reference: &Path, run: &Path) -> Result<(), String> {
    same_lines(
        &reference.join("metrics.jsonl"),
        &run.join("metrics.jsonl"),
        &["seconds"],
    )?;
    same_lines(
        &reference.join("alpha.jsonl"),
        &run.join("alpha.jsonl"),
        &[],
    )?;
    same_lines(
        &reference.join("final/summary.json"),
        &run.join("final/summary.json"),
        &["seconds", "measured_latency_ms"],
    )?;
    same_lines(
        &reference.join("final/architecture.txt"),
        &run.join("final/architecture.txt"),
        &[],
    )
}

fn compare_study(reference: &Path, run: &Path) -> Result<(), String> {
    same_lines(
        &reference.join("study.json"),
        &run.join("study.json"),
        &["seconds", "train_seconds", "measured_ms"],
    )
}

fn compare_train(reference: &Path, run: &Path) -> Result<(), String> {
    same_lines(
        &reference.join("metrics.jsonl"),
        &run.join("metrics.jsonl"),
        &["train_seconds", "images_per_second"],
    )?;
    let newest = |r: &Path| -> PathBuf {
        let name = checkpoints(r).last().cloned().unwrap_or_default();
        r.join("checkpoints").join(name).join("state.json")
    };
    // The weights' fingerprint, the steps and the test evaluation; not the wall times or the
    // logs' lengths (which count the wall times' digits).
    let kept = |path: &Path| -> Result<Vec<String>, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(text
            .lines()
            .filter(|l| {
                [
                    "weights_fingerprint",
                    "\"steps\"",
                    "top1",
                    "top5",
                    "\"loss\"",
                    "epochs_done",
                ]
                .iter()
                .any(|k| l.contains(k))
            })
            .map(String::from)
            .collect())
    };
    let (a, b) = (kept(&newest(reference))?, kept(&newest(run))?);
    if a.len() < 6 || a != b {
        return Err(format!("the final checkpoints differ: {a:?} vs {b:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_times_are_left_out_of_lines() {
        assert_eq!(
            strip_keys(r#"{"a":1,"seconds":2.5,"b":3}"#, &["seconds"]),
            r#"{"a":1,"b":3}"#
        );
        assert_eq!(
            strip_keys(r#"{"a":1,"seconds":2.5}"#, &["seconds"]),
            r#"{"a":1,}"#
        );
        assert_eq!(strip_keys(r#"  "seconds": 12.0,"#, &["seconds"]), "  ");
    }
}
