//! The run directory of a search ([`proxyless_rundir::RunFiles`] says where each file lies)
//! and its checkpoints: supernet weights, weight optimiser state, α and search state, written
//! into a temporary folder and renamed into `checkpoints/epoch-N`.

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use proxyless_supernet::gradient::Baseline;
use proxyless_supernet::{ArchParams, Searchable};

use crate::space::SuperModel;
use serde::{Deserialize, Serialize};

use proxyless_plumbing::checkpoints::{checkpoint_name, write_checkpoint};
use proxyless_plumbing::files::write_atomic;
use proxyless_plumbing::{EpochTotals, LogLengths};
use proxyless_rundir::RunFiles;

use crate::error::{Error, Result};

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
    /// For a checkpoint taken inside an epoch: that epoch's steps done and running sums.
    #[serde(default)]
    pub within_epoch: Option<EpochTotals>,
    /// The lengths of the metrics and α logs when the checkpoint was taken (checkpoints
    /// written before these were recorded cut the logs back by epoch instead).
    #[serde(default)]
    pub logs: Option<LogLengths>,
}

/// A run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    files: RunFiles,
}

const STATE: &str = "state.json";
const WEIGHTS: &str = "supernet.bpk";
const OPTIMIZER: &str = "weights-optimizer.bpk";

impl RunDir {
    /// Creates a new run directory; an existing non-empty directory is refused so that no
    /// run overwrites another.
    pub fn create(path: &Path) -> Result<Self> {
        proxyless_plumbing::files::create_run_dir(path, RunFiles::CHECKPOINTS)
            .map_err(|e| Error::file(path, e))?;
        Ok(Self {
            files: RunFiles::new(path),
        })
    }

    /// Opens an existing run directory.
    pub fn open(path: &Path) -> Result<Self> {
        let files = RunFiles::new(path);
        if !files.config().is_file() {
            return Err(Error::file(
                path,
                "is not a search run directory (no config.toml)",
            ));
        }
        Ok(Self { files })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.files.root()
    }

    /// Its files.
    pub fn files(&self) -> &RunFiles {
        &self.files
    }

    /// Saves a checkpoint after `state.epochs_done` epochs (and `state.within_epoch`'s steps
    /// of the next): written into a temporary folder, flushed, then renamed into place, so a
    /// checkpoint is either complete or absent, even after a crash. Keeps the newest `keep`
    /// checkpoints.
    pub fn save_checkpoint(
        &self,
        model: &SuperModel,
        optim: &ModuleOptimizer,
        state: &SearchState,
        keep: usize,
    ) -> Result<PathBuf> {
        let name = checkpoint_name(state.epochs_done, state.within_epoch.map(|t| t.steps));
        let fin = self.files.checkpoints().join(name);
        proxyless_nn::settle_running_stats(model);
        write_checkpoint(&fin, |tmp| {
            let file = |name: &str| tmp.join(name).display().to_string();
            model
                .save_file(&tmp.join(WEIGHTS))
                .map_err(|e| format!("{}: {e}", file(WEIGHTS)))?;
            optim
                .save(tmp.join(OPTIMIZER))
                .map_err(|e| format!("{}: {e}", file(OPTIMIZER)))?;
            let json = serde_json::to_vec_pretty(state).expect("the search state serialises");
            write_atomic(&tmp.join(STATE), &json).map_err(|e| format!("{}: {e}", file(STATE)))
        })
        .map_err(|e| Error::file(&fin, e))?;
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
            &self.files.checkpoints(),
            STATE,
        ))
    }

    /// Loads the newest checkpoint into `model` and `optim`; `None` when there is none.
    pub fn load_latest(
        &self,
        model: SuperModel,
        optim: ModuleOptimizer,
    ) -> Result<Option<(SuperModel, ModuleOptimizer, SearchState)>> {
        let Some(dir) = self.checkpoints()?.pop() else {
            return Ok(None);
        };
        let state_path = dir.join(STATE);
        let text = std::fs::read_to_string(&state_path).map_err(|e| Error::file(&state_path, e))?;
        let state: SearchState = serde_json::from_str(&text)
            .map_err(|e| Error::file(&state_path, format!("not a search state: {e}")))?;
        let model = model.load_file(&dir.join(WEIGHTS)).map_err(|e| {
            Error::file(
                dir.join(WEIGHTS),
                format!("cannot load the supernet (a checkpoint of another space?): {e}"),
            )
        })?;
        let optim = optim.load(dir.join(OPTIMIZER)).map_err(|e| {
            Error::file(
                dir.join(OPTIMIZER),
                format!("cannot load the optimiser state: {e}"),
            )
        })?;
        let blocks = model.zero_candidates().len();
        if state.arch.num_blocks() != blocks {
            return Err(Error::file(
                &state_path,
                format!(
                    "holds α for {} choice blocks, the space has {blocks}",
                    state.arch.num_blocks(),
                ),
            ));
        }
        Ok(Some((model, optim, state)))
    }
}
