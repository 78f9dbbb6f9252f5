//! The study's configuration (TOML): which search, how many seeds, how many random networks,
//! and the one retraining recipe every network gets.

use std::path::{Path, PathBuf};

use proxyless_search::{DEFAULT_CONFIG, SearchConfig};
use proxyless_train::TrainConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A study as written by its user. Paths are relative to the file they are written in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// The search configuration (TOML); the built-in default search when absent.
    #[serde(default)]
    pub search: Option<PathBuf>,
    /// Overrides of the search configuration, `key=value` as `proxyless search --set` takes.
    #[serde(default)]
    pub search_set: Vec<String>,
    /// One search per seed (the search configuration's `seed`).
    #[serde(default = "two_seeds")]
    pub search_seeds: Vec<u64>,
    /// Random networks drawn within the band around each searched network's cost.
    #[serde(default = "three")]
    pub random_per_search: usize,
    /// Half-width of the cost band, as a fraction of the searched cost (0.05: ±5%).
    #[serde(default = "five_percent")]
    pub band: f64,
    /// Seed of the random draws (each draw's own seed is derived from it and recorded).
    #[serde(default)]
    pub sampler_seed: u64,
    /// Add the MobileNetV2-style baseline: one operation in every block, the one whose
    /// network's cost is nearest the searched networks' mean cost.
    #[serde(default = "yes")]
    pub baseline: bool,
    /// Add the space's cheapest and dearest networks as anchors.
    #[serde(default = "yes")]
    pub anchors: bool,
    /// The retraining recipe (TOML); the built-in default recipe when absent. Its data set
    /// is the search's.
    #[serde(default)]
    pub train: Option<PathBuf>,
    /// Every network is retrained once per seed.
    #[serde(default = "two_seeds")]
    pub train_seeds: Vec<u64>,
    /// Epochs of retraining (overrides the recipe).
    #[serde(default)]
    pub train_epochs: Option<usize>,
    /// Training images (a seeded sample; overrides the recipe).
    #[serde(default)]
    pub train_limit: Option<usize>,
    /// Test images (a seeded sample; overrides the recipe).
    #[serde(default)]
    pub test_limit: Option<usize>,
    /// Batch at which every network's latency is measured on the study's device.
    #[serde(default = "sixteen")]
    pub latency_batch: usize,
    /// Timed runs per network (interleaved rounds).
    #[serde(default = "forty")]
    pub latency_runs: usize,
}

fn two_seeds() -> Vec<u64> {
    vec![0, 1]
}
fn three() -> usize {
    3
}
fn five_percent() -> f64 {
    0.05
}
fn yes() -> bool {
    true
}
fn sixteen() -> usize {
    16
}
fn forty() -> usize {
    40
}

impl Default for StudyConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

/// A study with its search and retraining configurations read and checked: what the study
/// directory keeps (`study.toml`, `search.toml`, `train.toml`), so that a resumed study
/// never rereads the user's files.
#[derive(Debug, Clone)]
pub struct ResolvedStudy {
    /// The study's own settings (paths cleared: their contents are below).
    pub study: StudyConfig,
    /// The search configuration, overrides applied; each search replaces its `seed`.
    pub search: SearchConfig,
    /// The retraining recipe, its data set the search's; each run replaces its `seed`.
    pub train: TrainConfig,
}

impl StudyConfig {
    /// Parses and checks a study; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let config: Self =
            toml::from_str(text).map_err(|e| Error::config(origin, e.to_string().trim_end()))?;
        config.validate(origin)?;
        Ok(config)
    }

    /// [`from_toml_str`](Self::from_toml_str) with `key=value` overrides set on top, as
    /// `proxyless study --set` gives them.
    pub fn from_toml_with_overrides(
        text: &str,
        origin: &str,
        overrides: &[String],
    ) -> Result<Self> {
        let table = proxyless_search::config::table_with_overrides(text, origin, overrides)?;
        let config: Self = table
            .try_into()
            .map_err(|e: toml::de::Error| Error::config(origin, e.to_string().trim_end()))?;
        config.validate(origin)?;
        Ok(config)
    }

    /// The study as TOML, as `study.toml` of a study directory holds it.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).expect("configurations serialise")
    }

    /// Reads and checks a study file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Checks what parsing cannot, naming the key.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::config(origin, format!("{key}: {why}")));
        if self.search_seeds.is_empty() {
            return bad("search_seeds", "needs at least one seed");
        }
        if self.train_seeds.is_empty() {
            return bad("train_seeds", "needs at least one seed");
        }
        if has_duplicates(&self.search_seeds) {
            return bad("search_seeds", "repeats a seed");
        }
        if has_duplicates(&self.train_seeds) {
            return bad("train_seeds", "repeats a seed");
        }
        if !(self.band > 0.0 && self.band < 1.0) {
            return bad(
                "band",
                "must lie in (0, 1): a fraction of the searched cost",
            );
        }
        if self.latency_batch == 0 || self.latency_runs == 0 {
            return bad("latency_batch, latency_runs", "must be at least 1");
        }
        if self.train_epochs == Some(0) {
            return bad("train_epochs", "must be at least 1");
        }
        Ok(())
    }

    /// Reads the search and retraining configurations this study names (relative to
    /// `base`, the study file's folder) and applies its overrides.
    pub fn resolve(&self, base: &Path, origin: &str) -> Result<ResolvedStudy> {
        let (text, search_origin) = match &self.search {
            Some(p) => {
                let path = base.join(p);
                let text = std::fs::read_to_string(&path).map_err(|e| Error::file(&path, e))?;
                (text, path.display().to_string())
            }
            None => (DEFAULT_CONFIG.to_string(), "default search config".into()),
        };
        let search =
            SearchConfig::from_toml_with_overrides(&text, &search_origin, &self.search_set)?;
        if !search.target.has_cost() {
            return Err(Error::config(
                &search_origin,
                "target.cost: a study compares networks of equal cost, so the search needs a \
                 cost (macs, a latency table or measured)",
            ));
        }
        let mut train = match &self.train {
            Some(p) => TrainConfig::from_file(&base.join(p))?,
            None => TrainConfig::default_recipe(),
        };
        train.data.dataset = search.data.dataset;
        train.data.path = search.data.path.clone();
        train.data.synthetic_per_class = search.data.synthetic_per_class;
        train.data.resolution = proxyless_space::presets::resolve(&search.space)?
            .input
            .resolution;
        if let Some(e) = self.train_epochs {
            train.epochs = e;
        }
        train.data.train_limit = self.train_limit.or(train.data.train_limit);
        train.data.test_limit = self.test_limit.or(train.data.test_limit);
        train.validate(origin)?;
        let mut study = self.clone();
        study.search = None;
        study.search_set.clear();
        study.train = None;
        Ok(ResolvedStudy {
            study,
            search,
            train,
        })
    }
}

fn has_duplicates(seeds: &[u64]) -> bool {
    let mut sorted = seeds.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).any(|w| w[0] == w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_default_study() {
        let c = StudyConfig::from_toml_str("", "t").unwrap();
        assert_eq!(c, StudyConfig::default());
        assert_eq!(c.search_seeds, [0, 1]);
        assert_eq!(c.band, 0.05);
        let r = c.resolve(Path::new("."), "t").unwrap();
        assert_eq!(r.search.space, "fmnist");
        assert_eq!(r.train.data.resolution, 28);
    }

    #[test]
    fn overrides_set_values_as_toml_or_text() {
        let c = StudyConfig::from_toml_with_overrides(
            "band = 0.1",
            "s.toml",
            &[
                "search_seeds=[3, 4]".into(),
                "band=0.2".into(),
                "anchors=false".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            (c.search_seeds, c.band, c.anchors),
            (vec![3, 4], 0.2, false)
        );
        let err = StudyConfig::from_toml_with_overrides("", "s.toml", &["band".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--set band: expected key=value"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("band = 1.5", "band"),
            ("search_seeds = []", "search_seeds"),
            ("train_seeds = [1, 1]", "train_seeds"),
            ("train_epochs = 0", "train_epochs"),
            ("random = 3", "unknown field"),
        ] {
            let err = StudyConfig::from_toml_str(text, "s.toml")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("s.toml") && err.contains(key), "{err}");
        }
        let c = StudyConfig::from_toml_str("search_set = [\"target.cost=none\"]", "s").unwrap();
        let err = c.resolve(Path::new("."), "s").unwrap_err().to_string();
        assert!(err.contains("needs a cost"), "{err}");
    }
}
