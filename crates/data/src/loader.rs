//! Batches: shuffled with a seed, augmented, and assembled as `u8` on a background thread so
//! the training step never waits for them (their normalisation happens on the device).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::error::Result;
use crate::{Examples, ImageSet};

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
/// with zeros by `pad` pixels on each side, a random horizontal flip, and optionally cutout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Augment {
    /// Padding of the random crop (0: no crop).
    pub pad: usize,
    /// Whether to flip half of the images left-right.
    pub flip: bool,
    /// Cutout (DeVries & Taylor, 2017): a square of this side, centred on a random pixel and
    /// clipped at the borders, set to the normalisation's mean (0 once normalised) in every
    /// image after the crop and flip (0: none; 16 is the usual one for CIFAR-10).
    pub cutout: usize,
}

impl Augment {
    /// A padded crop and a flip, no cutout.
    pub fn crop_and_flip(pad: usize) -> Self {
        Self {
            pad,
            flip: true,
            cutout: 0,
        }
    }
}

/// Cuts a `side` x `side` square out of every image of a planar `u8` batch `[n, c, h, w]`:
/// its centre drawn uniformly over the image from `rng`, its extent clipped at the borders,
/// its pixels set to `fill` (one value per channel).
pub fn cutout(pixels: &mut [u8], shape: [usize; 4], side: usize, fill: &[u8], rng: &mut StdRng) {
    let [n, c, h, w] = shape;
    if side == 0 || h == 0 || w == 0 {
        return;
    }
    for image in 0..n {
        let cy = rng.random_range(0..h);
        let cx = rng.random_range(0..w);
        let (y0, y1) = (cy.saturating_sub(side / 2), (cy + side.div_ceil(2)).min(h));
        let (x0, x1) = (cx.saturating_sub(side / 2), (cx + side.div_ceil(2)).min(w));
        for (ch, &value) in fill.iter().enumerate().take(c) {
            let plane = (image * c + ch) * h * w;
            for y in y0..y1 {
                pixels[plane + y * w + x0..plane + y * w + x1].fill(value);
            }
        }
    }
}

/// One batch: images `[batch, channels, height, width]` as `u8`, normalised where they become
/// tensors (on the device: four times less to copy than `f32`), and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Pixels, channels first.
    pub pixels: Vec<u8>,
    /// Class labels.
    pub labels: Vec<i64>,
    /// `[batch, channels, height, width]`.
    pub shape: [usize; 4],
    /// How the pixels are normalised: `(pixel / 255 - mean) / std` per channel.
    pub normalize: Arc<Normalize>,
}

impl Batch {
    /// The normalised pixels on the host, as the device computes them.
    pub fn normalised(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.pixels.len());
        let per_image = self.pixels.len() / self.shape[0].max(1);
        for image in self.pixels.chunks(per_image.max(1)) {
            self.normalize.extend_normalised(image, &mut out);
        }
        out
    }
}

/// Iterates over [`Examples`] in batches.
#[derive(Debug, Clone)]
pub struct Loader {
    examples: Examples,
    batch_size: usize,
    augment: Option<Augment>,
    normalize: Arc<Normalize>,
    drop_last: bool,
    shuffle: bool,
    prefetch: usize,
}

impl Loader {
    /// A loader over `examples`; shuffled, not augmented, keeping a last partial batch. A
    /// streamed folder prefetches as its options say, an in-memory set four batches.
    pub fn new(examples: impl Into<Examples>, batch_size: usize, normalize: Normalize) -> Self {
        assert!(batch_size > 0, "batch size must be positive");
        let examples = examples.into();
        let prefetch = match &examples {
            Examples::Folder(f) => f.options().prefetch.max(1),
            Examples::Memory(_) => 4,
        };
        Self {
            examples,
            batch_size,
            augment: None,
            normalize: Arc::new(normalize),
            drop_last: false,
            shuffle: true,
            prefetch,
        }
    }

    /// Applies `augment` to every image: in memory, its padded crop and flip; a streamed
    /// folder, its RandomResizedCrop and colour jitter with `augment.flip`'s flip (the padding
    /// is for small images only). Without it, folders are test-time resized and cropped.
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

    /// The images.
    pub fn examples(&self) -> &Examples {
        &self.examples
    }

    /// The normalisation of its batches.
    pub fn normalize(&self) -> &Normalize {
        &self.normalize
    }

    /// Number of batches in one epoch.
    pub fn num_batches(&self) -> usize {
        let n = self.examples.len();
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
    /// batches before it. A run resumed in the middle of an epoch continues with it. An image
    /// that cannot be read ends the pass with an error naming it.
    pub fn epoch_from(&self, seed: u64, first: usize) -> Batches {
        let (tx, rx) = sync_channel(self.prefetch);
        let this = self.clone();
        let handle = std::thread::spawn(move || {
            let mut order: Vec<usize> = (0..this.examples.len()).collect();
            if this.shuffle {
                order.shuffle(&mut StdRng::seed_from_u64(seed));
            }
            let chunks = order.chunks(this.batch_size).take(this.num_batches());
            for (b, chunk) in chunks.enumerate().skip(first) {
                let batch = this.assemble(chunk, batch_seed(seed, b));
                let failed = batch.is_err();
                if tx.send(batch).is_err() || failed {
                    return;
                }
            }
        });
        Batches {
            rx,
            _handle: handle,
        }
    }

    fn assemble(&self, indices: &[usize], seed: u64) -> Result<Batch> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut pixels = self
            .examples
            .assemble(indices, self.augment, seed, &mut rng)?;
        let [c, h, w] = self.examples.shape();
        if let Some(side) = self.augment.map(|a| a.cutout).filter(|&s| s > 0) {
            let fill: Vec<u8> = (0..c)
                .map(|ch| {
                    let mean = self.normalize.mean.get(ch).copied().unwrap_or(0.0);
                    (mean * 255.0).round().clamp(0.0, 255.0) as u8
                })
                .collect();
            cutout(&mut pixels, [indices.len(), c, h, w], side, &fill, &mut rng);
        }
        Ok(Batch {
            pixels,
            labels: indices
                .iter()
                .map(|&i| self.examples.label(i) as i64)
                .collect(),
            shape: [indices.len(), c, h, w],
            normalize: self.normalize.clone(),
        })
    }
}

/// The seed of batch `b`'s augmentation in the pass of `seed`.
fn batch_seed(seed: u64, b: usize) -> u64 {
    seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ (b as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The batches of one epoch, produced on a background thread.
pub struct Batches {
    rx: Receiver<Result<Batch>>,
    _handle: JoinHandle<()>,
}

impl Iterator for Batches {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        self.rx.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{SyntheticConfig, generate};

    #[test]
    fn cutout_clears_one_clipped_square_per_image() {
        let shape = [64, 3, 12, 10];
        let count = shape.iter().product();
        let cut = |side, seed| {
            let mut pixels = vec![200u8; count];
            cutout(
                &mut pixels,
                shape,
                side,
                &[1, 2, 3],
                &mut StdRng::seed_from_u64(seed),
            );
            pixels
        };
        let pixels = cut(6, 5);
        assert_eq!(pixels, cut(6, 5), "seeded");
        let mut clipped = false;
        for image in pixels.chunks(3 * 12 * 10) {
            // The same square in every channel, filled with that channel's value.
            let planes: Vec<&[u8]> = image.chunks(12 * 10).collect();
            let holes: Vec<usize> = (0..120).filter(|&i| planes[0][i] == 1).collect();
            for (ch, plane) in planes.iter().enumerate() {
                let here: Vec<usize> = (0..120).filter(|&i| plane[i] != 200).collect();
                assert_eq!(here, holes);
                assert!(here.iter().all(|&i| plane[i] == ch as u8 + 1));
            }
            // A 6x6 square, clipped to at least its quarter (a centre in a corner).
            assert!((9..=36).contains(&holes.len()), "{}", holes.len());
            let rows: Vec<usize> = holes.iter().map(|i| i / 10).collect();
            let cols: Vec<usize> = holes.iter().map(|i| i % 10).collect();
            let (h, w) = (
                rows.iter().max().unwrap() - rows.iter().min().unwrap() + 1,
                cols.iter().max().unwrap() - cols.iter().min().unwrap() + 1,
            );
            assert_eq!(h * w, holes.len(), "a rectangle");
            clipped |= holes.len() < 36;
        }
        assert!(clipped, "some centre near a border");
        assert_eq!(cut(0, 5), vec![200u8; count]);
        // A square twice the image's side from any centre covers it.
        assert!(cut(24, 1).chunks(120).all(|p| p.iter().all(|&v| v < 4)));
    }

    fn loader(augment: Option<Augment>) -> Loader {
        let set = Arc::new(generate(&SyntheticConfig::default(), 2));
        let norm = Normalize::from_set(&set);
        Loader::new(set, 60, norm).with_augment(augment)
    }

    fn all(loader: &Loader, seed: u64) -> Vec<Batch> {
        loader.epoch(seed).map(Result::unwrap).collect()
    }

    #[test]
    fn an_epoch_visits_every_image_once_in_a_seeded_order() {
        let l = loader(None);
        let batches: Vec<Batch> = l.epoch(1).map(Result::unwrap).collect();
        assert_eq!(batches.len(), l.num_batches());
        let total: usize = batches.iter().map(|b| b.labels.len()).sum();
        assert_eq!(total, l.examples().len());
        assert_eq!(batches, all(&l, 1));
        assert_ne!(batches[0].labels, all(&l, 2)[0].labels);
        assert_eq!(
            l.clone().with_drop_last(true).epoch(1).count(),
            l.examples().len() / 60
        );
    }

    #[test]
    fn normalised_batches_have_zero_mean_and_unit_spread() {
        let l = loader(None);
        let values: Vec<f32> = all(&l, 0).iter().flat_map(Batch::normalised).collect();
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
        let l = loader(Some(Augment::crop_and_flip(2)));
        let whole = all(&l, 9);
        for first in [1, 2, whole.len()] {
            let rest: Vec<Batch> = l.epoch_from(9, first).map(Result::unwrap).collect();
            assert_eq!(rest, whole[first..], "from batch {first}");
        }
    }

    #[test]
    fn augmentation_changes_images_but_not_labels() {
        let plain = all(&loader(None), 4);
        let aug = Some(Augment::crop_and_flip(2));
        let augmented = all(&loader(aug), 4);
        assert_eq!(plain[0].labels, augmented[0].labels);
        assert_ne!(plain[0].pixels, augmented[0].pixels);
    }
}
