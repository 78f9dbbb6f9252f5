//! A study for a Slurm cluster: job scripts in `<study>/slurm/` and `submit.sh`, which
//! submits the searches as a job array and, after them, the plan; the plan's job submits the
//! retrainings as a second array once it knows how many there are, and after them a last job
//! that collects the record. The shared study directory is the only coordination: a task
//! rerun (a requeued or resubmitted job) finds its result or resumes its checkpoint.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::record::write_text;

/// What the job scripts run and ask Slurm for.
#[derive(Debug, Clone)]
pub struct SlurmJobs {
    /// The `proxyless` binary (an absolute path the nodes can run).
    pub binary: PathBuf,
    /// Global arguments before `study` (`--backend cuda`).
    pub global_args: Vec<String>,
    /// Extra `#SBATCH` options for every job (`--partition=gpu`, `--gres=gpu:1`,
    /// `--time=04:00:00`), written as given.
    pub sbatch: Vec<String>,
    /// How many searches (the first array's size).
    pub searches: usize,
}

/// Writes the scripts into `<study>/slurm/` and returns the path of `submit.sh`.
pub fn write_slurm_jobs(study: &Path, jobs: &SlurmJobs) -> Result<PathBuf> {
    let study = std::path::absolute(study).map_err(|e| Error::file(study, e))?;
    let dir = study.join("slurm");
    let quote = |p: &Path| shell_quote(&p.display().to_string());
    let bin = std::iter::once(quote(&jobs.binary))
        .chain(jobs.global_args.iter().map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ");
    let study_q = quote(&study);
    let dir_q = quote(&dir);
    // Array jobs log per element (`%A_%a`), the others per job (`%j`).
    let header = |name: &str| {
        let log = match name {
            "search" | "retrain" => "%A_%a",
            _ => "%j",
        };
        let mut text = format!(
            "#!/bin/bash\n#SBATCH --job-name=proxyless-{name}\n#SBATCH --output={}/logs/slurm-%x-{log}.log\n",
            study.display()
        );
        for option in &jobs.sbatch {
            text.push_str(&format!("#SBATCH {option}\n"));
        }
        text.push_str("set -euo pipefail\n");
        text
    };
    let task = |spec: &str| format!("{bin} --quiet study task {study_q} \"{spec}\" --wait\n");
    let scripts = [
        (
            "search.sbatch",
            header("search") + &task("search:${SLURM_ARRAY_TASK_ID}"),
        ),
        (
            "plan.sbatch",
            header("plan")
                + &task("plan")
                + &format!(
                    "count=$({bin} --quiet study status {study_q} --count retrain)\n\
                     retrain=$(sbatch --parsable --array=0-$((count - 1)) {dir_q}/retrain.sbatch)\n\
                     sbatch --parsable --dependency=afterok:${{retrain%%;*}} {dir_q}/collect.sbatch\n"
                ),
        ),
        (
            "retrain.sbatch",
            header("retrain") + &task("retrain:${SLURM_ARRAY_TASK_ID}"),
        ),
        (
            "collect.sbatch",
            header("collect") + &format!("{bin} study status {study_q}\n"),
        ),
        (
            "submit.sh",
            format!(
                "#!/bin/bash\n\
                 # Submits the study in {study}: the searches as an array, then the plan,\n\
                 # whose job submits the retrainings and the last job that collects them.\n\
                 # Safe to run again after a failure: finished tasks are kept.\n\
                 set -euo pipefail\n\
                 mkdir -p {study_q}/logs\n\
                 search=$(sbatch --parsable --array=0-{last} {dir_q}/search.sbatch)\n\
                 plan=$(sbatch --parsable --dependency=afterok:${{search%%;*}} {dir_q}/plan.sbatch)\n\
                 echo \"searches: job ${{search%%;*}}, plan: job ${{plan%%;*}} (logs in {logs})\"\n",
                study = study.display(),
                last = jobs.searches.saturating_sub(1),
                logs = study.join("logs").display(),
            ),
        ),
    ];
    for (name, text) in scripts {
        let path = dir.join(name);
        write_text(&path, &text)?;
        set_executable(&path)?;
    }
    Ok(dir.join("submit.sh"))
}

/// `text` as one word for bash (single-quoted unless it is plainly safe).
fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::file(path, e))
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_with_spaces_or_quotes_are_quoted_for_bash() {
        assert_eq!(shell_quote("/opt/proxyless"), "/opt/proxyless");
        assert_eq!(shell_quote("my study"), "'my study'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_scripts_chain_searches_plan_retrainings_and_collection() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = SlurmJobs {
            binary: "/opt/bin/proxyless".into(),
            global_args: vec!["--backend".into(), "cuda".into()],
            sbatch: vec!["--gres=gpu:1".into()],
            searches: 3,
        };
        let submit = write_slurm_jobs(dir.path(), &jobs).unwrap();
        let text = std::fs::read_to_string(&submit).unwrap();
        assert!(text.contains("--array=0-2 "), "{text}");
        assert!(
            text.contains("--dependency=afterok:${search%%;*}"),
            "{text}"
        );
        let slurm = dir.path().join("slurm");
        let plan = std::fs::read_to_string(slurm.join("plan.sbatch")).unwrap();
        assert!(plan.contains("#SBATCH --gres=gpu:1"));
        assert!(plan.contains("/opt/bin/proxyless --backend cuda --quiet study task"));
        assert!(plan.contains("status") && plan.contains("--count retrain"));
        let search = std::fs::read_to_string(slurm.join("search.sbatch")).unwrap();
        assert!(search.contains("\"search:${SLURM_ARRAY_TASK_ID}\" --wait"));
    }
}
