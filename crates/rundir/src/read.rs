//! A run directory read back, typed: what a report or a later command needs of a run.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::files::RunFiles;
use crate::records::{AlphaLine, MetricLine, Summary};

/// What a run's configuration says of its cost target.
#[derive(Debug, Clone, PartialEq)]
pub struct RunTarget {
    /// The cost source (`macs`, `measured`, `measured:BACKEND`, a table's path or name, or
    /// `none`).
    pub cost: String,
    /// The target the cost is held to, when the run has a cost.
    pub reference: Option<f64>,
}

/// A run directory read whole.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Its files.
    pub files: RunFiles,
    /// The configuration as written (TOML text).
    pub config_text: String,
    /// The space as written (TOML text).
    pub space_text: String,
    /// The cost target of the configuration.
    pub target: RunTarget,
    /// Every metrics line, in order.
    pub metrics: Vec<MetricLine>,
    /// Every α line, in order.
    pub alphas: Vec<AlphaLine>,
    /// The final architecture (text), once the search finished.
    pub final_architecture: Option<String>,
    /// The summary, once the search finished.
    pub summary: Option<Summary>,
}

impl RunRecord {
    /// Reads the run directory at `root`; a missing or malformed file is an error that names
    /// it (and the line). The final files are optional: a run in progress has none.
    pub fn read(root: &Path) -> Result<Self> {
        let files = RunFiles::new(root);
        let config_text = read_text(&files.config())?;
        let target = target_of(&config_text, &files.config())?;
        let final_architecture =
            optional_text(&files.final_architecture_text())?.map(|t| t.trim().to_string());
        let summary = match optional_text(&files.final_summary())? {
            Some(text) => Some(
                serde_json::from_str(&text).map_err(|e| Error::new(files.final_summary(), e))?,
            ),
            None => None,
        };
        Ok(Self {
            space_text: read_text(&files.space())?,
            metrics: json_lines(&files.metrics())?,
            alphas: json_lines(&files.alpha())?,
            config_text,
            target,
            final_architecture,
            summary,
            files,
        })
    }

    /// The architecture to show: the final one, else the last finished epoch's.
    pub fn architecture(&self) -> Option<&str> {
        self.final_architecture.as_deref().or_else(|| {
            self.metrics.iter().rev().find_map(|m| match m {
                MetricLine::Epoch { architecture, .. } => Some(architecture.as_str()),
                _ => None,
            })
        })
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::new(path, e))
}

pub(crate) fn optional_text(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new(path, e)),
    }
}

/// The JSON lines of `path` (blank lines skipped), naming file and line in errors.
fn json_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    read_text(path)?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::new(format!("{}:{}", path.display(), i + 1), e))
        })
        .collect()
}

/// The `[target]` of a configuration: `cost` (default `none`) and `reference`.
fn target_of(config: &str, path: &Path) -> Result<RunTarget> {
    let table: toml::Table = config.parse().map_err(|e| Error::new(path, e))?;
    let target = table.get("target").and_then(|t| t.as_table());
    let cost = match target.and_then(|t| t.get("cost")) {
        None => "none".to_string(),
        Some(toml::Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(Error::new(
                path,
                format!("target.cost: expected text, got {other}"),
            ));
        }
    };
    let reference = match target.and_then(|t| t.get("reference")) {
        None => None,
        Some(toml::Value::Float(f)) => Some(*f),
        Some(toml::Value::Integer(i)) => Some(*i as f64),
        Some(other) => {
            return Err(Error::new(
                path,
                format!("target.reference: expected a number, got {other}"),
            ));
        }
    };
    let reference = reference.filter(|_| cost != "none");
    Ok(RunTarget { cost, reference })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_written_through_the_types_reads_back_and_a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let files = RunFiles::new(dir.path());
        files
            .write(
                &files.config(),
                b"[target]\ncost = \"macs\"\nreference = 3\n",
            )
            .unwrap();
        files.write(&files.space(), b"name = \"x\"\n").unwrap();
        let step = MetricLine::Step {
            epoch: 0,
            step: 50,
            lr: 0.1,
            loss: 2.0,
            accuracy: 0.25,
            entropy: 1.9,
        };
        let epoch = MetricLine::Epoch {
            epoch: 0,
            holdout_accuracy: 0.5,
            entropy: 1.8,
            expected_cost: Some(3.1),
            derived_cost: None,
            architecture: "k3e3 | zero".into(),
            seconds: 12.0,
        };
        files.append_metric(&step).unwrap();
        files.append_metric(&epoch).unwrap();
        let alpha = AlphaLine {
            epoch: 0,
            alpha: vec![vec![0.0, 1.0]],
            probs: vec![vec![0.27, 0.73]],
            entropy: vec![0.58],
        };
        files.append_alpha(&alpha).unwrap();
        let run = RunRecord::read(dir.path()).unwrap();
        assert_eq!(run.metrics, [step.clone(), epoch]);
        assert_eq!(run.alphas, [alpha]);
        assert_eq!(run.architecture(), Some("k3e3 | zero"));
        assert_eq!(
            run.target,
            RunTarget {
                cost: "macs".into(),
                reference: Some(3.0)
            }
        );
        assert!(run.summary.is_none());
        // The lines are byte for byte what the driver wrote before it had types: the kind as
        // a field, keys in order, a missing cost as null.
        let text = std::fs::read_to_string(files.metrics()).unwrap();
        assert!(
            text.starts_with(
                "{\"accuracy\":0.25,\"entropy\":1.9,\"epoch\":0,\"kind\":\"step\",\"loss\":2.0,\"lr\":0.1,\"step\":50}\n"
            ),
            "{text}"
        );
        assert!(text.contains("\"derived_cost\":null"), "{text}");

        // Resuming after one epoch keeps only that epoch's lines.
        let later = MetricLine::Train {
            epoch: 1,
            phase: "search".into(),
            loss: 1.0,
            accuracy: 0.5,
        };
        files.append_metric(&later).unwrap();
        files.truncate_to_epochs(1).unwrap();
        assert_eq!(RunRecord::read(dir.path()).unwrap().metrics.len(), 2);

        std::fs::write(files.metrics(), "{\"kind\":\"step\"}\n").unwrap();
        let err = RunRecord::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("metrics.jsonl:1"), "{err}");
    }
}
