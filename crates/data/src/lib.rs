//! Image classification data for proxyless, without tensors.
//!
//! - readers: [`idx`] (MNIST, Fashion-MNIST; gzipped or not), [`cifar`] (CIFAR-10 binary
//!   version), [`folder`] (ImageNet-style class folders of JPEG/PNG) and [`synthetic`] (seeded,
//!   learnable patterns for tests);
//! - [`ImageSet`]: images in memory as `u8`, channels first;
//! - [`ImageSet::split_holdout`]: a seeded, class-balanced held-out split of a training set,
//!   for the architecture steps of a search;
//! - [`DatasetKind`] and [`load`]: a split of a data set as configuration files name it;
//! - [`Loader`]: shuffled, augmented, normalised batches assembled on a background thread.
//!
//! Nothing is downloaded: a missing file is an error that names it (and, for Fashion-MNIST,
//! the Debian package that installs it).

pub mod cifar;
mod dataset;
mod error;
pub mod folder;
pub mod idx;
mod image_set;
mod loader;
pub mod synthetic;

pub use dataset::{
    CIFAR10_CLASSES, DatasetKind, FASHION_MNIST_CLASSES, LoadOptions, class_names, load,
};
pub use error::{Error, Result};
pub use image_set::ImageSet;
pub use loader::{Augment, Batch, Batches, Loader, Normalize};

/// Which part of a data set to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training images.
    Train,
    /// The test images.
    Test,
}

/// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";
