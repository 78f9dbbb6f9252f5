//! A seeded synthetic classification set: each class is an oriented stripe pattern with its
//! own frequency, under noise and random phase, so small convolutional networks can learn it
//! and tests need no files.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::ImageSet;

/// Shape and size of a synthetic set.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// Number of classes.
    pub classes: usize,
    /// Images per class.
    pub per_class: usize,
    /// Channels.
    pub channels: usize,
    /// Side of the square images.
    pub size: usize,
    /// Standard deviation of the pixel noise, in `[0, 1]` units.
    pub noise: f32,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            classes: 4,
            per_class: 64,
            channels: 1,
            size: 16,
            noise: 0.15,
        }
    }
}

/// Generates the set; the same `seed` gives the same images.
pub fn generate(config: &SyntheticConfig, seed: u64) -> ImageSet {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = config.classes * config.per_class;
    let s = config.size;
    let mut pixels = Vec::with_capacity(n * config.channels * s * s);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % config.classes;
        let angle = std::f32::consts::PI * class as f32 / config.classes as f32;
        let freq = 1.5 + (class % 3) as f32;
        let phase: f32 = rng.random_range(0.0..std::f32::consts::TAU);
        let (dx, dy) = (angle.cos(), angle.sin());
        for c in 0..config.channels {
            let gain = 1.0 - 0.2 * c as f32;
            for y in 0..s {
                for x in 0..s {
                    let t = (x as f32 * dx + y as f32 * dy) / s as f32;
                    let v = 0.5 + 0.4 * gain * (std::f32::consts::TAU * freq * t + phase).sin();
                    let noise: f32 = rng.random_range(-1.0..1.0) * config.noise * 1.7;
                    pixels.push(((v + noise).clamp(0.0, 1.0) * 255.0).round() as u8);
                }
            }
        }
        labels.push(class as u16);
    }
    ImageSet::new(
        format!("synthetic (seed {seed})"),
        [config.channels, s, s],
        config.classes,
        pixels,
        labels,
    )
    .expect("synthetic sizes agree")
}

/// A generated image folder: `classes` class folders of JPEG photos-in-size (sides drawn in
/// `sides`), each class a stripe pattern of its own orientation, frequency and tint under
/// noise, so that networks can learn it and the loader's decode, crop and resize run at real
/// sizes (the loader benchmark and the streaming tests write theirs with it).
#[derive(Debug, Clone, PartialEq)]
pub struct FolderSpec {
    /// Number of class folders (`class-000`, ...).
    pub classes: usize,
    /// JPEG files per class.
    pub per_class: usize,
    /// Range of the images' widths and heights, inclusive.
    pub sides: [u32; 2],
    /// JPEG quality (1-100).
    pub quality: u8,
}

impl Default for FolderSpec {
    fn default() -> Self {
        Self {
            classes: 10,
            per_class: 100,
            sides: [300, 500],
            quality: 90,
        }
    }
}

/// Writes the folder of `spec` under `dir` (`dir/class-000/000000.jpg`, ...), images drawn
/// from `seed`, encoded in parallel; returns the number of bytes written.
pub fn write_folder(dir: &std::path::Path, spec: &FolderSpec, seed: u64) -> crate::Result<u64> {
    use rayon::prelude::*;
    let [lo, hi] = spec.sides;
    if spec.classes == 0 || spec.per_class == 0 || lo == 0 || lo > hi {
        return Err(crate::Error::Invalid(format!(
            "a generated folder needs classes, images per class and 0 < sides[0] <= sides[1] \
             (got {spec:?})"
        )));
    }
    for class in 0..spec.classes {
        let folder = dir.join(format!("class-{class:03}"));
        std::fs::create_dir_all(&folder).map_err(|e| crate::Error::io(&folder, e))?;
    }
    let n = spec.classes * spec.per_class;
    let sizes: Vec<u64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let class = i % spec.classes;
            let mut rng =
                StdRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let (w, h) = (rng.random_range(lo..=hi), rng.random_range(lo..=hi));
            let angle = std::f32::consts::PI * class as f32 / spec.classes as f32;
            let freq = 3.0 + (class % 4) as f32 * 2.0;
            let phase: f32 = rng.random_range(0.0..std::f32::consts::TAU);
            let tint = [
                (class * 37 % 100) as f32,
                (class * 59 % 100) as f32,
                (class * 83 % 100) as f32,
            ];
            let (dx, dy) = (angle.cos(), angle.sin());
            let side = w.min(h) as f32;
            let image = image::RgbImage::from_fn(w, h, |x, y| {
                let t = (x as f32 * dx + y as f32 * dy) / side;
                let v = 0.5 + 0.35 * (std::f32::consts::TAU * freq * t + phase).sin();
                let noise: f32 = rng.random_range(-12.0..12.0);
                image::Rgb(std::array::from_fn(|c| {
                    (v * 155.0 + tint[c] + noise).clamp(0.0, 255.0) as u8
                }))
            });
            let path = dir
                .join(format!("class-{class:03}"))
                .join(format!("{i:06}.jpg"));
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, spec.quality)
                .encode_image(&image)
                .map_err(|e| crate::Error::format(&path, format!("cannot encode: {e}")))?;
            std::fs::write(&path, &bytes).map_err(|e| crate::Error::io(&path, e))?;
            Ok(bytes.len() as u64)
        })
        .collect::<crate::Result<_>>()?;
    Ok(sizes.iter().sum())
}
