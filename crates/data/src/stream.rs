//! Image folders streamed from disk: the file list indexed once ([`FolderIndex`]), each image
//! decoded when its batch is assembled, by a pool of worker threads of its own (not the
//! tensor backend's), with torchvision's training augmentation (RandomResizedCrop, flip,
//! colour jitter) or its test-time resize and centre crop. Memory holds the batches in flight,
//! whatever the number of images.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fast_image_resize::Resizer;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::folder_index::{FolderIndex, IndexOrigin};
use crate::image_set::Subsets;
use crate::transform::{ColorJitter, Pixels, RandomResizedCrop, centre_crop, resize_crop};
use crate::{Normalize, Split};

/// How image folders are read, decoded and augmented (`[data.folder]` in configurations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FolderOptions {
    /// Training crops (torchvision's RandomResizedCrop; the paper's: scale 0.08-1).
    pub crop: RandomResizedCrop,
    /// Colour jitter of training images: `"none"`, `"normal"` (the paper's search: brightness
    /// 32/255, saturation 0.5), `"strong"` (its retraining: 0.4, 0.4, 0.4, 0.1), or a table
    /// `{ brightness, contrast, saturation, hue }`.
    pub color_jitter: JitterSetting,
    /// Test-time crop: the shorter side resized to `resolution / test_crop`, then the centre
    /// square (0.875: 256 → 224, the ImageNet convention); used for held-out and test images.
    pub test_crop: f64,
    /// Normalisation: `"imagenet"` (ImageNet's means, the default for RGB), `"measured"` (on a
    /// sample of the training images, the default for grayscale), or `{ mean = [..], std = [..] }`.
    pub normalize: Normalization,
    /// Images the measured normalisation is computed on.
    pub measure_images: usize,
    /// Decoding threads (0: one per core).
    pub workers: usize,
    /// Batches assembled ahead of the step that consumes them.
    pub prefetch: usize,
    /// Where the folder's file list is cached (default: the proxyless cache directory).
    pub index_cache: Option<PathBuf>,
}

impl Default for FolderOptions {
    fn default() -> Self {
        Self {
            crop: RandomResizedCrop::default(),
            color_jitter: JitterSetting::Preset(JitterPreset::Normal),
            test_crop: 0.875,
            normalize: Normalization::Preset(NormalizationPreset::Auto),
            measure_images: 1000,
            workers: 0,
            prefetch: 4,
            index_cache: None,
        }
    }
}

impl FolderOptions {
    /// Checks the values a configuration file may get wrong; `field` prefixes the names.
    pub fn validate(&self, field: &str) -> Result<()> {
        let bad = |name: &str, why: String| Err(Error::Invalid(format!("{field}.{name}: {why}")));
        let [s0, s1] = self.crop.scale;
        if !(0.0 < s0 && s0 <= s1 && s1 <= 1.0) {
            return bad(
                "crop.scale",
                format!("[{s0}, {s1}] must satisfy 0 < lo <= hi <= 1"),
            );
        }
        let [r0, r1] = self.crop.ratio;
        if !(0.0 < r0 && r0 <= r1 && r1.is_finite()) {
            return bad(
                "crop.ratio",
                format!("[{r0}, {r1}] must satisfy 0 < lo <= hi"),
            );
        }
        if !(self.test_crop > 0.0 && self.test_crop <= 1.0) {
            return bad(
                "test_crop",
                format!("{} must lie in (0, 1]", self.test_crop),
            );
        }
        let j = self.color_jitter.jitter();
        let spreads = [j.brightness, j.contrast, j.saturation];
        if spreads.iter().any(|s| !(0.0..=10.0).contains(s)) || !(0.0..=0.5).contains(&j.hue) {
            return bad(
                "color_jitter",
                format!("{j:?}: spreads must lie in [0, 10] and hue in [0, 0.5]"),
            );
        }
        if let Normalization::Given { mean, std } = &self.normalize
            && (mean.len() != std.len() || std.iter().any(|s| s.is_nan() || *s <= 0.0))
        {
            return bad(
                "normalize",
                "mean and std need one value per channel, std positive".into(),
            );
        }
        if self.prefetch == 0 {
            return bad("prefetch", "must be at least 1".into());
        }
        Ok(())
    }
}

/// A colour jitter by name or by its four spreads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JitterSetting {
    /// `"none"`, `"normal"` or `"strong"`.
    Preset(JitterPreset),
    /// `{ brightness, contrast, saturation, hue }`.
    Custom(ColorJitter),
}

/// The paper's colour jitters by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JitterPreset {
    /// No jitter.
    None,
    /// Brightness 32/255, saturation 0.5 (the paper's search).
    Normal,
    /// 0.4, 0.4, 0.4, hue 0.1 (the paper's retraining).
    Strong,
}

impl JitterSetting {
    /// The spreads.
    pub fn jitter(&self) -> ColorJitter {
        match self {
            Self::Preset(JitterPreset::None) => ColorJitter::default(),
            Self::Preset(JitterPreset::Normal) => ColorJitter::NORMAL,
            Self::Preset(JitterPreset::Strong) => ColorJitter::STRONG,
            Self::Custom(j) => *j,
        }
    }
}

/// How pixels of a folder are normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Normalization {
    /// `"auto"`, `"imagenet"` or `"measured"`.
    Preset(NormalizationPreset),
    /// Given means and standard deviations per channel (of pixels scaled to `[0, 1]`).
    Given {
        /// Mean per channel.
        mean: Vec<f32>,
        /// Standard deviation per channel.
        std: Vec<f32>,
    },
}

/// Normalisations by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NormalizationPreset {
    /// ImageNet's for RGB images, measured for grayscale ones.
    Auto,
    /// ImageNet's means and deviations (RGB only).
    Imagenet,
    /// Measured on a seeded sample of the training images, test-time transformed.
    Measured,
}

/// ImageNet's per-channel means and deviations, as torchvision's models are trained with.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// See [`IMAGENET_MEAN`].
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The most elongated image accepted, longer side over shorter.
const MAX_ASPECT: u32 = 64;

/// Images of an indexed folder (or a subset of them) at one resolution, decoded on demand.
#[derive(Clone)]
pub struct FolderSet {
    index: Arc<FolderIndex>,
    members: Arc<[u32]>,
    name: String,
    channels: usize,
    resolution: usize,
    options: Arc<FolderOptions>,
    pool: Arc<rayon::ThreadPool>,
}

impl std::fmt::Debug for FolderSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderSet")
            .field("name", &self.name)
            .field("images", &self.members.len())
            .field("channels", &self.channels)
            .field("resolution", &self.resolution)
            .finish()
    }
}

/// `dir/train` or `dir/val` when that sub-folder exists, else `dir`; and the split's name.
pub fn split_root(dir: &Path, split: Split) -> (PathBuf, &'static str) {
    let sub = match split {
        Split::Train => "train",
        Split::Test => "val",
    };
    let root = if dir.join(sub).is_dir() {
        dir.join(sub)
    } else {
        dir.to_path_buf()
    };
    (root, sub)
}

impl FolderSet {
    /// Opens `dir/<split>/<class>/*` (or `dir/<class>/*` without split folders) as images of
    /// `channels` (1 or 3) at `resolution`; the file list comes from its cache when the class
    /// folders are unchanged. Returns the set and how its list was obtained.
    pub fn open(
        dir: &Path,
        split: Split,
        channels: usize,
        resolution: usize,
        options: &FolderOptions,
    ) -> Result<(Self, IndexOrigin)> {
        if channels != 1 && channels != 3 {
            return Err(Error::Invalid(format!(
                "{}: image folders give 1 or 3 channels, not {channels}",
                dir.display()
            )));
        }
        if resolution == 0 {
            return Err(Error::Invalid(format!(
                "{}: a resolution of 0",
                dir.display()
            )));
        }
        options.validate("data.folder")?;
        let (root, sub) = split_root(dir, split);
        let cache = options
            .index_cache
            .clone()
            .unwrap_or_else(proxyless_plumbing::cache_dir);
        let (index, origin) = FolderIndex::open(&root, &cache)?;
        let workers = match options.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("proxyless-decode-{i}"))
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start {workers} decoding threads: {e}")))?;
        let members: Arc<[u32]> = (0..index.len() as u32).collect();
        Ok((
            Self {
                name: format!("{} ({sub})", root.display()),
                index: Arc::new(index),
                members,
                channels,
                resolution,
                options: Arc::new(options.clone()),
                pool: Arc::new(pool),
            },
            origin,
        ))
    }

    /// Name for messages: the folder and split.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Number of classes (the folder's, whatever the subset).
    pub fn classes(&self) -> usize {
        self.index.num_classes()
    }

    /// The class names, in label order.
    pub fn class_names(&self) -> Vec<String> {
        self.index.class_names()
    }

    /// `[channels, resolution, resolution]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.resolution, self.resolution]
    }

    /// The options it reads with.
    pub fn options(&self) -> &FolderOptions {
        &self.options
    }

    /// Files in the class folders that are not images, skipped.
    pub fn skipped(&self) -> usize {
        self.index.skipped()
    }

    /// Label of image `i`.
    pub fn label(&self, i: usize) -> usize {
        self.index.file(self.members[i] as usize).label as usize
    }

    /// The path of image `i`.
    pub fn path(&self, i: usize) -> PathBuf {
        self.index.path(self.members[i] as usize)
    }

    /// The images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize], name: impl Into<String>) -> Self {
        Self {
            members: indices.iter().map(|&i| self.members[i]).collect(),
            name: name.into(),
            ..self.clone()
        }
    }

    /// Splits off `holdout` images, balanced over classes and seeded, exactly as
    /// [`ImageSet::split_holdout`](crate::ImageSet::split_holdout) chooses them (the paper
    /// holds out 50 images per class of ImageNet's training set). Returns `(rest, held_out)`.
    pub fn split_holdout(&self, holdout: usize, seed: u64) -> Result<(Self, Self)> {
        Subsets::split_holdout(self, holdout, seed)
    }

    /// The first `n` images of a seeded permutation (all of them when `n >= len`).
    pub fn sample(&self, n: usize, seed: u64) -> Self {
        Subsets::sample(self, n, seed)
    }

    /// Image `i` test-time transformed (resize, centre crop), planar `[C, H, W]` bytes.
    pub fn read(&self, i: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.channels * self.resolution * self.resolution);
        self.transform(i, None, &mut Resizer::new())?
            .extend_planar(&mut out);
        Ok(out)
    }

    /// The images at `indices` as one planar `u8` batch, decoded in parallel by the set's
    /// workers: augmented (RandomResizedCrop, flip when `flip`, colour jitter) with image
    /// `k`'s randomness drawn from `(seed, k)` alone, or test-time transformed when
    /// `augment` is false. The same arguments give the same bytes, whatever the threads.
    pub fn assemble(&self, indices: &[usize], seed: u64, augment: Option<bool>) -> Result<Vec<u8>> {
        let images: Vec<Pixels> = self.pool.install(|| {
            indices
                .par_iter()
                .enumerate()
                .map_init(Resizer::new, |resizer, (k, &i)| {
                    let draw =
                        augment.map(|flip| (StdRng::seed_from_u64(image_seed(seed, k)), flip));
                    self.transform(i, draw, resizer)
                })
                .collect::<Result<_>>()
        })?;
        let per_image = self.channels * self.resolution * self.resolution;
        let mut out = Vec::with_capacity(indices.len() * per_image);
        for image in &images {
            image.extend_planar(&mut out);
        }
        Ok(out)
    }

    /// Decodes image `i` and transforms it: augmented with `draw`'s generator (and a flip when
    /// its flag is set), or test-time.
    fn transform(
        &self,
        i: usize,
        draw: Option<(StdRng, bool)>,
        resizer: &mut Resizer,
    ) -> Result<Pixels> {
        let path = self.path(i);
        let image = decode(&path, self.channels)?;
        let side = self.resolution as u32;
        Ok(match draw {
            None => {
                let crop = centre_crop(image.width, image.height, side, self.options.test_crop);
                resize_crop(resizer, &image, crop, side)
            }
            Some((mut rng, flip)) => {
                let crop = self
                    .options
                    .crop
                    .params(image.width, image.height, &mut rng);
                let mut out = resize_crop(resizer, &image, crop, side);
                if flip && rng.random_bool(0.5) {
                    out = out.flipped();
                }
                self.options.color_jitter.jitter().apply(&mut out, &mut rng);
                out
            }
        })
    }

    /// The normalisation its options ask for: given, ImageNet's, or measured on a seeded
    /// sample of its images (test-time transformed).
    pub fn normalization(&self, seed: u64) -> Result<Normalize> {
        let preset = match &self.options.normalize {
            Normalization::Given { mean, std } => {
                if mean.len() != self.channels {
                    return Err(Error::Invalid(format!(
                        "data.folder.normalize: {} values for images of {} channels",
                        mean.len(),
                        self.channels
                    )));
                }
                return Ok(Normalize {
                    mean: mean.clone(),
                    std: std.clone(),
                });
            }
            Normalization::Preset(p) => *p,
        };
        match (preset, self.channels) {
            (NormalizationPreset::Imagenet, 1) => Err(Error::Invalid(
                "data.folder.normalize: ImageNet's statistics are for RGB images; use \
                 \"measured\" for grayscale"
                    .into(),
            )),
            (NormalizationPreset::Imagenet | NormalizationPreset::Auto, 3) => Ok(Normalize {
                mean: IMAGENET_MEAN.to_vec(),
                std: IMAGENET_STD.to_vec(),
            }),
            _ => {
                let sample = self.sample(self.options.measure_images.max(1), seed);
                let all: Vec<usize> = (0..sample.len()).collect();
                let mut mean_std = crate::image_set::ChannelStats::new(self.channels);
                for chunk in all.chunks(64) {
                    let pixels = sample.assemble(chunk, 0, None)?;
                    mean_std.add(&pixels, self.resolution * self.resolution);
                }
                let (mean, std) = mean_std.finish();
                Ok(Normalize { mean, std })
            }
        }
    }
}

impl Subsets for FolderSet {
    fn set_name(&self) -> &str {
        &self.name
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn class_count(&self) -> usize {
        self.classes()
    }
    fn label_of(&self, i: usize) -> usize {
        self.label(i)
    }
    fn subset_named(&self, indices: &[usize], name: String) -> Self {
        self.subset(indices, name)
    }
}

/// The seed of the `k`-th image's augmentation in a batch of `seed`.
fn image_seed(seed: u64, k: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

/// Reads and decodes one image file as `channels` (1: luma, 3: RGB) interleaved pixels.
pub fn decode(path: &Path, channels: usize) -> Result<Pixels> {
    decode_noting_colour(path, channels).map(|(pixels, _)| pixels)
}

/// [`decode`], and whether the file itself holds colour.
pub(crate) fn decode_noting_colour(path: &Path, channels: usize) -> Result<(Pixels, bool)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let image = image::load_from_memory(&bytes)
        .map_err(|e| Error::format(path, format!("cannot decode image: {e}")))?;
    let (width, height) = (image.width(), image.height());
    if width.max(height) > MAX_ASPECT * width.min(height) {
        return Err(Error::format(
            path,
            format!(
                "an image of {width}x{height} is too elongated to resize (at most {MAX_ASPECT}:1)"
            ),
        ));
    }
    let colour = image.color().has_color();
    let data = match channels {
        1 => image.into_luma8().into_raw(),
        _ => image.into_rgb8().into_raw(),
    };
    Ok((
        Pixels {
            width,
            height,
            channels,
            data,
        },
        colour,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{FolderSpec, write_folder};
    use crate::{Augment, Loader};

    fn folder(classes: usize, per_class: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let spec = FolderSpec {
            classes,
            per_class,
            sides: [40, 72],
            quality: 85,
        };
        write_folder(&dir.path().join("train"), &spec, 1).unwrap();
        dir
    }

    fn options(workers: usize, cache: &Path) -> FolderOptions {
        FolderOptions {
            workers,
            index_cache: Some(cache.to_path_buf()),
            ..FolderOptions::default()
        }
    }

    #[test]
    fn augmented_batches_depend_on_the_seed_alone_not_on_the_workers() {
        let dir = folder(3, 6);
        let cache = tempfile::tempdir().unwrap();
        let open = |workers| {
            FolderSet::open(
                dir.path(),
                Split::Train,
                3,
                24,
                &options(workers, cache.path()),
            )
            .unwrap()
            .0
        };
        let (one, three) = (open(1), open(3));
        assert_eq!(
            (one.len(), one.classes(), one.shape()),
            (18, 3, [3, 24, 24])
        );
        let indices = [4, 0, 17, 9];
        let a = one.assemble(&indices, 7, Some(true)).unwrap();
        assert_eq!(a.len(), 4 * 3 * 24 * 24);
        assert_eq!(a, three.assemble(&indices, 7, Some(true)).unwrap());
        assert_ne!(a, one.assemble(&indices, 8, Some(true)).unwrap());
        // Without augmentation a batch is its images read one by one, test-time cropped.
        let plain = three.assemble(&indices, 7, None).unwrap();
        let read: Vec<u8> = indices.iter().flat_map(|&i| one.read(i).unwrap()).collect();
        assert_eq!(plain, read);
        assert_ne!(plain, a);
    }

    #[test]
    fn the_held_out_split_is_a_seeded_balanced_file_list() {
        let dir = folder(4, 5);
        let cache = tempfile::tempdir().unwrap();
        let (set, _) =
            FolderSet::open(dir.path(), Split::Train, 3, 16, &options(2, cache.path())).unwrap();
        let (rest, held) = set.split_holdout(8, 0).unwrap();
        assert_eq!((rest.len(), held.len()), (12, 8));
        let mut per_class = [0; 4];
        for i in 0..held.len() {
            per_class[held.label(i)] += 1;
        }
        assert_eq!(per_class, [2; 4]);
        let files = |s: &FolderSet| (0..s.len()).map(|i| s.path(i)).collect::<Vec<_>>();
        let (held_paths, rest_paths) = (files(&held), files(&rest));
        assert!(held_paths.iter().all(|p| !rest_paths.contains(p)));
        assert_eq!(files(&set.split_holdout(8, 0).unwrap().1), held_paths);
        assert_ne!(files(&set.split_holdout(8, 1).unwrap().1), held_paths);
        // The same choice an in-memory set of the same labels makes.
        let labels: Vec<u16> = (0..set.len()).map(|i| set.label(i) as u16).collect();
        let memory = crate::ImageSet::new(
            "m",
            [1, 1, 1],
            4,
            labels.iter().map(|&l| l as u8).collect(),
            labels,
        )
        .unwrap();
        let (_, memory_held) = memory.split_holdout(8, 0).unwrap();
        let held_labels: Vec<usize> = (0..held.len()).map(|i| held.label(i)).collect();
        let memory_labels: Vec<usize> = (0..8).map(|i| memory_held.image(i)[0] as usize).collect();
        assert_eq!(held_labels, memory_labels);
    }

    #[test]
    fn a_loader_streams_labelled_batches_and_names_an_unreadable_image() {
        let dir = folder(2, 5);
        let cache = tempfile::tempdir().unwrap();
        let (set, _) =
            FolderSet::open(dir.path(), Split::Train, 3, 20, &options(2, cache.path())).unwrap();
        let normalize = set.normalization(0).unwrap();
        assert_eq!(normalize.mean, IMAGENET_MEAN);
        let loader = Loader::new(set.clone(), 4, normalize)
            .with_augment(Some(Augment::crop_and_flip(0)))
            .with_drop_last(true);
        let batches: Vec<_> = loader.epoch(3).map(Result::unwrap).collect();
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].shape, [4, 3, 20, 20]);
        let again: Vec<_> = loader.epoch_from(3, 1).map(Result::unwrap).collect();
        assert_eq!(again[0], batches[1]);
        // Labels follow the files' folders.
        for b in &batches {
            assert!(b.labels.iter().all(|&l| l == 0 || l == 1));
        }
        std::fs::write(set.path(0), b"not a jpeg").unwrap();
        let unshuffled = Loader::new(set, 5, loader.normalize().clone()).with_shuffle(false);
        let err = unshuffled
            .epoch(0)
            .find_map(Result::err)
            .unwrap()
            .to_string();
        assert!(
            err.contains("000000.jpg") && err.contains("cannot decode"),
            "{err}"
        );
    }

    #[test]
    fn grayscale_folders_measure_their_own_statistics() {
        let dir = folder(2, 4);
        let cache = tempfile::tempdir().unwrap();
        let (set, _) =
            FolderSet::open(dir.path(), Split::Train, 1, 12, &options(1, cache.path())).unwrap();
        let measured = set.normalization(0).unwrap();
        // The statistics of the same eight images computed here, image by image.
        let pixels: Vec<f64> = (0..set.len())
            .flat_map(|i| set.read(i).unwrap())
            .map(|v| v as f64 / 255.0)
            .collect();
        let mean = pixels.iter().sum::<f64>() / pixels.len() as f64;
        let var = pixels.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / pixels.len() as f64;
        assert!(
            (measured.mean[0] as f64 - mean).abs() < 1e-6,
            "{measured:?} {mean}"
        );
        assert!((measured.std[0] as f64 - var.sqrt()).abs() < 1e-5);
        let imagenet = FolderOptions {
            normalize: Normalization::Preset(NormalizationPreset::Imagenet),
            ..options(1, cache.path())
        };
        let (gray, _) = FolderSet::open(dir.path(), Split::Train, 1, 12, &imagenet).unwrap();
        assert!(
            gray.normalization(0)
                .unwrap_err()
                .to_string()
                .contains("grayscale")
        );
    }

    #[test]
    fn options_read_from_toml_and_bad_values_are_named() {
        let o: FolderOptions = toml::from_str(
            "color_jitter = \"strong\"\ntest_crop = 1.0\nnormalize = { mean = [0.5], std = [0.25] }\n[crop]\nscale = [0.35, 1.0]\nratio = [0.75, 1.3333]\n",
        )
        .unwrap();
        assert_eq!(o.color_jitter.jitter(), ColorJitter::STRONG);
        assert_eq!(o.crop.scale, [0.35, 1.0]);
        let custom: FolderOptions = toml::from_str("color_jitter = { brightness = 0.2 }").unwrap();
        assert_eq!(custom.color_jitter.jitter().brightness, 0.2);
        let bad = FolderOptions {
            test_crop: 1.5,
            ..FolderOptions::default()
        };
        let err = bad.validate("data.folder").unwrap_err().to_string();
        assert!(err.contains("data.folder.test_crop"), "{err}");
        assert!(toml::from_str::<FolderOptions>("workerz = 3").is_err());
    }
}
