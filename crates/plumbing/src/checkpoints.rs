//! What a run needs to checkpoint inside an epoch and to resume from any checkpoint exactly:
//! when a checkpoint is due ([`Cadence`]), the running sums of an unfinished epoch
//! ([`EpochTotals`]), the lengths its log files had ([`LogLengths`]), checkpoint names that
//! sort in the order they were written, and publishing a checkpoint folder durably.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// When a run checkpoints inside an epoch, besides at its end: every `every_steps` steps,
/// every `every_minutes` minutes, or both (0 turns either off).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cadence {
    /// Steps between checkpoints inside an epoch (0: none by count).
    pub every_steps: usize,
    /// Minutes between checkpoints inside an epoch (0: none by time).
    pub every_minutes: f64,
}

/// Counts an epoch's steps and time since its last checkpoint (or the session's start)
/// against a [`Cadence`], and credits that time to the epoch's [`EpochTotals`].
#[derive(Debug, Clone)]
pub struct CadenceClock {
    cadence: Cadence,
    steps: usize,
    since: Instant,
}

impl CadenceClock {
    /// A clock starting now.
    pub fn new(cadence: Cadence) -> Self {
        Self {
            cadence,
            steps: 0,
            since: Instant::now(),
        }
    }

    /// Counts a step; true when a checkpoint is due inside the epoch (never after its
    /// `last` step, which the end of the epoch checkpoints). When due, the time since the last
    /// checkpoint is added to `totals.seconds` and the clock starts again.
    pub fn checkpoint_due(&mut self, totals: &mut EpochTotals, last: bool) -> bool {
        self.steps += 1;
        let by_steps = self.cadence.every_steps > 0 && self.steps >= self.cadence.every_steps;
        let by_time = self.cadence.every_minutes > 0.0
            && self.since.elapsed().as_secs_f64() >= self.cadence.every_minutes * 60.0;
        let due = (by_steps || by_time) && !last;
        if due {
            self.credit(totals);
        }
        due
    }

    /// Adds the time since the last checkpoint to `totals.seconds` and starts again (at the
    /// end of the epoch).
    pub fn credit(&mut self, totals: &mut EpochTotals) {
        totals.seconds += self.since.elapsed().as_secs_f64();
        self.steps = 0;
        self.since = Instant::now();
    }
}

/// The seed of step `step` of an epoch's random stream `seed`: each step draws from a stream
/// of its own, so a run resumed inside an epoch draws what the uninterrupted run drew.
pub fn step_seed(seed: u64, step: usize) -> u64 {
    seed ^ (step as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93)
}

/// The running sums of an epoch's training steps, saved with a checkpoint taken inside the
/// epoch so that the resumed epoch reports what the uninterrupted one would.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct EpochTotals {
    /// Steps of the epoch done.
    pub steps: usize,
    /// Sum of the steps' mean losses, each weighted by its batch size.
    pub loss_sum: f64,
    /// Images classified correctly.
    pub correct: usize,
    /// Images seen.
    pub seen: usize,
    /// Seconds spent in the epoch so far, over every session.
    pub seconds: f64,
}

impl EpochTotals {
    /// Adds a step of `total` images with mean loss `loss`, `correct` of them right.
    pub fn add(&mut self, loss: f64, correct: usize, total: usize) {
        self.steps += 1;
        self.loss_sum += loss * total as f64;
        self.correct += correct;
        self.seen += total;
    }

    /// Mean loss per image.
    pub fn loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1) as f64
    }

    /// Share of images classified correctly.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.seen.max(1) as f64
    }
}

/// The lengths in bytes of a run's append-only logs when a checkpoint was taken; resuming
/// from it cuts each log back to its length, dropping what later steps wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogLengths(pub Vec<(String, u64)>);

impl LogLengths {
    /// The current lengths of the files `names` in `dir` (0 for a file not yet written).
    pub fn measure(dir: &Path, names: &[&str]) -> Self {
        Self(
            names
                .iter()
                .map(|n| {
                    let len = std::fs::metadata(dir.join(n)).map_or(0, |m| m.len());
                    (n.to_string(), len)
                })
                .collect(),
        )
    }

    /// Cuts every log in `dir` back to its recorded length. A log shorter than recorded
    /// lost lines the checkpoint relies on: an error naming it.
    pub fn restore(&self, dir: &Path) -> std::io::Result<()> {
        for (name, len) in &self.0 {
            let path = dir.join(name);
            let now = std::fs::metadata(&path).map_or(0, |m| m.len());
            if now < *len {
                return Err(std::io::Error::other(format!(
                    "{} holds {now} bytes, but the checkpoint was taken when it held {len}",
                    path.display()
                )));
            }
            if now > *len {
                let file = std::fs::OpenOptions::new().write(true).open(&path)?;
                file.set_len(*len)?;
                file.sync_all()?;
            }
        }
        Ok(())
    }
}

/// The name of the checkpoint taken after `epochs_done` epochs and, inside the next epoch,
/// after `steps` of its steps: `epoch-0002`, `epoch-0002-step-0000050`. Names sort in the
/// order the checkpoints were taken.
pub fn checkpoint_name(epochs_done: usize, steps: Option<usize>) -> String {
    match steps {
        None => format!("epoch-{epochs_done:04}"),
        Some(s) => format!("epoch-{epochs_done:04}-step-{s:07}"),
    }
}

/// Publishes the checkpoint folder `tmp` as `fin`: every file in it and the folder are
/// flushed to disk, then it is renamed into place and the rename itself is flushed, so that
/// after a crash `fin` either is complete or does not exist. An older `fin` is replaced
/// only once the new one is in place.
pub fn publish_dir(tmp: &Path, fin: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(tmp)? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    sync_dir(tmp)?;
    let old = fin.exists().then(|| sibling(fin, "old"));
    if let Some(old) = &old {
        let _ = std::fs::remove_dir_all(old);
        std::fs::rename(fin, old)?;
    }
    std::fs::rename(tmp, fin)?;
    if let Some(parent) = fin.parent() {
        sync_dir(parent)?;
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(old)?;
    }
    Ok(())
}

/// Writes the folder `fin` whole: `write` fills a temporary folder beside it, which
/// [`publish_dir`] then puts in place. When anything fails (a full disk, a kill) the
/// temporary folder is removed (or, after a kill, replaced by the next try) and `fin` is as
/// it was.
pub fn write_dir(
    fin: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    let tmp = sibling(fin, "tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let result = std::fs::create_dir_all(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))
        .and_then(|()| write(&tmp))
        .and_then(|()| publish_dir(&tmp, fin).map_err(|e| e.to_string()));
    result.inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&tmp);
    })
}

/// Writes the checkpoint folder `fin` through [`write_dir`]; a failure says that the earlier
/// checkpoints are untouched.
pub fn write_checkpoint(
    fin: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    write_dir(fin, write).map_err(|e| {
        format!("the checkpoint was not written ({e}); the earlier checkpoints are untouched")
    })
}

/// `.NAME.what` beside `path`.
fn sibling(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into());
    path.with_file_name(format!(".{name}.{what}"))
}

/// Flushes a directory's entries (a rename or a new file in it) to disk.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_the_order_checkpoints_are_taken() {
        let names = [
            checkpoint_name(1, None),
            checkpoint_name(1, Some(5)),
            checkpoint_name(1, Some(40)),
            checkpoint_name(1, Some(1_000_000)),
            checkpoint_name(2, None),
            checkpoint_name(10, None),
        ];
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, names);
    }

    #[test]
    fn a_cadence_by_steps_is_due_every_n_steps() {
        let mut clock = CadenceClock::new(Cadence {
            every_steps: 3,
            every_minutes: 0.0,
        });
        let mut totals = EpochTotals::default();
        let due: Vec<bool> = (0..7)
            .map(|_| clock.checkpoint_due(&mut totals, false))
            .collect();
        assert_eq!(due, [false, false, true, false, false, true, false]);
        let mut off = CadenceClock::new(Cadence::default());
        assert!((0..100).all(|_| !off.checkpoint_due(&mut totals, false)));
        // Never after the epoch's last step.
        let mut every = CadenceClock::new(Cadence {
            every_steps: 1,
            every_minutes: 0.0,
        });
        assert!(every.checkpoint_due(&mut totals, false));
        assert!(!every.checkpoint_due(&mut totals, true));
    }

    #[test]
    fn logs_are_cut_back_to_their_recorded_length() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jsonl"), "one\n").unwrap();
        let lengths = LogLengths::measure(dir.path(), &["a.jsonl", "b.jsonl"]);
        assert_eq!(lengths.0, [("a.jsonl".into(), 4), ("b.jsonl".into(), 0)]);
        std::fs::write(dir.path().join("a.jsonl"), "one\ntwo\n").unwrap();
        std::fs::write(dir.path().join("b.jsonl"), "x\n").unwrap();
        lengths.restore(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.jsonl")).unwrap(),
            "one\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("b.jsonl")).unwrap(),
            ""
        );
        std::fs::write(dir.path().join("a.jsonl"), "").unwrap();
        let err = lengths.restore(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a.jsonl") && err.contains("held 4"), "{err}");
    }

    #[test]
    fn a_failed_checkpoint_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let fin = dir.path().join("epoch-0001");
        let err = write_checkpoint(&fin, |tmp| {
            std::fs::write(tmp.join("weights"), "half").unwrap();
            Err("weights: No space left on device".into())
        })
        .unwrap_err();
        assert!(
            err.contains("No space left") && err.contains("untouched"),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_checkpoint(&fin, |tmp| {
            std::fs::write(tmp.join("weights"), "whole").map_err(|e| e.to_string())
        })
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(fin.join("weights")).unwrap(),
            "whole"
        );
    }

    #[test]
    fn publishing_replaces_an_older_folder_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, fin) = (dir.path().join(".c.tmp"), dir.path().join("c"));
        for text in ["first", "second"] {
            std::fs::create_dir_all(&tmp).unwrap();
            std::fs::write(tmp.join("state.json"), text).unwrap();
            publish_dir(&tmp, &fin).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(fin.join("state.json")).unwrap(),
            "second"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary or old folder is left");
    }
}
