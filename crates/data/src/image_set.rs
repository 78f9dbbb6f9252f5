//! Images in memory (`u8`, channels first) with their labels.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::{Error, Result};

/// A labelled set of equally sized images, held in memory as `u8` in `[C, H, W]` order.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// Name for messages (`fashion-mnist train`).
    pub name: String,
    /// Channels per image.
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Number of classes; labels are `0..classes`.
    pub classes: usize,
    pixels: Vec<u8>,
    labels: Vec<u16>,
}

impl ImageSet {
    /// Builds a set, checking that sizes agree and labels are in range.
    pub fn new(
        name: impl Into<String>,
        [channels, height, width]: [usize; 3],
        classes: usize,
        pixels: Vec<u8>,
        labels: Vec<u16>,
    ) -> Result<Self> {
        let name = name.into();
        let per_image = channels * height * width;
        if per_image == 0 || pixels.len() != per_image * labels.len() {
            return Err(Error::Invalid(format!(
                "{name}: {} pixel values do not make {} images of {channels}x{height}x{width}",
                pixels.len(),
                labels.len()
            )));
        }
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(Error::Invalid(format!(
                "{name}: label {bad} is out of range for {classes} classes"
            )));
        }
        Ok(Self {
            name,
            channels,
            height,
            width,
            classes,
            pixels,
            labels,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Pixels of image `i`, `[C, H, W]`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Label of image `i`.
    pub fn label(&self, i: usize) -> usize {
        self.labels[i] as usize
    }

    /// The images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize], name: impl Into<String>) -> Self {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_len());
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Self {
            name: name.into(),
            pixels,
            labels,
            ..self.clone_header()
        }
    }

    fn clone_header(&self) -> Self {
        Self {
            name: self.name.clone(),
            channels: self.channels,
            height: self.height,
            width: self.width,
            classes: self.classes,
            pixels: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Splits off `holdout` images, balanced over classes, chosen by a permutation seeded with
    /// `seed` (as the paper carves its validation set from the training set). Returns
    /// `(rest, held_out)`.
    pub fn split_holdout(&self, holdout: usize, seed: u64) -> Result<(Self, Self)> {
        Subsets::split_holdout(self, holdout, seed)
    }

    /// The first `n` images of a seeded permutation (all of them when `n >= len`).
    pub fn sample(&self, n: usize, seed: u64) -> Self {
        Subsets::sample(self, n, seed)
    }

    /// Per-channel mean and standard deviation of the pixels scaled to `[0, 1]`.
    pub fn channel_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let mut stats = ChannelStats::new(self.channels);
        stats.add(&self.pixels, self.height * self.width);
        stats.finish()
    }

    /// How many images each class has.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}

/// A labelled set that cuts into subsets of itself: what held-out splits and samples need,
/// written once for sets in memory and streamed ones.
pub(crate) trait Subsets: Clone {
    /// Name for messages.
    fn set_name(&self) -> &str;
    /// Number of images.
    fn count(&self) -> usize;
    /// Number of classes.
    fn class_count(&self) -> usize;
    /// Label of image `i`.
    fn label_of(&self, i: usize) -> usize;
    /// The images at `indices`, named `name`.
    fn subset_named(&self, indices: &[usize], name: String) -> Self;

    /// `holdout` images balanced over classes and seeded ([`balanced_holdout`]), as
    /// `(rest, held_out)`.
    fn split_holdout(&self, holdout: usize, seed: u64) -> Result<(Self, Self)> {
        let name = self.set_name();
        let (rest, held) = balanced_holdout(
            name,
            self.count(),
            self.class_count(),
            |i| self.label_of(i),
            holdout,
            seed,
        )?;
        Ok((
            self.subset_named(&rest, format!("{name} (search train)")),
            self.subset_named(&held, format!("{name} (held out)")),
        ))
    }

    /// The first `n` images of a seeded permutation (all of them when `n >= len`).
    fn sample(&self, n: usize, seed: u64) -> Self {
        match sample_indices(self.count(), n, seed) {
            Some(order) => self.subset_named(&order, self.set_name().to_string()),
            None => self.clone(),
        }
    }
}

impl Subsets for ImageSet {
    fn set_name(&self) -> &str {
        &self.name
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn class_count(&self) -> usize {
        self.classes
    }
    fn label_of(&self, i: usize) -> usize {
        self.label(i)
    }
    fn subset_named(&self, indices: &[usize], name: String) -> Self {
        self.subset(indices, name)
    }
}

/// The held-out split of `len` images of `classes` classes (`label(i)` each): `holdout`
/// images, balanced over classes, taken in the order of a permutation seeded with `seed`.
/// Returns `(rest, held_out)` indices; `name` names the set in errors.
fn balanced_holdout(
    name: &str,
    len: usize,
    classes: usize,
    label: impl Fn(usize) -> usize,
    holdout: usize,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if holdout == 0 || holdout >= len {
        return Err(Error::Invalid(format!(
            "{name}: cannot hold out {holdout} of {len} images"
        )));
    }
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let per_class = holdout / classes;
    let mut extra = holdout % classes;
    let mut taken = vec![0usize; classes];
    let mut held = Vec::with_capacity(holdout);
    let mut rest = Vec::with_capacity(len - holdout);
    for i in order {
        let c = label(i);
        if taken[c] < per_class {
            taken[c] += 1;
            held.push(i);
        } else if extra > 0 && taken[c] == per_class {
            extra -= 1;
            taken[c] += 1;
            held.push(i);
        } else {
            rest.push(i);
        }
    }
    Ok((rest, held))
}

/// The first `n` of a permutation of `len` indices seeded with `seed`; `None` when `n >= len`
/// (every index, in order).
fn sample_indices(len: usize, n: usize, seed: u64) -> Option<Vec<usize>> {
    if n >= len {
        return None;
    }
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    order.truncate(n);
    Some(order)
}

/// Running per-channel sums of planar images, for their mean and standard deviation.
pub(crate) struct ChannelStats {
    sum: Vec<f64>,
    sq: Vec<f64>,
    count: usize,
}

impl ChannelStats {
    pub(crate) fn new(channels: usize) -> Self {
        Self {
            sum: vec![0.0; channels],
            sq: vec![0.0; channels],
            count: 0,
        }
    }

    /// Adds planar images (`[C, plane]` each, back to back).
    pub(crate) fn add(&mut self, pixels: &[u8], plane: usize) {
        let channels = self.sum.len();
        for image in pixels.chunks(channels * plane) {
            for (c, values) in image.chunks(plane).enumerate() {
                for &v in values {
                    let x = v as f64 / 255.0;
                    self.sum[c] += x;
                    self.sq[c] += x * x;
                }
            }
            self.count += plane;
        }
    }

    /// Mean and standard deviation per channel, of pixels scaled to `[0, 1]`.
    pub(crate) fn finish(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.count.max(1) as f64;
        let mean: Vec<f64> = self.sum.iter().map(|s| s / n).collect();
        let std = self
            .sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| ((s / n - m * m).max(1e-12)).sqrt() as f32)
            .collect();
        (mean.iter().map(|&m| m as f32).collect(), std)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;

    #[test]
    fn holdout_is_balanced_disjoint_and_seeded() {
        let set = synthetic::generate(&synthetic::SyntheticConfig::default(), 1);
        let (rest, held) = set.split_holdout(50, 3).unwrap();
        // 50 over 4 classes: two classes give 13, two give 12.
        assert_eq!(held.len(), 50);
        assert_eq!(rest.len() + held.len(), set.len());
        let mut counts = held.class_counts();
        counts.sort();
        assert_eq!(counts, [12, 12, 13, 13]);
        let (_, again) = set.split_holdout(50, 3).unwrap();
        assert_eq!(again, held);
        let (_, other) = set.split_holdout(50, 4).unwrap();
        assert_ne!(other, held);
    }

    #[test]
    fn inconsistent_sizes_are_rejected() {
        let err = ImageSet::new("x", [1, 2, 2], 2, vec![0; 7], vec![0, 1]).unwrap_err();
        assert!(err.to_string().contains("7 pixel values"));
        let err = ImageSet::new("x", [1, 1, 1], 2, vec![0; 2], vec![0, 2]).unwrap_err();
        assert!(err.to_string().contains("label 2"));
    }
}
