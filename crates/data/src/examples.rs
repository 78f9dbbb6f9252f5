//! A labelled image set whatever its storage: in memory ([`ImageSet`]: idx, CIFAR-10,
//! synthetic) or streamed from an image folder ([`FolderSet`]). Splits, samples, statistics
//! and batches work the same on both.

use std::sync::Arc;

use rand::RngExt;
use rand::rngs::StdRng;

use crate::error::Result;
use crate::{Augment, FolderSet, ImageSet, Normalize};

/// A labelled image set, in memory or streamed.
#[derive(Debug, Clone)]
pub enum Examples {
    /// Every image decoded and kept in memory (small sets, where it is fastest).
    Memory(Arc<ImageSet>),
    /// Images decoded from their files when a batch needs them.
    Folder(FolderSet),
}

impl From<ImageSet> for Examples {
    fn from(set: ImageSet) -> Self {
        Self::Memory(Arc::new(set))
    }
}

impl From<Arc<ImageSet>> for Examples {
    fn from(set: Arc<ImageSet>) -> Self {
        Self::Memory(set)
    }
}

impl From<FolderSet> for Examples {
    fn from(set: FolderSet) -> Self {
        Self::Folder(set)
    }
}

impl Examples {
    /// Number of images.
    pub fn len(&self) -> usize {
        match self {
            Self::Memory(s) => s.len(),
            Self::Folder(s) => s.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Name for messages.
    pub fn name(&self) -> &str {
        match self {
            Self::Memory(s) => &s.name,
            Self::Folder(s) => s.name(),
        }
    }

    /// `[channels, height, width]` of every image.
    pub fn shape(&self) -> [usize; 3] {
        match self {
            Self::Memory(s) => [s.channels, s.height, s.width],
            Self::Folder(s) => s.shape(),
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        match self {
            Self::Memory(s) => s.classes,
            Self::Folder(s) => s.classes(),
        }
    }

    /// Label of image `i`.
    pub fn label(&self, i: usize) -> usize {
        match self {
            Self::Memory(s) => s.label(i),
            Self::Folder(s) => s.label(i),
        }
    }

    /// The in-memory set, if it is one.
    pub fn in_memory(&self) -> Option<&ImageSet> {
        match self {
            Self::Memory(s) => Some(s),
            Self::Folder(_) => None,
        }
    }

    /// Splits off `holdout` images, balanced over classes and seeded. Returns
    /// `(rest, held_out)`.
    pub fn split_holdout(&self, holdout: usize, seed: u64) -> Result<(Self, Self)> {
        Ok(match self {
            Self::Memory(s) => {
                let (rest, held) = s.split_holdout(holdout, seed)?;
                (rest.into(), held.into())
            }
            Self::Folder(s) => {
                let (rest, held) = s.split_holdout(holdout, seed)?;
                (rest.into(), held.into())
            }
        })
    }

    /// The first `n` images of a seeded permutation (all of them when `n >= len`).
    pub fn sample(&self, n: usize, seed: u64) -> Self {
        match self {
            Self::Memory(s) if n < s.len() => s.sample(n, seed).into(),
            Self::Memory(_) => self.clone(),
            Self::Folder(s) => s.sample(n, seed).into(),
        }
    }

    /// The normalisation of training batches: an in-memory set's own statistics; a folder's
    /// configured one (ImageNet's, given, or measured on a sample drawn with `seed`).
    pub fn normalization(&self, seed: u64) -> Result<Normalize> {
        match self {
            Self::Memory(s) => Ok(Normalize::from_set(s)),
            Self::Folder(s) => s.normalization(seed),
        }
    }

    /// Image `i` as an evaluation sees it (no augmentation), planar `[C, H, W]` bytes.
    pub fn read(&self, i: usize) -> Result<Vec<u8>> {
        match self {
            Self::Memory(s) => Ok(s.image(i).to_vec()),
            Self::Folder(s) => s.read(i),
        }
    }

    /// The images at `indices` as one planar batch, augmented by `augment` (in memory: a
    /// padded random crop and flip drawn in order from `rng`; folders: RandomResizedCrop,
    /// flip and colour jitter, each image's randomness from `seed` and its place).
    pub(crate) fn assemble(
        &self,
        indices: &[usize],
        augment: Option<Augment>,
        seed: u64,
        rng: &mut StdRng,
    ) -> Result<Vec<u8>> {
        match self {
            Self::Memory(s) => Ok(assemble_in_memory(s, indices, augment, rng)),
            Self::Folder(s) => s.assemble(indices, seed, augment.map(|a| a.flip)),
        }
    }
}

/// The small-image augmentation: a crop of the image padded with zeros by `pad`, and a flip.
fn assemble_in_memory(
    set: &ImageSet,
    indices: &[usize],
    augment: Option<Augment>,
    rng: &mut StdRng,
) -> Vec<u8> {
    let (c, h, w) = (set.channels, set.height, set.width);
    let mut images = Vec::with_capacity(indices.len() * c * h * w);
    for &i in indices {
        let pixels = set.image(i);
        let Some(a) = augment else {
            images.extend_from_slice(pixels);
            continue;
        };
        let pad = a.pad as i64;
        let dy = rng.random_range(-pad..=pad) as isize;
        let dx = rng.random_range(-pad..=pad) as isize;
        let flip = a.flip && rng.random_bool(0.5);
        for ch in 0..c {
            let plane = &pixels[ch * h * w..(ch + 1) * h * w];
            for y in 0..h as isize {
                for x in 0..w as isize {
                    let sx = if flip { w as isize - 1 - x } else { x } + dx;
                    let sy = y + dy;
                    let inside = sx >= 0 && sy >= 0 && sx < w as isize && sy < h as isize;
                    images.push(if inside {
                        plane[sy as usize * w + sx as usize]
                    } else {
                        0
                    });
                }
            }
        }
    }
    images
}
