//! Where each file of a run directory lies, and writing them whole.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::read::optional_text;
use crate::records::{AlphaLine, MemoryLine, MetricLine, Summary};

/// The files of the run directory at `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFiles {
    root: PathBuf,
}

impl RunFiles {
    /// The name of the checkpoints' folder inside the run directory.
    pub const CHECKPOINTS: &str = "checkpoints";

    /// The append-only logs, metrics and α: a run resumed from a checkpoint cuts them back to
    /// the lengths they had when it was taken.
    pub const LOGS: [&str; 2] = ["metrics.jsonl", "alpha.jsonl"];

    /// The run directory at `root` (nothing is read or created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The full configuration (TOML).
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// The space searched (TOML).
    pub fn space(&self) -> PathBuf {
        self.root.join("space.toml")
    }

    /// The latency table a measured cost was profiled into (YAML).
    pub fn latency_table(&self) -> PathBuf {
        self.root.join("latency-table.yaml")
    }

    /// One [`MetricLine`] per line.
    pub fn metrics(&self) -> PathBuf {
        self.root.join(Self::LOGS[0])
    }

    /// One [`AlphaLine`] per line.
    pub fn alpha(&self) -> PathBuf {
        self.root.join(Self::LOGS[1])
    }

    /// One [`MemoryLine`] per epoch (a diagnostic: not cut back on resume, and an epoch killed
    /// between its checkpoint and this line has none).
    pub fn memory(&self) -> PathBuf {
        self.root.join("memory.jsonl")
    }

    /// The checkpoint folders (`epoch-N`).
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join(Self::CHECKPOINTS)
    }

    /// What the finished search derived.
    pub fn final_dir(&self) -> PathBuf {
        self.root.join("final")
    }

    /// The derived architecture as text.
    pub fn final_architecture_text(&self) -> PathBuf {
        self.final_dir().join("architecture.txt")
    }

    /// The derived architecture as JSON.
    pub fn final_architecture_json(&self) -> PathBuf {
        self.final_dir().join("architecture.json")
    }

    /// The derived architecture drawn (SVG).
    pub fn final_architecture_svg(&self) -> PathBuf {
        self.final_dir().join("architecture.svg")
    }

    /// The derived network in the official `net.config` format.
    pub fn final_net_config(&self) -> PathBuf {
        self.final_dir().join("net.config")
    }

    /// The [`Summary`] (JSON).
    pub fn final_summary(&self) -> PathBuf {
        self.final_dir().join("summary.json")
    }

    /// The HTML report and its pictures.
    pub fn report_dir(&self) -> PathBuf {
        self.root.join("report")
    }

    /// Writes `contents` to `path` atomically.
    pub fn write(&self, path: &Path, contents: &[u8]) -> Result<()> {
        proxyless_plumbing::write_atomic(path, contents).map_err(|e| Error::new(path, e))
    }

    /// Appends `line` to the metrics.
    pub fn append_metric(&self, line: &MetricLine) -> Result<()> {
        append(&self.metrics(), line)
    }

    /// Appends `line` to the α history.
    pub fn append_alpha(&self, line: &AlphaLine) -> Result<()> {
        append(&self.alpha(), line)
    }

    /// Appends `line` to the memory log.
    pub fn append_memory(&self, line: &MemoryLine) -> Result<()> {
        append(&self.memory(), line)
    }

    /// Keeps only the metrics and α lines of the first `epochs_done` epochs, as written (a run
    /// resumed from its last checkpoint drops what an interrupted epoch wrote).
    pub fn truncate_to_epochs(&self, epochs_done: usize) -> Result<()> {
        for path in [self.metrics(), self.alpha()] {
            let Some(text) = optional_text(&path)? else {
                continue;
            };
            let kept: String = text
                .lines()
                .filter(|line| {
                    serde_json::from_str::<serde_json::Value>(line)
                        .ok()
                        .and_then(|v| v["epoch"].as_u64())
                        .is_some_and(|e| (e as usize) < epochs_done)
                })
                .map(|l| format!("{l}\n"))
                .collect();
            self.write(&path, kept.as_bytes())?;
        }
        Ok(())
    }

    /// Writes the summary (pretty JSON and a final newline).
    pub fn write_summary(&self, summary: &Summary) -> Result<()> {
        let mut text = serde_json::to_string_pretty(summary).expect("a summary serialises");
        text.push('\n');
        self.write(&self.final_summary(), text.as_bytes())
    }
}

fn append(path: &Path, line: &impl Serialize) -> Result<()> {
    let value = serde_json::to_value(line).expect("a record serialises");
    proxyless_plumbing::append_json_line(path, &value).map_err(|e| Error::new(path, e))
}
