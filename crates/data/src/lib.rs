//! Image classification data for proxyless, without tensors.
//!
//! - readers: [`idx`] (MNIST, Fashion-MNIST; gzipped or not), [`cifar`] (CIFAR-10 binary
//!   version), [`synthetic`] (seeded, learnable patterns for tests), all into memory
//!   ([`ImageSet`], `u8`, channels first); ImageNet-style class folders of JPEG/PNG streamed
//!   from disk ([`FolderSet`]: an indexed, cached file list, decoding by worker threads,
//!   torchvision's [`transform`]s);
//! - [`Examples`]: either kind, with seeded, class-balanced held-out splits for the
//!   architecture steps of a search, samples and normalisation statistics;
//! - [`DatasetKind`] and [`load`]: a split of a data set as configuration files name it;
//! - [`Loader`]: shuffled, augmented `u8` batches assembled ahead on a background thread.
//!
//! Nothing is downloaded: a missing file is an error that names it (and, for Fashion-MNIST,
//! the Debian package that installs it).

pub mod cifar;
mod dataset;
mod error;
mod examples;
pub mod folder;
pub mod folder_index;
pub mod idx;
mod image_set;
mod loader;
pub mod stream;
pub mod synthetic;
pub mod transform;

pub use dataset::{
    CIFAR10_CLASSES, DatasetKind, FASHION_MNIST_CLASSES, LoadOptions, class_names, load,
};
pub use error::{Error, Result};
pub use examples::Examples;
pub use folder_index::FolderIndex;
pub use image_set::ImageSet;
pub use loader::{Augment, Batch, Batches, Loader, Normalize, cutout};
pub use stream::{FolderOptions, FolderSet};

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
