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
