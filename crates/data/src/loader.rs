//! Batches: shuffled with a seed, augmented, normalised, and assembled on a background thread
//! so the training step never waits for them.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::ImageSet;

/// Per-channel normalisation of pixels scaled to `[0, 1]`: `(x - mean) / std`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    /// Mean per channel.
    pub mean: Vec<f32>,
    /// Standard deviation per channel.
    pub std: Vec<f32>,
}

impl Normalize {
    /// The statistics of `set` itself.
    pub fn from_set(set: &ImageSet) -> Self {
        let (mean, std) = set.channel_stats();
        Self { mean, std }
    }

    /// Appends one planar image (`[channels, h, w]` bytes) to `out` as the loader normalises
    /// an un-augmented image: `(pixel / 255 - mean) / std` per channel.
    pub fn extend_normalised(&self, pixels: &[u8], out: &mut Vec<f32>) {
        let plane = pixels.len() / self.mean.len();
        for (i, &p) in pixels.iter().enumerate() {
            let ch = i / plane;
            out.push((p as f32 / 255.0 - self.mean[ch]) / self.std[ch]);
        }
    }
}

/// The standard augmentations of small-image training: a random crop of the image padded
/// with zeros by `pad` pixels on each side, and a random horizontal flip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Augment {
    /// Padding of the random crop (0: no crop).
    pub pad: usize,
    /// Whether to flip half of the images left-right.
    pub flip: bool,
}

/// One batch: images `[batch, channels, height, width]` as `f32`, and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Normalised pixels, channels first.
    pub images: Vec<f32>,
    /// Class labels.
    pub labels: Vec<i64>,
    /// `[batch, channels, height, width]`.
    pub shape: [usize; 4],
}

/// Iterates over an [`ImageSet`] in batches.
#[derive(Debug, Clone)]
pub struct Loader {
    set: Arc<ImageSet>,
    batch_size: usize,
    augment: Option<Augment>,
    normalize: Normalize,
    drop_last: bool,
    shuffle: bool,
    prefetch: usize,
}

impl Loader {
    /// A loader over `set`; shuffled, not augmented, keeping a last partial batch.
    pub fn new(set: Arc<ImageSet>, batch_size: usize, normalize: Normalize) -> Self {
        assert!(batch_size > 0, "batch size must be positive");
        Self {
            set,
            batch_size,
            augment: None,
            normalize,
            drop_last: false,
            shuffle: true,
            prefetch: 4,
        }
    }

    /// Applies `augment` to every image.
    pub fn with_augment(mut self, augment: Option<Augment>) -> Self {
        self.augment = augment;
        self
    }

    /// Drops a last batch smaller than the batch size.
    pub fn with_drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Keeps the set's order instead of shuffling.
    pub fn with_shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The data set.
    pub fn set(&self) -> &ImageSet {
        &self.set
    }

    /// Number of batches in one epoch.
    pub fn num_batches(&self) -> usize {
        let n = self.set.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// One pass over the data in an order (and with augmentations) fixed by `seed`. Batches
    /// are assembled on a background thread, a few ahead of the consumer.
    pub fn epoch(&self, seed: u64) -> Batches {
        self.epoch_from(seed, 0)
    }

    /// The pass of [`epoch`](Self::epoch)`(seed)` from its batch `first` on: the same batches,
    /// bitwise, as the whole pass gives from there (the order is drawn from `seed`, each
    /// batch's augmentation from `seed` and the batch's number), without assembling the
    /// batches before it. A run resumed in the middle of an epoch continues with it.
    pub fn epoch_from(&self, seed: u64, first: usize) -> Batches {
        let (tx, rx) = sync_channel(self.prefetch);
        let this = self.clone();
        let handle = std::thread::spawn(move || {
            let mut order: Vec<usize> = (0..this.set.len()).collect();
            if this.shuffle {
                order.shuffle(&mut StdRng::seed_from_u64(seed));
            }
            let chunks = order.chunks(this.batch_size).take(this.num_batches());
            for (b, chunk) in chunks.enumerate().skip(first) {
                let mut rng = StdRng::seed_from_u64(batch_seed(seed, b));
                if tx.send(this.assemble(chunk, &mut rng)).is_err() {
                    return;
                }
            }
        });
        Batches {
            rx,
            _handle: handle,
        }
    }

    fn assemble(&self, indices: &[usize], rng: &mut StdRng) -> Batch {
        let set = &*self.set;
        let (c, h, w) = (set.channels, set.height, set.width);
        let mut images = Vec::with_capacity(indices.len() * c * h * w);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let (dy, dx, flip) = match self.augment {
                Some(a) => {
                    let pad = a.pad as i64;
                    (
                        rng.random_range(-pad..=pad) as isize,
                        rng.random_range(-pad..=pad) as isize,
                        a.flip && rng.random_bool(0.5),
                    )
                }
                None => (0, 0, false),
            };
            let pixels = set.image(i);
            for ch in 0..c {
                let plane = &pixels[ch * h * w..(ch + 1) * h * w];
                let (mean, std) = (self.normalize.mean[ch], self.normalize.std[ch]);
                for y in 0..h as isize {
                    for x in 0..w as isize {
                        let sx = if flip { w as isize - 1 - x } else { x } + dx;
                        let sy = y + dy;
                        let v = if sx >= 0 && sy >= 0 && sx < w as isize && sy < h as isize {
                            plane[sy as usize * w + sx as usize] as f32 / 255.0
                        } else {
                            0.0
                        };
                        images.push((v - mean) / std);
                    }
                }
            }
            labels.push(set.label(i) as i64);
        }
        Batch {
            images,
            labels,
            shape: [indices.len(), c, h, w],
        }
    }
}

/// The seed of batch `b`'s augmentation in the pass of `seed`.
fn batch_seed(seed: u64, b: usize) -> u64 {
    seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ (b as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The batches of one epoch, produced on a background thread.
pub struct Batches {
    rx: Receiver<Batch>,
    _handle: JoinHandle<()>,
}

impl Iterator for Batches {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        self.rx.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{SyntheticConfig, generate};

    fn loader(augment: Option<Augment>) -> Loader {
        let set = Arc::new(generate(&SyntheticConfig::default(), 2));
        let norm = Normalize::from_set(&set);
        Loader::new(set, 60, norm).with_augment(augment)
    }

    #[test]
    fn an_epoch_visits_every_image_once_in_a_seeded_order() {
        let l = loader(None);
        let batches: Vec<Batch> = l.epoch(1).collect();
        assert_eq!(batches.len(), l.num_batches());
        let total: usize = batches.iter().map(|b| b.labels.len()).sum();
        assert_eq!(total, l.set().len());
        assert_eq!(batches, l.epoch(1).collect::<Vec<_>>());
        assert_ne!(batches[0].labels, l.epoch(2).next().unwrap().labels);
        assert_eq!(
            l.clone().with_drop_last(true).epoch(1).count(),
            l.set().len() / 60
        );
    }

    #[test]
    fn normalised_batches_have_zero_mean_and_unit_spread() {
        let l = loader(None);
        let values: Vec<f32> = l.epoch(0).flat_map(|b| b.images).collect();
        let n = values.len() as f32;
        let mean = values.iter().sum::<f32>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
        assert!(
            mean.abs() < 1e-3 && (var - 1.0).abs() < 1e-2,
            "{mean} {var}"
        );
    }

    #[test]
    fn a_pass_from_a_later_batch_is_the_rest_of_the_whole_pass() {
        let l = loader(Some(Augment { pad: 2, flip: true }));
        let whole: Vec<Batch> = l.epoch(9).collect();
        for first in [1, 2, whole.len()] {
            let rest: Vec<Batch> = l.epoch_from(9, first).collect();
            assert_eq!(rest, whole[first..], "from batch {first}");
        }
    }

    #[test]
    fn augmentation_changes_images_but_not_labels() {
        let plain: Vec<Batch> = loader(None).epoch(4).collect();
        let aug = Some(Augment { pad: 2, flip: true });
        let augmented: Vec<Batch> = loader(aug).epoch(4).collect();
        assert_eq!(plain[0].labels, augmented[0].labels);
        assert_ne!(plain[0].images, augmented[0].images);
    }
}
