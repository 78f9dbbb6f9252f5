//! Image transforms of streamed image folders, with torchvision's semantics: RandomResizedCrop,
//! horizontal flip, ColorJitter, and the test-time resize and centre crop (256 → 224). Images
//! are interleaved `u8` pixels (1 or 3 channels); resampling is antialiased bilinear
//! (`fast_image_resize`, chosen by measurement: docs/data.md).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// An image as interleaved `u8` pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Channels per pixel: 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// `height × width × channels` values, row by row.
    pub data: Vec<u8>,
}

impl Pixels {
    /// The image as planar bytes (`[channels, height, width]`), appended to `out`.
    pub fn extend_planar(&self, out: &mut Vec<u8>) {
        let c = self.channels;
        for ch in 0..c {
            out.extend(self.data.iter().skip(ch).step_by(c));
        }
    }

    /// The image mirrored left-right.
    pub fn flipped(mut self) -> Self {
        let (w, c) = (self.width as usize, self.channels);
        for row in self.data.chunks_mut(w * c) {
            for x in 0..w / 2 {
                for ch in 0..c {
                    row.swap(x * c + ch, (w - 1 - x) * c + ch);
                }
            }
        }
        self
    }
}

/// A rectangle of an image, in pixels (fractional: resampling reads it exactly).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropBox {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// torchvision's `RandomResizedCrop`: a crop of a random area fraction in `scale` and aspect
/// ratio in `ratio` (drawn log-uniformly), resized to the output side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomResizedCrop {
    /// Range of the crop's area as a fraction of the image's (torchvision: 0.08 to 1).
    pub scale: [f64; 2],
    /// Range of the crop's width over height (torchvision: 3/4 to 4/3).
    pub ratio: [f64; 2],
}

impl Default for RandomResizedCrop {
    fn default() -> Self {
        Self {
            scale: [0.08, 1.0],
            ratio: [3.0 / 4.0, 4.0 / 3.0],
        }
    }
}

/// Uniform in `[lo, hi)` (`lo` when the range is empty).
fn uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

impl RandomResizedCrop {
    /// The crop of an image of `width × height`, as torchvision's `get_params` draws it: ten
    /// tries of an area and a ratio that fit, else the centre crop of the nearest allowed ratio.
    pub fn params(&self, width: u32, height: u32, rng: &mut impl Rng) -> CropBox {
        let area = width as f64 * height as f64;
        let (log_lo, log_hi) = (self.ratio[0].ln(), self.ratio[1].ln());
        for _ in 0..10 {
            let target = area * uniform(rng, self.scale[0], self.scale[1]);
            let aspect = uniform(rng, log_lo, log_hi).exp();
            let w = (target * aspect).sqrt().round() as u32;
            let h = (target / aspect).sqrt().round() as u32;
            if 0 < w && w <= width && 0 < h && h <= height {
                let top = rng.random_range(0..=height - h);
                let left = rng.random_range(0..=width - w);
                return CropBox {
                    left: left as f64,
                    top: top as f64,
                    width: w as f64,
                    height: h as f64,
                };
            }
        }
        let in_ratio = width as f64 / height as f64;
        let (w, h) = if in_ratio < self.ratio[0] {
            (
                width,
                ((width as f64 / self.ratio[0]).round() as u32).min(height),
            )
        } else if in_ratio > self.ratio[1] {
            (
                ((height as f64 * self.ratio[1]).round() as u32).min(width),
                height,
            )
        } else {
            (width, height)
        };
        CropBox {
            left: ((width - w) / 2) as f64,
            top: ((height - h) / 2) as f64,
            width: w as f64,
            height: h as f64,
        }
    }
}

/// The test-time crop: the shorter side resized to `side / crop_fraction` (torchvision's
/// `Resize(int(side / fraction))`, 256 for 224 at 0.875), then the centre `side × side`,
/// expressed as the square of the original image that it covers.
pub fn centre_crop(width: u32, height: u32, side: u32, crop_fraction: f64) -> CropBox {
    let short = width.min(height) as f64;
    let resized_short = (side as f64 / crop_fraction).floor().max(side as f64);
    let extent = side as f64 * short / resized_short;
    CropBox {
        left: (width as f64 - extent) / 2.0,
        top: (height as f64 - extent) / 2.0,
        width: extent,
        height: extent,
    }
}

/// `crop` of `image` resampled to `side × side` (antialiased bilinear).
pub fn resize_crop(resizer: &mut Resizer, image: &Pixels, crop: CropBox, side: u32) -> Pixels {
    let pixel_type = match image.channels {
        1 => PixelType::U8,
        _ => PixelType::U8x3,
    };
    let src = ImageRef::new(image.width, image.height, &image.data, pixel_type)
        .expect("an image's buffer holds width × height × channels bytes");
    let mut dst = Image::new(side, side, pixel_type);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .crop(crop.left, crop.top, crop.width, crop.height);
    resizer
        .resize(&src, &mut dst, &options)
        .expect("the crop lies inside the image and the pixel types agree");
    Pixels {
        width: side,
        height: side,
        channels: image.channels,
        data: dst.into_vec(),
    }
}

/// torchvision's `ColorJitter`: brightness, contrast and saturation factors drawn uniformly
/// in `[max(0, 1 - x), 1 + x]`, a hue shift in `[-hue, hue]` (fractions of the colour wheel),
/// applied in a random order. Saturation and hue leave grayscale images alone.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColorJitter {
    /// Brightness spread (the paper's search: 32/255).
    pub brightness: f64,
    /// Contrast spread.
    pub contrast: f64,
    /// Saturation spread (the paper's search: 0.5).
    pub saturation: f64,
    /// Hue spread, at most 0.5.
    pub hue: f64,
}

impl ColorJitter {
    /// The paper's search augmentation ("normal": brightness 32/255, saturation 0.5).
    pub const NORMAL: Self = Self {
        brightness: 32.0 / 255.0,
        contrast: 0.0,
        saturation: 0.5,
        hue: 0.0,
    };
    /// The paper's retraining augmentation ("strong": 0.4, 0.4, 0.4, 0.1).
    pub const STRONG: Self = Self {
        brightness: 0.4,
        contrast: 0.4,
        saturation: 0.4,
        hue: 0.1,
    };

    /// Whether it changes nothing.
    pub fn is_identity(&self) -> bool {
        *self == Self::default()
    }

    /// Applies the jitter to `image`, drawing factors and order from `rng`.
    pub fn apply(&self, image: &mut Pixels, rng: &mut impl Rng) {
        if self.is_identity() {
            return;
        }
        let mut order = [0usize, 1, 2, 3];
        for i in (1..4).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        // Every factor is drawn (in torchvision's order) whether or not its step runs, so the
        // stream does not depend on the image.
        let b = uniform(rng, (1.0 - self.brightness).max(0.0), 1.0 + self.brightness);
        let c = uniform(rng, (1.0 - self.contrast).max(0.0), 1.0 + self.contrast);
        let s = uniform(rng, (1.0 - self.saturation).max(0.0), 1.0 + self.saturation);
        let h = uniform(rng, -self.hue, self.hue);
        let mut values: Vec<f32> = image.data.iter().map(|&v| v as f32).collect();
        let colour = image.channels == 3;
        for step in order {
            match step {
                0 if self.brightness > 0.0 => {
                    let b = b as f32;
                    values.iter_mut().for_each(|v| *v = (*v * b).min(255.0));
                }
                1 if self.contrast > 0.0 => {
                    let mean = mean_gray(&values, image.channels);
                    blend(&mut values, c as f32, |_| mean);
                }
                2 if self.saturation > 0.0 && colour => desaturate(&mut values, s as f32),
                3 if self.hue > 0.0 && colour => shift_hue(&mut values, h as f32),
                _ => {}
            }
        }
        for (out, v) in image.data.iter_mut().zip(values) {
            // Values are within [0, 255]: adding a half and truncating rounds them (`round` is a
            // library call on baseline x86-64, and this loop runs for every pixel).
            *out = (v + 0.5) as u8;
        }
    }
}

/// `factor · x + (1 − factor) · other(i)`, clamped to the pixel range (torchvision's `_blend`).
fn blend(values: &mut [f32], factor: f32, other: impl Fn(usize) -> f32) {
    for (i, v) in values.iter_mut().enumerate() {
        *v = (factor * *v + (1.0 - factor) * other(i)).clamp(0.0, 255.0);
    }
}

/// torchvision's `adjust_saturation`: each RGB pixel blended with its luma by `factor`.
fn desaturate(rgb: &mut [f32], factor: f32) {
    for p in rgb.chunks_exact_mut(3) {
        let gray = (1.0 - factor) * (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]);
        for v in p {
            *v = (factor * *v + gray).clamp(0.0, 255.0);
        }
    }
}

/// ITU-R 601 luma of interleaved RGB values, one per pixel.
fn grayscale(rgb: &[f32]) -> Vec<f32> {
    rgb.chunks(3)
        .map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])
        .collect()
}

/// The mean luma of an image (its mean value when grayscale).
fn mean_gray(values: &[f32], channels: usize) -> f32 {
    let n = (values.len() / channels).max(1) as f64;
    let sum: f64 = match channels {
        3 => grayscale(values).iter().map(|&g| g as f64).sum(),
        _ => values.iter().map(|&v| v as f64).sum(),
    };
    (sum / n) as f32
}

/// Rotates every pixel's hue by `shift` (a fraction of the wheel) through HSV.
fn shift_hue(rgb: &mut [f32], shift: f32) {
    for p in rgb.chunks_mut(3) {
        let (r, g, b) = (p[0] / 255.0, p[1] / 255.0, p[2] / 255.0);
        let max = r.max(g).max(b);
        let min = r.min(g).min(b);
        let delta = max - min;
        if delta <= 0.0 {
            continue;
        }
        let hue = if max == r {
            ((g - b) / delta).rem_euclid(6.0)
        } else if max == g {
            (b - r) / delta + 2.0
        } else {
            (r - g) / delta + 4.0
        } / 6.0;
        let hue = (hue + shift).rem_euclid(1.0) * 6.0;
        let (s, v) = (delta / max, max);
        let sector = hue.floor();
        let f = hue - sector;
        let (pv, qv, tv) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
        let (r, g, b) = match sector as i32 % 6 {
            0 => (v, tv, pv),
            1 => (qv, v, pv),
            2 => (pv, v, tv),
            3 => (pv, qv, v),
            4 => (tv, pv, v),
            _ => (v, pv, qv),
        };
        p[0] = r * 255.0;
        p[1] = g * 255.0;
        p[2] = b * 255.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn gradient(width: u32, height: u32) -> Pixels {
        let data = (0..height)
            .flat_map(|y| (0..width).flat_map(move |x| [(x * 255 / width) as u8, y as u8, 90]))
            .collect();
        Pixels {
            width,
            height,
            channels: 3,
            data,
        }
    }

    #[test]
    fn random_crops_lie_inside_the_image_within_scale_and_ratio() {
        let crop = RandomResizedCrop::default();
        let mut rng = StdRng::seed_from_u64(1);
        for (w, h) in [(500, 375), (300, 480), (224, 224), (640, 100)] {
            for _ in 0..500 {
                let b = crop.params(w, h, &mut rng);
                assert!(b.left >= 0.0 && b.top >= 0.0, "{b:?}");
                assert!(b.left + b.width <= w as f64 && b.top + b.height <= h as f64);
                let area = b.width * b.height / (w as f64 * h as f64);
                let ratio = b.width / b.height;
                // Rounding the sides to whole pixels moves area and ratio by a pixel's worth.
                let fallback = b.width == w as f64 || b.height == h as f64;
                assert!(fallback || (0.07..=1.0).contains(&area), "{area} {b:?}");
                assert!(fallback || (0.73..=1.36).contains(&ratio), "{ratio} {b:?}");
            }
        }
        // A strip wider than 4:3 falls back to its centre at the widest ratio allowed.
        let strict = RandomResizedCrop {
            scale: [1.0, 1.0],
            ratio: [0.75, 4.0 / 3.0],
        };
        let b = strict.params(640, 100, &mut rng);
        assert_eq!(
            (b.width, b.height, b.left, b.top),
            (133.0, 100.0, 253.0, 0.0)
        );
    }

    #[test]
    fn the_same_seed_draws_the_same_crop_and_jitter() {
        let crop = RandomResizedCrop::default();
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let b = crop.params(400, 300, &mut rng);
            let mut resizer = Resizer::new();
            let mut out = resize_crop(&mut resizer, &gradient(400, 300), b, 32);
            ColorJitter::STRONG.apply(&mut out, &mut rng);
            out
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        assert_eq!(draw(3).data.len(), 32 * 32 * 3);
    }

    #[test]
    fn the_test_crop_is_the_centre_of_the_resized_image() {
        // 500x375 → shorter side 256 (scale 256/375), centre 224: 224·375/256 pixels of the
        // original, centred.
        let b = centre_crop(500, 375, 224, 0.875);
        let extent = 224.0 * 375.0 / 256.0;
        assert!((b.width - extent).abs() < 1e-9 && (b.height - extent).abs() < 1e-9);
        assert!((b.left - (500.0 - extent) / 2.0).abs() < 1e-9);
        assert!((b.top - (375.0 - extent) / 2.0).abs() < 1e-9);
        // Fraction 1: the whole shorter side.
        let b = centre_crop(40, 30, 16, 1.0);
        assert_eq!((b.left, b.top, b.width), (5.0, 0.0, 30.0));
    }

    #[test]
    fn resampling_a_flat_image_keeps_its_colour_and_flipping_mirrors() {
        let flat = Pixels {
            width: 50,
            height: 40,
            channels: 3,
            data: [10u8, 120, 230].repeat(50 * 40),
        };
        let out = resize_crop(&mut Resizer::new(), &flat, centre_crop(50, 40, 8, 0.875), 8);
        assert!(
            out.data.chunks(3).all(|p| p == [10, 120, 230]),
            "{:?}",
            out.data
        );
        let g = gradient(4, 2);
        let f = g.clone().flipped();
        assert_eq!(&f.data[0..3], &g.data[9..12]);
        assert_eq!(f.clone().flipped(), g);
        let mut planar = Vec::new();
        g.extend_planar(&mut planar);
        assert_eq!(planar[0..4], [0, 63, 127, 191]);
        assert!(planar[16..24].iter().all(|&v| v == 90));
    }

    #[test]
    fn jitter_factors_act_as_torchvision_defines_them() {
        let mut rng = StdRng::seed_from_u64(0);
        let mut img = gradient(16, 16);
        let before = img.clone();
        // Zero saturation spread and a brightness of exactly 0 are identities.
        ColorJitter::default().apply(&mut img, &mut rng);
        assert_eq!(img, before);
        // Saturation 0 (factor drawn in [0, 2] with spread 1, so test the blend directly):
        // a fully desaturated pixel is its luma in every channel.
        let mut values = vec![200.0, 100.0, 50.0];
        desaturate(&mut values, 0.0);
        let luma = 0.299 * 200.0 + 0.587 * 100.0 + 0.114 * 50.0;
        assert!(values.iter().all(|v| (v - luma).abs() < 1e-4), "{values:?}");
        // A hue shift of a whole turn changes nothing; a third of a turn maps red to green.
        let mut red = vec![255.0, 0.0, 0.0];
        shift_hue(&mut red, 1.0 / 3.0);
        assert!((red[0]).abs() < 1e-3 && (red[1] - 255.0).abs() < 1e-3 && red[2].abs() < 1e-3);
        let mut c = vec![30.0, 140.0, 200.0];
        shift_hue(&mut c, 1.0);
        assert!((c[0] - 30.0).abs() < 1e-3 && (c[1] - 140.0).abs() < 1e-3);
        // Brightness and contrast blend with black and with the mean luma, and clamp.
        let mut v = vec![100.0, 200.0];
        blend(&mut v, 1.5, |_| 0.0);
        assert_eq!(v, [150.0, 255.0]);
        let mut v = vec![100.0, 200.0];
        blend(&mut v, 0.5, |_| 150.0);
        assert_eq!(v, [125.0, 175.0]);
        // Saturation 1 leaves a pixel as it is.
        let mut p = vec![200.0, 100.0, 50.0];
        desaturate(&mut p, 1.0);
        assert!(
            p.iter()
                .zip([200.0, 100.0, 50.0])
                .all(|(a, b)| (a - b).abs() < 1e-3)
        );
    }
}
