//! A study in its directory: created or reopened, and the work its tasks do (a search, the
//! plan of networks with their measured latency and inherited accuracy, a retraining). After
//! each task `study.json`, `study.md` and `study.html` are rewritten, so a killed study resumes
//! where it stopped; see [`crate::tasks`] for the tasks run alone or in parallel.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use proxyless_profiler::{ProfileSettings, measure_nets};
use proxyless_rundir::RunFiles;
use proxyless_search::{Search, SearchConfig, search_costs};
use proxyless_space::{Architecture, CandidateCosts, SearchSpace, presets};
use proxyless_train::{TrainConfig, Trainer};
use tracing::info;

use crate::config::{ResolvedStudy, StudyConfig};
use crate::error::{Error, Result};
use crate::plan::{PlanSettings, extend_plan, plan};
use crate::record::{SearchRecord, StudyNet, StudyRecord, write_text};
use crate::render::write_pages;
use crate::tasks::{Phase, Task};

/// A study in its directory, new or resumed.
pub struct Study {
    dir: PathBuf,
    config: ResolvedStudy,
    space: SearchSpace,
    record: StudyRecord,
    device: Device,
    quiet: bool,
    costs: Option<CandidateCosts>,
}

impl Study {
    /// Prepares a new study in `dir` (created; it must not exist or be empty).
    pub fn create(
        config: ResolvedStudy,
        dir: &Path,
        backend: &str,
        device: &Device,
        quiet: bool,
    ) -> Result<Self> {
        if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
            return Err(Error::file(
                dir,
                "exists and is not empty; give a new directory, or --resume this one",
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
        let write = |name: &str, text: String| write_text(&dir.join(name), &text);
        write("search.toml", config.search.to_toml_string())?;
        write("train.toml", config.train.to_toml_string())?;
        write("study.toml", config.study.to_toml_string())?;
        let space = presets::resolve(&config.search.space)?;
        let record = StudyRecord {
            space: space.name.clone(),
            unit: String::new(),
            backend: backend.to_string(),
            train_seeds: config.study.train_seeds.clone(),
            searches: Vec::new(),
            nets: Vec::new(),
            summary: None,
        };
        record.write(&dir.join("study.json"))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            space,
            record,
            device: device.clone(),
            quiet,
            costs: None,
        })
    }

    /// Reopens the study in `dir` with the configuration it was created with.
    pub fn resume(dir: &Path, device: &Device, quiet: bool) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map_err(|e| Error::file(&path, e))
                .map(|t| (t, path.display().to_string()))
        };
        let (text, origin) = read("study.toml")?;
        let study = StudyConfig::from_toml_str(&text, &origin)?;
        let (text, origin) = read("search.toml")?;
        let search = SearchConfig::from_toml_with_overrides(&text, &origin, &[])?;
        let (text, origin) = read("train.toml")?;
        let train = TrainConfig::from_toml_str(&text, &origin)?;
        let record = StudyRecord::read(&dir.join("study.json"))?;
        let space = presets::resolve(&search.space)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config: ResolvedStudy {
                study,
                search,
                train,
            },
            space,
            record,
            device: device.clone(),
            quiet,
            costs: None,
        })
    }

    /// Adds search seeds to a resumed study: their searches run, and their searched and
    /// random networks join the plan (drawn as a study with all the seeds would draw them),
    /// then every network's latency is measured again in one set of interleaved rounds. A
    /// seed the study already has is an error.
    pub fn add_search_seeds(&mut self, seeds: &[u64]) -> Result<()> {
        let mut study = self.config.study.clone();
        study.search_seeds.extend_from_slice(seeds);
        study.validate("study.toml")?;
        write_text(&self.dir.join("study.toml"), &study.to_toml_string())?;
        self.config.study = study;
        Ok(())
    }

    /// Runs what is left, one task after another in this process, and returns the finished
    /// record: the searches, the plan, then every retraining (see [`Task`]).
    pub fn run(mut self) -> Result<StudyRecord> {
        for task in self.phase_tasks(Phase::Search) {
            self.run_task(&task, true)?;
        }
        self.run_task(&Task::Plan, true)?;
        for task in self.phase_tasks(Phase::Retrain) {
            self.run_task(&task, true)?;
        }
        // Once more, so that a finished study resumed by a newer build gets its pages anew.
        self.collect()
    }

    /// Reads what every task has recorded so far, rewrites `study.json` and the pages from
    /// it, and returns the record.
    pub fn collect(&mut self) -> Result<StudyRecord> {
        self.update(|_| Ok(()))?;
        Ok(self.record.clone())
    }

    /// The study's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The record as last read or written by this process.
    pub fn record(&self) -> &StudyRecord {
        &self.record
    }

    /// The configuration the study was created with.
    pub fn config(&self) -> &ResolvedStudy {
        &self.config
    }

    /// The space the study searches.
    pub(crate) fn space(&self) -> &SearchSpace {
        &self.space
    }

    /// The cost of every candidate under the search's target (computed once per process).
    pub(crate) fn costs(&mut self) -> Result<CandidateCosts> {
        if self.costs.is_none() {
            let costs = search_costs(&self.config.search, "search.toml", &self.device)?
                .expect("a study's search has a cost (checked when resolved)");
            self.costs = Some(costs);
        }
        Ok(self.costs.clone().expect("just computed"))
    }

    /// Rereads `study.json`, which other processes running tasks of this study rewrite.
    pub(crate) fn reload(&mut self) -> Result<()> {
        self.record = StudyRecord::read(&self.dir.join("study.json"))?;
        Ok(())
    }

    /// Applies `change` to the newest record and writes it with the pages, holding the study's
    /// lock (`study.lock`) from the read to the write, so that tasks finishing at the same
    /// time in other processes each add their result.
    pub(crate) fn update(
        &mut self,
        change: impl FnOnce(&mut StudyRecord) -> Result<()>,
    ) -> Result<()> {
        let _lock = crate::lock::exclusive(&self.dir.join("study.lock"))?;
        self.reload()?;
        change(&mut self.record)?;
        self.record.summarise();
        self.record.write(&self.dir.join("study.json"))?;
        write_pages(&self.record, &self.dir)
    }

    /// Runs (or finishes) the search with `seed` in `search-<seed>/`.
    pub(crate) fn search(&mut self, seed: u64) -> Result<SearchRecord> {
        let costs = self.costs()?;
        let name = format!("search-{seed}");
        let dir = self.dir.join(&name);
        let search = if RunFiles::new(&dir).config().is_file() {
            Search::resume(&dir, &self.device, self.quiet)?
        } else {
            remove_partial(&dir)?;
            let mut config = self.config.search.clone();
            config.seed = seed;
            Search::create(config, &dir, &self.device, self.quiet)?
        };
        info!(seed, "search");
        let outcome = search
            .run(None)?
            .expect("a search without a stop runs to its end");
        let choices = outcome.choices.clone();
        Ok(SearchRecord {
            seed,
            dir: name,
            architecture: outcome.text,
            cost: costs.of(&choices),
            choices,
            holdout_accuracy: outcome.holdout_accuracy,
            seconds: outcome.seconds,
        })
    }

    /// Fixes the networks of every search that has none yet: the whole plan the first time,
    /// the searched and random networks of added search seeds later. Returns whether any
    /// network was added.
    pub(crate) fn plan_networks(
        space: &SearchSpace,
        study: &StudyConfig,
        costs: &CandidateCosts,
        record: &mut StudyRecord,
    ) -> Result<bool> {
        let s = study;
        let settings = PlanSettings {
            random_per_search: s.random_per_search,
            band: s.band,
            sampler_seed: s.sampler_seed,
            baseline: s.baseline,
            anchors: s.anchors,
        };
        let unplanned: Vec<SearchRecord> = record
            .searches
            .iter()
            .filter(|s| {
                let id = format!("searched-{}", s.seed);
                !record.nets.iter().any(|n| n.id == id)
            })
            .cloned()
            .collect();
        if unplanned.is_empty() {
            return Ok(false);
        }
        if record.nets.is_empty() {
            record.nets = plan(space, costs, &unplanned, &settings)?;
        } else {
            extend_plan(space, costs, &unplanned, &settings, &mut record.nets)?;
            // Latencies compare only within one set of interleaved rounds.
            for net in &mut record.nets {
                net.measured_ms = None;
            }
        }
        let seeds = record.train_seeds.len();
        for net in &mut record.nets {
            net.top1.resize(seeds, None);
        }
        info!(networks = record.nets.len(), "networks fixed");
        Ok(true)
    }

    /// The latency of `nets` on the study's device, timed in interleaved rounds (ms).
    pub(crate) fn measure_latency(&self, nets: &[StudyNet]) -> Vec<f64> {
        let settings = ProfileSettings {
            batch: self.config.study.latency_batch,
            warmup: 5,
            runs: self.config.study.latency_runs,
            group: ProfileSettings::group_for(&self.device),
            calibration: 0,
        };
        let specs: Vec<_> = nets
            .iter()
            .map(|n| self.architecture(&n.choices).to_net_spec(&self.space))
            .collect();
        let inference = self.device.clone().inner();
        let resolution = self.space.input.resolution;
        measure_nets(&specs, resolution, &inference, &settings, |_, _| {})
            .into_iter()
            .map(|m| m.trimmed_mean)
            .collect()
    }

    /// The held-out accuracy of `nets` with each search's final supernet weights, per network
    /// in the order of `searches`.
    pub(crate) fn inherit(
        &self,
        searches: &[SearchRecord],
        nets: &[StudyNet],
    ) -> Result<Vec<Vec<f64>>> {
        let mut inherited = vec![Vec::with_capacity(searches.len()); nets.len()];
        for s in searches {
            let search = Search::resume(&self.dir.join(&s.dir), &self.device, true)?;
            for (net, accuracies) in nets.iter().zip(&mut inherited) {
                accuracies.push(search.inherited_accuracy(&net.choices)?);
            }
        }
        Ok(inherited)
    }

    /// Retrains `net` with training seed `seed` in `train/<id>-seed<seed>/`: its test top-1
    /// and the seconds it took.
    pub(crate) fn retrain(&self, net: &StudyNet, seed: u64) -> Result<(f64, f64)> {
        let dir = self
            .dir
            .join("train")
            .join(format!("{}-seed{seed}", net.id));
        info!(network = %net.id, seed, "retraining");
        let trainer = if dir.join("train.toml").is_file() {
            Trainer::resume(&dir, None, &self.device, self.quiet)?
        } else {
            remove_partial(&dir)?;
            let mut config = self.config.train.clone();
            config.seed = seed;
            let spec = self.architecture(&net.choices).to_net_spec(&self.space);
            Trainer::new(spec, config, &dir, &self.device, self.quiet)?
        };
        let outcome = trainer.run()?;
        if !self.quiet {
            eprintln!(
                "{} (seed {seed}): test top-1 {:.4}",
                net.id, outcome.test.top1
            );
        }
        Ok((outcome.test.top1, outcome.seconds))
    }

    fn architecture(&self, choices: &[usize]) -> Architecture {
        Architecture::from_indices(&self.space, choices, "study").expect("planned in this space")
    }
}

/// Removes what a step killed before it wrote its configuration left behind.
fn remove_partial(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::file(dir, e))?;
    }
    Ok(())
}
