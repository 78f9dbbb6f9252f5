//! The run directory: the exact config, metrics as JSON lines, the α history, checkpoints
//! written atomically, and the final architecture.
//!
//! ```text
//! RUN/config.toml          the configuration the run used (resume reads it back)
//! RUN/space.toml           the space searched
//! RUN/metrics.jsonl        one JSON object per logged step, architecture update and epoch
//! RUN/alpha.jsonl          α and p of every block after each epoch
//! RUN/checkpoints/epoch-N  supernet weights, weight optimiser state, α and search state
//! RUN/final/               architecture.txt, architecture.json, architecture.svg (drawn),
//!                          net.config, summary.json
//! ```

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use proxyless_supernet::gradient::Baseline;
use proxyless_supernet::{ArchParams, Supernet};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use proxyless_plumbing::files::write_atomic;

/// Everything besides the weights that a resumed search needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchState {
    /// Epochs completed (warm-up included).
    pub epochs_done: usize,
    /// Weight steps taken.
    pub weight_steps: u64,
    /// Architecture updates taken.
    pub arch_updates: u64,
    /// α and its Adam state.
    pub arch: ArchParams,
    /// The REINFORCE baseline.
    pub baseline: Baseline,
    /// The adaptive weight λ of the cost term in `constraint` mode.
    #[serde(default)]
    pub cost_weight: f64,
    /// Seconds spent in earlier sessions of this run.
    pub elapsed_seconds: f64,
}

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

const STATE: &str = "state.json";
const WEIGHTS: &str = "supernet.bpk";
const OPTIMIZER: &str = "weights-optimizer.bpk";

impl RunDir {
    /// Creates a new run directory; an existing non-empty directory is refused so that no
    /// run overwrites another.
    pub fn create(path: &Path) -> Result<Self> {
        proxyless_plumbing::files::create_run_dir(path, "checkpoints")
            .map_err(|e| Error::file(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing run directory.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.join("config.toml").is_file() {
            return Err(Error::file(
                path,
                "is not a search run directory (no config.toml)",
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `name` inside the run directory atomically.
    pub fn write(&self, name: &str, contents: &[u8]) -> Result<()> {
        let path = self.path.join(name);
        write_atomic(&path, contents).map_err(|e| Error::file(&path, e))
    }

    /// Appends one JSON object as a line to `name`.
    pub fn append_line(&self, name: &str, value: &serde_json::Value) -> Result<()> {
        let path = self.path.join(name);
        proxyless_plumbing::append_json_line(&path, value).map_err(|e| Error::file(&path, e))
    }

    /// Keeps only the lines of `name` whose `epoch` is below `epochs_done` (lines written by an
    /// interrupted epoch go away when the run resumes from its last checkpoint).
    pub fn truncate_lines(&self, name: &str, epochs_done: usize) -> Result<()> {
        let path = self.path.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
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
        self.write(name, kept.as_bytes())
    }

    /// Saves a checkpoint after `state.epochs_done` epochs: written into a temporary folder,
    /// then renamed into place, so a checkpoint is either complete or absent. Keeps the newest
    /// `keep` checkpoints.
    pub fn save_checkpoint(
        &self,
        model: &Supernet,
        optim: &ModuleOptimizer,
        state: &SearchState,
        keep: usize,
    ) -> Result<PathBuf> {
        let checkpoints = self.path.join("checkpoints");
        let name = format!("epoch-{:04}", state.epochs_done);
        let tmp = checkpoints.join(format!(".{name}.tmp"));
        let fin = checkpoints.join(&name);
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| Error::file(&tmp, e))?;
        model
            .clone()
            .save_file(tmp.join(WEIGHTS))
            .map_err(|e| Error::file(tmp.join(WEIGHTS), format!("{e:?}")))?;
        optim
            .save(tmp.join(OPTIMIZER))
            .map_err(|e| Error::file(tmp.join(OPTIMIZER), format!("{e:?}")))?;
        let json = serde_json::to_vec_pretty(state).expect("the search state serialises");
        write_atomic(&tmp.join(STATE), &json).map_err(|e| Error::file(tmp.join(STATE), e))?;
        if fin.exists() {
            std::fs::remove_dir_all(&fin).map_err(|e| Error::file(&fin, e))?;
        }
        std::fs::rename(&tmp, &fin).map_err(|e| Error::file(&fin, e))?;
        let mut all = self.checkpoints()?;
        while all.len() > keep.max(1) {
            let old = all.remove(0);
            let _ = std::fs::remove_dir_all(old);
        }
        Ok(fin)
    }

    /// Complete checkpoints, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<PathBuf>> {
        Ok(proxyless_plumbing::files::epoch_checkpoints(
            &self.path.join("checkpoints"),
            STATE,
        ))
    }

    /// Loads the newest checkpoint into `model` and `optim`; `None` when there is none.
    pub fn load_latest(
        &self,
        model: Supernet,
        optim: ModuleOptimizer,
    ) -> Result<Option<(Supernet, ModuleOptimizer, SearchState)>> {
        let Some(dir) = self.checkpoints()?.pop() else {
            return Ok(None);
        };
        let state_path = dir.join(STATE);
        let text = std::fs::read_to_string(&state_path).map_err(|e| Error::file(&state_path, e))?;
        let state: SearchState = serde_json::from_str(&text)
            .map_err(|e| Error::file(&state_path, format!("not a search state: {e}")))?;
        let model = model.try_load_file(dir.join(WEIGHTS)).map_err(|e| {
            Error::file(
                dir.join(WEIGHTS),
                format!("cannot load the supernet: {e:?}"),
            )
        })?;
        let optim = optim.load(dir.join(OPTIMIZER)).map_err(|e| {
            Error::file(
                dir.join(OPTIMIZER),
                format!("cannot load the optimiser state: {e:?}"),
            )
        })?;
        if state.arch.num_blocks() != model.choice_blocks.len() {
            return Err(Error::file(
                &state_path,
                format!(
                    "holds α for {} choice blocks, the space has {}",
                    state.arch.num_blocks(),
                    model.choice_blocks.len()
                ),
            ));
        }
        Ok(Some((model, optim, state)))
    }
}
