//! Running a study: the searches, the plan of networks, their measured latency and inherited
//! accuracy, then every retraining. After each step `study.json`, `study.md` and
//! `study.html` are rewritten, so a killed study resumes where it stopped.

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
use crate::record::{SearchRecord, StudyRecord, write_text};
use crate::render::write_pages;

/// A study in its directory, new or resumed.
pub struct Study {
    dir: PathBuf,
    config: ResolvedStudy,
    space: SearchSpace,
    record: StudyRecord,
    device: Device,
    quiet: bool,
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

    /// Runs what is left and returns the finished record.
    pub fn run(mut self) -> Result<StudyRecord> {
        let costs = search_costs(&self.config.search, "search.toml", &self.device)?
            .expect("a study's search has a cost (checked when resolved)");
        self.record.unit = costs.unit.clone();
        for &seed in &self.config.study.search_seeds.clone() {
            if !self.record.searches.iter().any(|s| s.seed == seed) {
                let done = self.search(seed, &costs)?;
                self.record.searches.push(done);
                self.save()?;
            }
        }
        self.plan_networks(&costs)?;
        if self.record.nets.iter().any(|n| n.measured_ms.is_none()) {
            self.measure_latency();
            self.save()?;
        }
        if self
            .record
            .nets
            .iter()
            .any(|n| n.inherited.len() < self.record.searches.len())
        {
            self.inherit()?;
            self.save()?;
        }
        for i in 0..self.record.nets.len() {
            for r in 0..self.record.train_seeds.len() {
                if self.record.nets[i].top1[r].is_none() {
                    self.retrain(i, r)?;
                    self.save()?;
                }
            }
        }
        // Once more, so that a finished study resumed by a newer build gets its pages anew.
        self.save()?;
        Ok(self.record)
    }

    /// Fixes the networks of every search that has none yet: the whole plan the first time,
    /// the searched and random networks of added search seeds later.
    fn plan_networks(&mut self, costs: &CandidateCosts) -> Result<()> {
        let s = &self.config.study;
        let settings = PlanSettings {
            random_per_search: s.random_per_search,
            band: s.band,
            sampler_seed: s.sampler_seed,
            baseline: s.baseline,
            anchors: s.anchors,
        };
        let unplanned: Vec<SearchRecord> = self
            .record
            .searches
            .iter()
            .filter(|s| {
                let id = format!("searched-{}", s.seed);
                !self.record.nets.iter().any(|n| n.id == id)
            })
            .cloned()
            .collect();
        if unplanned.is_empty() {
            return Ok(());
        }
        if self.record.nets.is_empty() {
            self.record.nets = plan(&self.space, costs, &unplanned, &settings)?;
        } else {
            extend_plan(
                &self.space,
                costs,
                &unplanned,
                &settings,
                &mut self.record.nets,
            )?;
            // Latencies compare only within one set of interleaved rounds.
            for net in &mut self.record.nets {
                net.measured_ms = None;
            }
        }
        let seeds = self.record.train_seeds.len();
        for net in &mut self.record.nets {
            net.top1.resize(seeds, None);
        }
        info!(networks = self.record.nets.len(), "networks fixed");
        self.save()
    }

    fn save(&mut self) -> Result<()> {
        self.record.summarise();
        self.record.write(&self.dir.join("study.json"))?;
        write_pages(&self.record, &self.dir)
    }

    /// Runs (or finishes) the search with `seed` in `search-<seed>/`.
    fn search(&self, seed: u64, costs: &CandidateCosts) -> Result<SearchRecord> {
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

    /// Every network's latency on the study's device, timed in interleaved rounds.
    fn measure_latency(&mut self) {
        let settings = ProfileSettings {
            batch: self.config.study.latency_batch,
            warmup: 5,
            runs: self.config.study.latency_runs,
            group: ProfileSettings::group_for(&self.device),
            calibration: 0,
        };
        let specs: Vec<_> = self
            .record
            .nets
            .iter()
            .map(|n| self.architecture(&n.choices).to_net_spec(&self.space))
            .collect();
        let inference = self.device.clone().inner();
        let resolution = self.space.input.resolution;
        let times = measure_nets(&specs, resolution, &inference, &settings, |_, _| {});
        for (net, m) in self.record.nets.iter_mut().zip(times) {
            net.measured_ms = Some(m.trimmed_mean);
        }
    }

    /// Every network's held-out accuracy with each search's final supernet weights.
    fn inherit(&mut self) -> Result<()> {
        for (i, s) in self.record.searches.iter().enumerate() {
            let search = Search::resume(&self.dir.join(&s.dir), &self.device, true)?;
            for net in &mut self.record.nets {
                net.inherited.truncate(i);
                net.inherited.push(search.inherited_accuracy(&net.choices)?);
            }
        }
        Ok(())
    }

    /// Retrains network `i` with training seed number `r` in `train/<id>-seed<seed>/`.
    fn retrain(&mut self, i: usize, r: usize) -> Result<()> {
        let seed = self.record.train_seeds[r];
        let net = &self.record.nets[i];
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
        let net = &mut self.record.nets[i];
        net.top1[r] = Some(outcome.test.top1);
        net.train_seconds += outcome.seconds;
        if !self.quiet {
            eprintln!(
                "{} (seed {seed}): test top-1 {:.4}",
                net.id, outcome.test.top1
            );
        }
        Ok(())
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
