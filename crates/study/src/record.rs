//! `study.json`: every search, every network and every retraining result, written after each
//! step so that an interrupted study resumes where it stopped, and the summary drawn from it.

use std::path::Path;

use proxyless_profiler::kendall_tau;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a network is in the study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetKind {
    /// Derived by a search.
    Searched,
    /// Drawn uniformly among the networks of about a searched network's cost.
    Random,
    /// One operation in every block (MobileNetV2-style).
    Baseline,
    /// The space's cheapest or dearest network.
    Anchor,
}

impl NetKind {
    /// The kind's name as `study.json` writes it.
    pub fn name(self) -> &'static str {
        match self {
            NetKind::Searched => "searched",
            NetKind::Random => "random",
            NetKind::Baseline => "baseline",
            NetKind::Anchor => "anchor",
        }
    }
}

/// One finished search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRecord {
    /// The search's seed.
    pub seed: u64,
    /// Its run directory, relative to the study directory.
    pub dir: String,
    /// The derived architecture (text).
    pub architecture: String,
    /// Its candidate indices.
    pub choices: Vec<usize>,
    /// Its cost in the study's unit.
    pub cost: f64,
    /// Its held-out accuracy with the supernet's weights.
    pub holdout_accuracy: f64,
    /// Seconds the search took.
    pub seconds: f64,
}

/// One network of the study and what was measured of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyNet {
    /// A short unique name (`searched-0`, `random-0-2`, `uniform-k3e6`, `cheapest`).
    pub id: String,
    /// What it is.
    pub kind: NetKind,
    /// The architecture (text).
    pub architecture: String,
    /// Its candidate indices.
    pub choices: Vec<usize>,
    /// Its cost in the study's unit.
    pub cost: f64,
    /// How it was chosen.
    pub origin: String,
    /// The seed of its random draw.
    pub draw_seed: Option<u64>,
    /// Its latency measured on the study's device at the study's latency batch (ms).
    pub measured_ms: Option<f64>,
    /// Held-out accuracy with each search's supernet weights, in the order of the searches.
    pub inherited: Vec<f64>,
    /// Test top-1 after retraining, per training seed in the study's order (`None`: not yet).
    pub top1: Vec<Option<f64>>,
    /// Mean of `top1` once every seed is done.
    #[serde(default)]
    pub mean: Option<f64>,
    /// Standard deviation of `top1` over the seeds once every seed is done.
    #[serde(default)]
    pub spread: Option<f64>,
    /// Seconds of retraining, all seeds together.
    pub train_seconds: f64,
}

impl StudyNet {
    /// A planned network, nothing measured yet.
    pub fn new(
        id: String,
        kind: NetKind,
        architecture: String,
        cost: f64,
        choices: Vec<usize>,
        origin: String,
        draw_seed: Option<u64>,
    ) -> Self {
        Self {
            id,
            kind,
            architecture,
            choices,
            cost,
            origin,
            draw_seed,
            measured_ms: None,
            inherited: Vec::new(),
            top1: Vec::new(),
            mean: None,
            spread: None,
            train_seconds: 0.0,
        }
    }

    /// Mean test top-1 over the training seeds, once every seed is done.
    pub fn mean_top1(&self) -> Option<f64> {
        let done: Option<Vec<f64>> = self.top1.iter().copied().collect();
        done.filter(|d| !d.is_empty())
            .map(|d| d.iter().sum::<f64>() / d.len() as f64)
    }

    /// Lowest and highest test top-1 over the training seeds done.
    pub fn range_top1(&self) -> Option<(f64, f64)> {
        let done: Vec<f64> = self.top1.iter().flatten().copied().collect();
        let lo = done.iter().copied().reduce(f64::min)?;
        let hi = done.iter().copied().reduce(f64::max)?;
        Some((lo, hi))
    }
}

/// Agreement of the supernet's ranking with the retrained ranking (the one-shot diagnostic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KendallRecord {
    /// The seed of the search whose supernet ranked the networks.
    pub search_seed: u64,
    /// Over which networks: `all` or `equal-cost` (searched and random only).
    pub over: String,
    /// How many networks.
    pub networks: usize,
    /// Kendall's τ between inherited and retrained accuracy.
    pub tau: f64,
}

/// Means per kind and the comparison the study exists for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Mean over searched networks of their mean top-1.
    pub searched: Option<f64>,
    /// Mean over random networks of their mean top-1.
    pub random: Option<f64>,
    /// Standard deviation over random networks of their mean top-1.
    pub random_std: Option<f64>,
    /// The uniform baseline's mean top-1.
    pub baseline: Option<f64>,
    /// `searched - random`, in percentage points.
    pub searched_minus_random_pp: Option<f64>,
    /// `searched - baseline`, in percentage points.
    pub searched_minus_baseline_pp: Option<f64>,
    /// Kendall's τ per search and set of networks.
    pub kendall: Vec<KendallRecord>,
}

/// The whole study as `study.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRecord {
    /// The space searched.
    pub space: String,
    /// Unit of every cost.
    pub unit: String,
    /// The backend the study ran on.
    pub backend: String,
    /// Training seeds, in the order of every network's `top1`.
    pub train_seeds: Vec<u64>,
    /// Finished searches, in the order of the study's seeds.
    pub searches: Vec<SearchRecord>,
    /// The networks, fixed before any retraining (empty until the searches are done).
    pub nets: Vec<StudyNet>,
    /// The summary of what is done so far.
    pub summary: Option<Summary>,
}

impl StudyRecord {
    /// Reads `study.json`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::file(path, format!("not a study record: {e}")))
    }

    /// Writes `study.json` through a temporary file and a rename.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_text(
            path,
            &serde_json::to_string_pretty(self).expect("records serialise"),
        )
    }

    /// The networks of `kind`.
    pub fn of_kind(&self, kind: NetKind) -> impl Iterator<Item = &StudyNet> {
        self.nets.iter().filter(move |n| n.kind == kind)
    }

    /// Recomputes every network's mean and spread and the summary from the networks
    /// retrained so far.
    pub fn summarise(&mut self) {
        for net in &mut self.nets {
            net.mean = net.mean_top1();
            net.spread = net.mean.map(|m| {
                let n = net.top1.len() as f64;
                (net.top1
                    .iter()
                    .flatten()
                    .map(|t| (t - m).powi(2))
                    .sum::<f64>()
                    / n)
                    .sqrt()
            });
        }
        let means =
            |kind| -> Vec<f64> { self.of_kind(kind).filter_map(StudyNet::mean_top1).collect() };
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let (searched, random, baseline) = (
            means(NetKind::Searched),
            means(NetKind::Random),
            means(NetKind::Baseline),
        );
        let (s, r, b) = (mean(&searched), mean(&random), mean(&baseline));
        let random_std = r.map(|m| {
            (random.iter().map(|x| (x - m).powi(2)).sum::<f64>() / random.len() as f64).sqrt()
        });
        let mut kendall = Vec::new();
        for (i, search) in self.searches.iter().enumerate() {
            for (over, keep) in [
                ("all", &(|_: NetKind| true) as &dyn Fn(NetKind) -> bool),
                ("equal-cost", &|k| {
                    matches!(k, NetKind::Searched | NetKind::Random)
                }),
            ] {
                let pairs: Vec<(f64, f64)> = self
                    .nets
                    .iter()
                    .filter(|n| keep(n.kind))
                    .filter_map(|n| Some((*n.inherited.get(i)?, n.mean_top1()?)))
                    .collect();
                if pairs.len() >= 2 {
                    let (a, b): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
                    kendall.push(KendallRecord {
                        search_seed: search.seed,
                        over: over.into(),
                        networks: pairs.len(),
                        tau: kendall_tau(&a, &b),
                    });
                }
            }
        }
        self.summary = Some(Summary {
            searched: s,
            random: r,
            random_std,
            baseline: b,
            searched_minus_random_pp: s.zip(r).map(|(s, r)| 100.0 * (s - r)),
            searched_minus_baseline_pp: s.zip(b).map(|(s, b)| 100.0 * (s - b)),
            kendall,
        });
    }
}

/// Writes `text` to `path` atomically, naming the file in the error: every file of a study
/// directory is written this way.
pub(crate) fn write_text(path: &Path, text: &str) -> Result<()> {
    proxyless_plumbing::files::write_atomic(path, text.as_bytes()).map_err(|e| Error::file(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(id: &str, kind: NetKind, inherited: f64, top1: &[f64]) -> StudyNet {
        let mut n = StudyNet::new(
            id.into(),
            kind,
            String::new(),
            1.0,
            vec![],
            String::new(),
            None,
        );
        n.inherited = vec![inherited];
        n.top1 = top1.iter().map(|&t| Some(t)).collect();
        n
    }

    #[test]
    fn the_summary_compares_means_and_ranks_by_hand() {
        let mut r = StudyRecord {
            space: "fmnist".into(),
            unit: "MMACs".into(),
            backend: "flex".into(),
            train_seeds: vec![0, 1],
            searches: vec![SearchRecord {
                seed: 0,
                dir: "search-0".into(),
                architecture: String::new(),
                choices: vec![],
                cost: 1.0,
                holdout_accuracy: 0.5,
                seconds: 1.0,
            }],
            nets: vec![
                net("s", NetKind::Searched, 0.40, &[0.80, 0.82]),
                net("r0", NetKind::Random, 0.30, &[0.78, 0.78]),
                net("r1", NetKind::Random, 0.35, &[0.76, 0.78]),
                net("b", NetKind::Baseline, 0.20, &[0.79, 0.79]),
            ],
            summary: None,
        };
        r.nets[2].top1[1] = None;
        r.summarise();
        assert_eq!(r.nets[0].mean, Some(0.81));
        assert!((r.nets[0].spread.unwrap() - 0.01).abs() < 1e-12);
        assert_eq!((r.nets[2].mean, r.nets[2].spread), (None, None));
        let s = r.summary.clone().unwrap();
        // r1 is unfinished: the random mean is r0's alone.
        assert_eq!(s.random, Some(0.78));
        assert!((s.searched_minus_random_pp.unwrap() - 3.0).abs() < 1e-9);
        assert!((s.searched_minus_baseline_pp.unwrap() - 2.0).abs() < 1e-9);
        // Over s, r0, b: inherited 0.40 > 0.30 > 0.20, retrained 0.81 > 0.78 < 0.79:
        // pairs (s,r0) +, (s,b) +, (r0,b) − → τ = (2 − 1) / 3.
        let all = s.kendall.iter().find(|k| k.over == "all").unwrap();
        assert_eq!(all.networks, 3);
        assert!((all.tau - 1.0 / 3.0).abs() < 1e-12);
        let equal = s.kendall.iter().find(|k| k.over == "equal-cost").unwrap();
        assert_eq!((equal.networks, equal.tau), (2, 1.0));
        r.nets[2].top1[1] = Some(0.78);
        r.summarise();
        assert_eq!(r.summary.unwrap().random, Some(0.775));
    }

    #[test]
    fn a_record_round_trips_and_a_bad_one_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("study.json");
        let r = StudyRecord {
            space: "fmnist".into(),
            unit: "ms".into(),
            backend: "flex".into(),
            train_seeds: vec![3],
            searches: vec![],
            nets: vec![net("a", NetKind::Anchor, 0.1, &[0.5])],
            summary: None,
        };
        r.write(&path).unwrap();
        assert_eq!(StudyRecord::read(&path).unwrap(), r);
        std::fs::write(&path, "{\"space\": 1}").unwrap();
        let err = StudyRecord::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("study.json") && err.contains("not a study record"),
            "{err}"
        );
    }
}
