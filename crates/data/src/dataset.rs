//! The data sets by kind, as configuration files name them, and reading one split of one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::folder_index::IndexOrigin;
use crate::synthetic::{self, SyntheticConfig};
use crate::{Examples, FASHION_MNIST_DIR, FolderOptions, FolderSet, Split, cifar, idx};

/// Which data set (`fashion-mnist`, `mnist`, `cifar10`, `image-folder`, `synthetic` in files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// Fashion-MNIST idx files (default path: Debian's `dataset-fashion-mnist`).
    FashionMnist,
    /// MNIST idx files.
    Mnist,
    /// CIFAR-10, binary version.
    Cifar10,
    /// Class folders of JPEG/PNG images (`train/` and `val/`).
    ImageFolder,
    /// Seeded synthetic patterns (tests, demos).
    Synthetic,
}

impl DatasetKind {
    /// Where the data set is read from when no directory is given: Fashion-MNIST from the
    /// Debian package's location; synthetic data needs none. `Ok(None)`: no directory needed.
    pub fn resolve_dir(self, dir: Option<&Path>) -> Result<Option<PathBuf>> {
        match (self, dir) {
            (_, Some(d)) => Ok(Some(d.to_path_buf())),
            (Self::FashionMnist, None) => Ok(Some(PathBuf::from(FASHION_MNIST_DIR))),
            (Self::Synthetic, None) => Ok(None),
            (kind, None) => Err(Error::Invalid(format!(
                "the {kind:?} data set has no default location: give its directory \
                 (data.path, or --data DIR)"
            ))),
        }
    }
}

/// Fashion-MNIST's classes, in label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
/// CIFAR-10's classes, in label order.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The class names of the data set `kind` in `dir`, in label order: built in for
/// Fashion-MNIST, MNIST and CIFAR-10, the sorted class folders of an image folder's training
/// split; `None` for synthetic data.
pub fn class_names(kind: DatasetKind, dir: Option<&Path>) -> Result<Option<Vec<String>>> {
    let owned = |names: &[&str]| Some(names.iter().map(|s| s.to_string()).collect());
    Ok(match kind {
        DatasetKind::FashionMnist => owned(&FASHION_MNIST_CLASSES),
        DatasetKind::Mnist => Some((0..10).map(|d| d.to_string()).collect()),
        DatasetKind::Cifar10 => owned(&CIFAR10_CLASSES),
        DatasetKind::ImageFolder => match kind.resolve_dir(dir)? {
            Some(d) => Some(crate::folder::class_names(&d)?),
            None => None,
        },
        DatasetKind::Synthetic => None,
    })
}

/// What [`load`] needs besides the kind and directory.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Side that image folders are resized to (the other formats have a fixed size).
    pub resolution: usize,
    /// Channels image folders are decoded to: 3 (RGB) or 1 (luma).
    pub channels: usize,
    /// How image folders are streamed, augmented and normalised.
    pub folder: FolderOptions,
    /// Shape of a synthetic set; its test split is generated with `seed + 1`.
    pub synthetic: SyntheticConfig,
    /// Seed of a synthetic set.
    pub seed: u64,
}

/// Reads `split` of the data set `kind` from `dir` (or its default location): idx, CIFAR-10
/// and synthetic sets into memory, image folders as a stream (their file list indexed, or read
/// from its cache).
pub fn load(
    kind: DatasetKind,
    dir: Option<&Path>,
    split: Split,
    options: &LoadOptions,
) -> Result<Examples> {
    let dir = kind.resolve_dir(dir)?;
    Ok(match (kind, dir) {
        (DatasetKind::FashionMnist, Some(d)) => idx::load(&d, split, "fashion-mnist")?.into(),
        (DatasetKind::Mnist, Some(d)) => idx::load(&d, split, "mnist")?.into(),
        (DatasetKind::Cifar10, Some(d)) => cifar::load(&d, split)?.into(),
        (DatasetKind::ImageFolder, Some(d)) => {
            let (set, origin) = FolderSet::open(
                &d,
                split,
                options.channels,
                options.resolution,
                &options.folder,
            )?;
            match origin {
                IndexOrigin::Cached(file) => {
                    info!(
                        "{}: {} images, file list from {}",
                        set.name(),
                        set.len(),
                        file.display()
                    )
                }
                IndexOrigin::Scanned(Ok(file)) => {
                    info!(
                        "{}: {} images indexed into {}",
                        set.name(),
                        set.len(),
                        file.display()
                    )
                }
                IndexOrigin::Scanned(Err(why)) => {
                    warn!(
                        "{}: {} images indexed; the index cannot be cached ({why})",
                        set.name(),
                        set.len()
                    )
                }
            }
            if set.skipped() > 0 {
                warn!(
                    "{}: {} files that are not .jpg/.jpeg/.png images skipped",
                    set.name(),
                    set.skipped()
                );
            }
            set.into()
        }
        (DatasetKind::Synthetic, _) => {
            let seed = match split {
                Split::Train => options.seed,
                Split::Test => options.seed + 1,
            };
            synthetic::generate(&options.synthetic, seed).into()
        }
        (_, None) => unreachable!("resolve_dir gives every file data set a directory"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_as_configuration_files_spell_them() {
        #[derive(Deserialize)]
        struct Wrapper {
            dataset: DatasetKind,
        }
        let w: Wrapper = toml::from_str("dataset = \"fashion-mnist\"").unwrap();
        assert_eq!(w.dataset, DatasetKind::FashionMnist);
        let w: Wrapper = toml::from_str("dataset = \"image-folder\"").unwrap();
        assert_eq!(w.dataset, DatasetKind::ImageFolder);
    }

    #[test]
    fn synthetic_splits_differ_and_others_need_a_directory() {
        let options = LoadOptions {
            resolution: 16,
            channels: 1,
            folder: FolderOptions::default(),
            synthetic: SyntheticConfig::default(),
            seed: 3,
        };
        let train = load(DatasetKind::Synthetic, None, Split::Train, &options).unwrap();
        let test = load(DatasetKind::Synthetic, None, Split::Test, &options).unwrap();
        assert_eq!(train.len(), test.len());
        assert_ne!(train.read(0).unwrap(), test.read(0).unwrap());
        let err = load(DatasetKind::Cifar10, None, Split::Train, &options).unwrap_err();
        assert!(err.to_string().contains("--data DIR"), "{err}");
    }
}
