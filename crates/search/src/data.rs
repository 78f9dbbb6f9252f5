//! The search's data: training images for weight steps, held-out images for architecture
//! steps and validation, both checked against the space.

use std::path::PathBuf;

use crate::space::Space;
use proxyless_data::{Augment, Examples, LoadOptions, Loader, Split, synthetic};

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
pub fn load_train(config: &DataConfig, space: &Space, seed: u64) -> Result<Examples> {
    let input = space.input();
    let dir = data_dir(config)?;
    let options = LoadOptions {
        resolution: input.resolution,
        channels: input.channels,
        folder: config.folder.clone(),
        synthetic: synthetic::SyntheticConfig {
            classes: input.classes,
            per_class: config.synthetic_per_class,
            channels: input.channels,
            size: input.resolution,
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

fn check_fits(set: &Examples, space: &Space) -> Result<()> {
    let input = space.input();
    let want = [input.channels, input.resolution, input.resolution];
    let got = set.shape();
    if want != got {
        return Err(Error::config(
            "data",
            format!(
                "{} has images of {}x{}x{}, but space '{}' expects {}x{}x{}",
                set.name(),
                got[0],
                got[1],
                got[2],
                space.name(),
                want[0],
                want[1],
                want[2]
            ),
        ));
    }
    if set.classes() > input.classes {
        return Err(Error::config(
            "data",
            format!(
                "{} has {} classes, but space '{}' classifies {}",
                set.name(),
                set.classes(),
                space.name(),
                input.classes
            ),
        ));
    }
    Ok(())
}

impl SearchData {
    /// Splits `set` into training and held-out images (seeded) and makes the loaders: the
    /// training images augmented (small images: a padded crop and flip; image folders:
    /// RandomResizedCrop, flip and colour jitter), the held-out ones not (folders: resized and
    /// centre-cropped, as the paper validates).
    pub fn new(set: &Examples, config: &DataConfig, seed: u64) -> Result<Self> {
        let (train, holdout) = set.split_holdout(config.holdout, seed)?;
        let normalize = train.normalization(seed)?;
        let augment = config
            .augment
            .then_some(Augment::crop_and_flip((train.shape()[1] / 8).max(1)));
        Ok(Self {
            train: Loader::new(train, config.batch_size, normalize.clone())
                .with_augment(augment)
                .with_drop_last(true),
            holdout: Loader::new(holdout.clone(), config.batch_size, normalize.clone())
                .with_shuffle(false),
            arch: Loader::new(holdout, config.arch_batch_size, normalize).with_drop_last(true),
        })
    }
}
