//! What the lines of `metrics.jsonl` and `alpha.jsonl`, and `final/summary.json`, hold.

use serde::{Deserialize, Serialize};

/// One line of `metrics.jsonl`, told apart by its `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricLine {
    /// Every `log_every` weight steps: the running means of the epoch so far.
    Step {
        /// Epoch (from 0).
        epoch: usize,
        /// Weight steps so far.
        step: u64,
        /// Learning rate of the last step.
        lr: f64,
        /// Mean training loss of the epoch so far (sampled paths).
        loss: f64,
        /// Training accuracy of the epoch so far.
        accuracy: f64,
        /// Mean entropy of the candidate distributions.
        entropy: f64,
    },
    /// The end of an epoch's weight steps.
    Train {
        /// Epoch.
        epoch: usize,
        /// `warmup` or `search`.
        phase: String,
        /// Mean training loss of the epoch.
        loss: f64,
        /// Training accuracy of the epoch.
        accuracy: f64,
    },
    /// A gradient architecture update (ProxylessNAS-G).
    Arch {
        /// Epoch.
        epoch: usize,
        /// Architecture updates before this one.
        update: u64,
        /// Cross-entropy on the held-out batch.
        ce: f64,
        /// Expected cost under p, with a cost.
        #[serde(default)]
        expected_cost: Option<f64>,
        /// The regularised loss.
        loss: f64,
        /// The cost term's weight in constraint mode.
        #[serde(default)]
        cost_weight: Option<f64>,
    },
    /// A REINFORCE update (ProxylessNAS-R).
    Reinforce {
        /// Epoch.
        epoch: usize,
        /// Architecture updates before this one.
        update: u64,
        /// Mean reward of the sampled architectures.
        mean_reward: f64,
        /// The baseline after the update.
        baseline: f64,
        /// Mean accuracy of the sampled architectures.
        mean_accuracy: f64,
    },
    /// The end of an epoch: the derived architecture validated.
    Epoch {
        /// Epoch.
        epoch: usize,
        /// Held-out accuracy of the derived architecture with the supernet's weights.
        holdout_accuracy: f64,
        /// Mean entropy of the candidate distributions.
        entropy: f64,
        /// Expected cost under p, with a cost.
        #[serde(default)]
        expected_cost: Option<f64>,
        /// The derived architecture's cost, with a cost.
        #[serde(default)]
        derived_cost: Option<f64>,
        /// The derived architecture (text).
        architecture: String,
        /// Seconds of the epoch.
        seconds: f64,
    },
}

/// One line of `alpha.jsonl`: the architecture parameters after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlphaLine {
    /// Epoch.
    pub epoch: usize,
    /// α of every block.
    pub alpha: Vec<Vec<f64>>,
    /// p = softmax(α) of every block.
    pub probs: Vec<Vec<f64>>,
    /// Entropy of every block's distribution.
    pub entropy: Vec<f64>,
}

/// One line of `memory.jsonl`: the process's resident memory over an epoch (Linux), for
/// checking that a long run does not grow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryLine {
    /// Epoch.
    pub epoch: usize,
    /// Peak resident memory during the epoch, its validation and checkpoint (MiB).
    pub peak_rss_mib: f64,
    /// Resident memory at the epoch's end (MiB).
    pub rss_mib: f64,
}

/// `final/summary.json`: what the finished search derived and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The space's name.
    pub space: String,
    /// The derived architecture (text).
    pub architecture: String,
    /// Its cost in `cost_unit`, with a cost.
    pub cost: Option<f64>,
    /// The cost's unit.
    pub cost_unit: Option<String>,
    /// Its latency measured on the search's device, where it was timed.
    pub measured_latency_ms: Option<f64>,
    /// The expected cost under the final p.
    pub expected_cost: Option<f64>,
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-accumulates of one image.
    pub macs: u64,
    /// Held-out accuracy with the supernet's weights.
    pub holdout_accuracy: f64,
    /// Epochs run.
    pub epochs: usize,
    /// Weight steps run.
    pub weight_steps: u64,
    /// Architecture updates run.
    pub arch_updates: u64,
    /// Seconds of searching, all sessions.
    pub seconds: f64,
    /// The cost target, with a cost.
    pub target: Option<f64>,
    /// How the cost entered the loss (`mul#log`, `add#linear`, `constraint`, `none`).
    pub target_mode: String,
    /// The fingerprint of the final supernet weights (`proxyless_nn::weights_fingerprint`):
    /// equal for two runs that end with bitwise the same weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_fingerprint: Option<String>,
}
