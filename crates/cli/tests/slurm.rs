//! The study's Slurm jobs on a real single-node Slurm: Debian's slurm-wlm and munge, started
//! as root by `xtask/assets/slurm-single-node.sh` (slurmctld and slurmd on localhost, state in
//! a temporary directory). `cargo xtask test --slurm` installs them and runs this test.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{success, tiny_study, without_times};
use serde_json::Value;

/// The single-node cluster, stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    conf: String,
}

impl Cluster {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(common::repo_file("xtask/assets/slurm-single-node.sh"))
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("bash runs");
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "the cluster did not start: {printed}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let conf = printed
            .lines()
            .find_map(|l| l.strip_prefix("SLURM_CONF="))
            .expect("the script prints SLURM_CONF")
            .to_string();
        Self { dir, conf }
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new(program)
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(common::repo_file("xtask/assets/slurm-single-node.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

fn record(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("study.json")).unwrap()).unwrap()
}

#[test]
#[ignore = "needs root and Debian's slurm-wlm and munge: cargo xtask test --slurm"]
fn a_study_submitted_to_slurm_records_what_one_process_records() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_study(dir.path());
    let single = dir.path().join("single");
    success(&[
        "study",
        "--config",
        &config,
        "--out",
        &single.display().to_string(),
        "--quiet",
    ]);
    let study = dir.path().join("slurm-study");
    let s = study.display().to_string();
    success(&[
        "study",
        "--config",
        &config,
        "--out",
        &s,
        "--emit",
        "slurm",
        "--sbatch=--cpus-per-task=1",
    ]);
    let submitted = cluster.run("bash", &[&format!("{s}/slurm/submit.sh")]);
    assert!(submitted.contains("searches: job"), "{submitted}");
    // Searches, plan, retrainings, collection: the queue empties once the last job is done.
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let queue = cluster.run("squeue", &["-h", "-o", "%i %j %T"]);
        if queue.trim().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still queued: {queue}");
    }
    let logs: Vec<String> = std::fs::read_dir(study.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let collect = logs
        .iter()
        .find(|l| l.starts_with("slurm-proxyless-collect-"))
        .unwrap_or_else(|| panic!("no collect job ran: {logs:?}"));
    let summary = std::fs::read_to_string(study.join("logs").join(collect)).unwrap();
    assert!(summary.contains("0 task(s) not done"), "{summary}");
    assert!(summary.contains("searched − random"), "{summary}");
    assert_eq!(
        logs.iter()
            .filter(|l| l.starts_with("slurm-proxyless-retrain-"))
            .count(),
        9,
        "{logs:?}"
    );
    assert_eq!(
        without_times(&record(&study)),
        without_times(&record(&single))
    );
}
