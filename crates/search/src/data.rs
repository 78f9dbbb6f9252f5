//! The search's data: training images for weight steps, held-out images for architecture
//! steps and validation, both checked against the space.

use std::path::PathBuf;
use std::sync::Arc;

use proxyless_data::{Augment, ImageSet, LoadOptions, Loader, Normalize, Split, synthetic};
use proxyless_space::SearchSpace;

use crate::config::DataConfig;
use crate::error::{Error, Result};

/// The loaders of a search.
pub struct SearchData {
    /// Weight steps: the training images less the held-out ones, augmented.
    pub train: Loader,
    /// Architecture steps and validation: the held-out images, not augmented.
    pub holdout: Loader,
    /// The held-out loader in batches of the architecture steps.
    pub arch: Loader,
}

/// Where a data set is read from: the configured path or the data set's default.
pub fn data_dir(config: &DataConfig) -> Result<Option<PathBuf>> {
    config
        .dataset
        .resolve_dir(config.path.as_deref())
        .map_err(|e| Error::config("data.path", e.to_string()))
}

/// Reads the training split of the configured data set.
pub fn load_train(config: &DataConfig, space: &SearchSpace, seed: u64) -> Result<ImageSet> {
    let dir = data_dir(config)?;
    let options = LoadOptions {
        resolution: space.input.resolution,
        synthetic: synthetic::SyntheticConfig {
            classes: space.classes,
            per_class: config.synthetic_per_class,
            channels: space.input.channels,
            size: space.input.resolution,
            ..Default::default()
        },
        seed,
    };
    let set = proxyless_data::load(config.dataset, dir.as_deref(), Split::Train, &options)?;
    check_fits(&set, space)?;
    Ok(match config.train_limit {
        Some(n) => set.sample(n, seed),
        None => set,
    })
}

fn check_fits(set: &ImageSet, space: &SearchSpace) -> Result<()> {
    let want = [
        space.input.channels,
        space.input.resolution,
        space.input.resolution,
    ];
    let got = [set.channels, set.height, set.width];
    if want != got {
        return Err(Error::config(
            "data",
            format!(
                "{} has images of {}x{}x{}, but space '{}' expects {}x{}x{}",
                set.name, got[0], got[1], got[2], space.name, want[0], want[1], want[2]
            ),
        ));
    }
    if set.classes > space.classes {
        return Err(Error::config(
            "data",
            format!(
                "{} has {} classes, but space '{}' classifies {}",
                set.name, set.classes, space.name, space.classes
            ),
        ));
    }
    Ok(())
}

impl SearchData {
    /// Splits `set` into training and held-out images (seeded) and makes the loaders.
    pub fn new(set: &ImageSet, config: &DataConfig, seed: u64) -> Result<Self> {
        let (train, holdout) = set.split_holdout(config.holdout, seed)?;
        let normalize = Normalize::from_set(&train);
        let augment = config.augment.then_some(Augment {
            pad: (train.height / 8).max(1),
            flip: true,
        });
        let holdout = Arc::new(holdout);
        Ok(Self {
            train: Loader::new(Arc::new(train), config.batch_size, normalize.clone())
                .with_augment(augment)
                .with_drop_last(true),
            holdout: Loader::new(holdout.clone(), config.batch_size, normalize.clone())
                .with_shuffle(false),
            arch: Loader::new(holdout, config.arch_batch_size, normalize).with_drop_last(true),
        })
    }
}
