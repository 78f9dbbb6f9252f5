//! What the image-folder loader delivers (`proxyless bench --loader`): images per second, and
//! per core, of decode + augment + batch with 1 and with every decoding thread; the time of
//! each stage of one image (read, decode, crop and resize, colour jitter); the peak resident
//! memory of each run; and what a batch costs to become a tensor, `u8` copied and normalised
//! on the device against `f32` normalised on the host; and whether search steps wait for the
//! loader (supernet weight steps fed by it against steps on a cached batch).

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use fast_image_resize::Resizer;
use proxyless_data::transform::{ColorJitter, Pixels, RandomResizedCrop, resize_crop};
use proxyless_data::{Augment, Batch, FolderOptions, FolderSet, Loader, Split};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use proxyless_search::config::WeightsConfig;
use proxyless_space::{Architecture, SearchSpace};
use proxyless_supernet::Supernet;
use proxyless_supernet::steps::weight_step;
use proxyless_train::steps::batch_tensors;

use proxyless_plumbing::memory::{peak_rss_mib, reset_peak_rss};

/// One loader run: `workers` decoding threads, augmented or test-time transformed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoaderRun {
    /// Decoding threads.
    pub workers: usize,
    /// Training augmentation (RandomResizedCrop, flip, jitter) or the test-time crop.
    pub augment: bool,
    /// Images delivered.
    pub images: usize,
    /// Wall-clock seconds from the first request to the last batch.
    pub seconds: f64,
    /// Images per second.
    pub images_per_s: f64,
    /// Images per second per decoding thread.
    pub per_worker: f64,
    /// Peak resident memory of the process during the run (MiB; Linux).
    pub peak_rss_mib: Option<f64>,
}

/// Milliseconds per image of each stage, on one thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTimes {
    /// Images timed.
    pub images: usize,
    /// Mean file size (KiB).
    pub file_kib: f64,
    /// Mean width × height (megapixels).
    pub megapixels: f64,
    /// Reading the file.
    pub read_ms: f64,
    /// Decoding it (JPEG: `image`, whose decoder is `zune-jpeg`).
    pub decode_ms: f64,
    /// RandomResizedCrop's crop resampled to the side (antialiased bilinear,
    /// `fast_image_resize`: what the loader uses).
    pub crop_resize_ms: f64,
    /// The same crop resampled by the `image` crate (`crop_imm` + `resize`, triangle filter:
    /// the loader's resampler before streaming), for comparison.
    pub crop_resize_image_crate_ms: f64,
    /// The paper's colour jitter ("normal").
    pub jitter_ms: f64,
}

/// What a batch costs to become the network's input on the device, per batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadTimes {
    /// `u8` pixels copied, converted and normalised on the device (what the steps do).
    pub u8_device_ms: f64,
    /// Pixels normalised to `f32` on the host, then copied.
    pub f32_host_ms: f64,
}

/// Whether the search steps wait for data: supernet weight steps (a random path each, as a
/// search's warm-up runs them) fed by the streamed loader, against the same steps on one batch
/// kept on the device. A ratio near 1 means the loader keeps up with the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedTimes {
    /// The space whose supernet steps.
    pub space: String,
    /// Images per step.
    pub batch: usize,
    /// Timed steps of each kind (after as many untimed ones as the warm-up asks).
    pub steps: usize,
    /// Milliseconds per step, batches streamed from the folder (decode, augment, upload).
    pub streamed_ms: f64,
    /// Milliseconds per step on one cached batch.
    pub cached_ms: f64,
    /// `streamed_ms / cached_ms`.
    pub ratio: f64,
}

/// The whole measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoaderReport {
    /// The folder.
    pub folder: String,
    /// Images in it.
    pub folder_images: usize,
    /// Output side.
    pub resolution: usize,
    /// Batch size.
    pub batch: usize,
    /// Cores of this machine.
    pub cores: usize,
    /// Runs by threads and transform.
    pub runs: Vec<LoaderRun>,
    /// Stage times on one thread.
    pub stages: StageTimes,
    /// Batch to tensor.
    pub upload: UploadTimes,
    /// Search steps fed by the loader against a cached batch (`--space`), when measured.
    pub feed: Option<FeedTimes>,
}

/// Settings of [`measure`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderSettings {
    /// Output side (224: ImageNet's).
    pub resolution: usize,
    /// Images per batch.
    pub batch: usize,
    /// Batches per run.
    pub batches: usize,
    /// Decoding threads of each run.
    pub workers: Vec<usize>,
}

/// Measures the loader on the folder `dir` (`dir/train` or class folders), its file list
/// cached in `index_cache`; batches become tensors on `device` for the upload times.
pub fn measure(
    dir: &Path,
    settings: &LoaderSettings,
    index_cache: &Path,
    device: &Device,
    mut on_run: impl FnMut(&LoaderRun),
) -> proxyless_data::Result<LoaderReport> {
    let open = |workers| {
        let options = FolderOptions {
            workers,
            index_cache: Some(index_cache.to_path_buf()),
            ..FolderOptions::default()
        };
        FolderSet::open(dir, Split::Train, 3, settings.resolution, &options).map(|(s, _)| s)
    };
    let first = open(1)?;
    let images = (settings.batch * settings.batches).min(first.len());
    let mut runs = Vec::new();
    for &workers in &settings.workers {
        for augment in [true, false] {
            let set = open(workers)?.sample(images, 0);
            let normalize = set.normalization(0)?;
            let loader = Loader::new(set, settings.batch, normalize)
                .with_augment(augment.then_some(Augment::crop_and_flip(0)));
            let reset = reset_peak_rss();
            let started = Instant::now();
            let mut delivered = 0;
            for batch in loader.epoch(1) {
                delivered += batch?.labels.len();
            }
            let seconds = started.elapsed().as_secs_f64();
            let run = LoaderRun {
                workers,
                augment,
                images: delivered,
                seconds,
                images_per_s: delivered as f64 / seconds,
                per_worker: delivered as f64 / seconds / workers as f64,
                peak_rss_mib: reset.then(peak_rss_mib).flatten(),
            };
            on_run(&run);
            runs.push(run);
        }
    }
    let stages = stage_times(&first, images.min(64), settings.resolution as u32)?;
    let upload = upload_times(&first, settings.batch, device)?;
    Ok(LoaderReport {
        folder: dir.display().to_string(),
        folder_images: first.len(),
        resolution: settings.resolution,
        batch: settings.batch,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        runs,
        stages,
        upload,
        feed: None,
    })
}

/// Times `steps` supernet weight steps of `space` (after `warmup` untimed ones) fed by the
/// streamed folder `set` (training augmentation, prefetching as the set's options say), then
/// as many on one cached batch, with the same random paths; every step ends with a device
/// sync. The set's resolution must be the space's.
pub fn feed_times(
    space: &SearchSpace,
    set: &FolderSet,
    batch: usize,
    steps: usize,
    warmup: usize,
    device: &Device,
) -> proxyless_data::Result<FeedTimes> {
    let device_ad = device.clone().autodiff();
    device_ad.seed(0);
    let normalize = set.normalization(0)?;
    let loader = Loader::new(set.clone(), batch.min(set.len()), normalize)
        .with_augment(Some(Augment::crop_and_flip(0)))
        .with_drop_last(true);
    let mut batches = (0u64..).flat_map(|epoch| loader.epoch(epoch));
    let mut net = Some(Supernet::new(space, &device_ad));
    let mut optim = WeightsConfig::default().optimizer();
    let sync = || device.sync().expect("the device finishes its work");
    let mut rng = StdRng::seed_from_u64(1);
    let mut step = |x: Tensor<4>, y: Tensor<1, Int>, rng: &mut StdRng| {
        let choices = Architecture::random(space, rng).indices(space);
        let model = net.take().expect("the model is put back after each step");
        let (model, _) = weight_step(model, &mut optim, 0.05, &choices, (x, y), 0.1);
        net = Some(model);
    };
    let mut next = || -> proxyless_data::Result<(Tensor<4>, Tensor<1, Int>)> {
        let batch = batches.next().expect("epochs never end")?;
        Ok(batch_tensors(&batch, &device_ad))
    };
    for _ in 0..warmup {
        let (x, y) = next()?;
        step(x, y, &mut rng);
    }
    sync();
    let mut rng = StdRng::seed_from_u64(2);
    let started = Instant::now();
    for _ in 0..steps.max(1) {
        let (x, y) = next()?;
        step(x, y, &mut rng);
        sync();
    }
    let streamed = started.elapsed().as_secs_f64();
    let (x, y) = next()?;
    let mut rng = StdRng::seed_from_u64(2);
    let started = Instant::now();
    for _ in 0..steps.max(1) {
        step(x.clone(), y.clone(), &mut rng);
        sync();
    }
    let cached = started.elapsed().as_secs_f64();
    let per = |s: f64| 1000.0 * s / steps.max(1) as f64;
    Ok(FeedTimes {
        space: space.name.clone(),
        batch: batch.min(set.len()),
        steps: steps.max(1),
        streamed_ms: per(streamed),
        cached_ms: per(cached),
        ratio: streamed / cached,
    })
}

/// Each stage of `n` images, one after another on this thread.
fn stage_times(set: &FolderSet, n: usize, side: u32) -> proxyless_data::Result<StageTimes> {
    let mut resizer = Resizer::new();
    let mut rng = StdRng::seed_from_u64(0);
    let (mut read, mut decoding, mut resize, mut jitter) = (0.0, 0.0, 0.0, 0.0);
    let mut resize_image_crate = 0.0;
    let (mut bytes, mut pixels) = (0usize, 0usize);
    for i in 0..n {
        let path = set.path(i);
        let t = Instant::now();
        let data = std::fs::read(&path).map_err(|e| proxyless_data::Error::Io {
            path: path.clone(),
            error: e,
        })?;
        read += t.elapsed().as_secs_f64();
        bytes += data.len();
        let t = Instant::now();
        let decoded =
            image::load_from_memory(&data).map_err(|e| proxyless_data::Error::Format {
                path: path.clone(),
                message: format!("cannot decode image: {e}"),
            })?;
        let rgb = decoded.into_rgb8();
        decoding += t.elapsed().as_secs_f64();
        let crop = RandomResizedCrop::default().params(rgb.width(), rgb.height(), &mut rng);
        let t = Instant::now();
        let part = image::imageops::crop_imm(
            &rgb,
            crop.left as u32,
            crop.top as u32,
            crop.width as u32,
            crop.height as u32,
        )
        .to_image();
        let resized =
            image::imageops::resize(&part, side, side, image::imageops::FilterType::Triangle);
        resize_image_crate += t.elapsed().as_secs_f64();
        std::hint::black_box(resized);
        let image = Pixels {
            width: rgb.width(),
            height: rgb.height(),
            channels: 3,
            data: rgb.into_raw(),
        };
        pixels += (image.width * image.height) as usize;
        let t = Instant::now();
        let mut out = resize_crop(&mut resizer, &image, crop, side);
        resize += t.elapsed().as_secs_f64();
        let t = Instant::now();
        ColorJitter::NORMAL.apply(&mut out, &mut rng);
        jitter += t.elapsed().as_secs_f64();
    }
    let per = |s: f64| 1000.0 * s / n.max(1) as f64;
    Ok(StageTimes {
        images: n,
        file_kib: bytes as f64 / 1024.0 / n.max(1) as f64,
        megapixels: pixels as f64 / 1e6 / n.max(1) as f64,
        read_ms: per(read),
        decode_ms: per(decoding),
        crop_resize_ms: per(resize),
        crop_resize_image_crate_ms: per(resize_image_crate),
        jitter_ms: per(jitter),
    })
}

/// One batch made a tensor both ways, the median of a few times each.
fn upload_times(
    set: &FolderSet,
    batch: usize,
    device: &Device,
) -> proxyless_data::Result<UploadTimes> {
    let normalize = set.normalization(0)?;
    let loader = Loader::new(set.clone(), batch.min(set.len()), normalize);
    let batch: Batch = loader.epoch(0).next().expect("a folder has a batch")?;
    let sync = || device.sync().expect("the device finishes its work");
    let median = |mut f: Box<dyn FnMut() + '_>| {
        let mut times: Vec<f64> = (0..7)
            .map(|_| {
                let t = Instant::now();
                f();
                sync();
                1000.0 * t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let u8_device_ms = median(Box::new(|| {
        let (x, _) = batch_tensors(&batch, device);
        let _: f32 = x.sum().into_scalar();
    }));
    let f32_host_ms = median(Box::new(|| {
        let x =
            Tensor::<1>::from_floats(batch.normalised().as_slice(), device).reshape(batch.shape);
        let _: f32 = x.sum().into_scalar();
    }));
    Ok(UploadTimes {
        u8_device_ms,
        f32_host_ms,
    })
}

/// The report as Markdown.
pub fn markdown(report: &LoaderReport) -> String {
    let mut md = format!(
        "# proxyless bench --loader\n\n{} ({} images), {}x{} RGB out, batch {}, {} cores\n\n\
         | threads | transform | images/s | per thread | peak RSS (MiB) |\n\
         | --- | --- | --- | --- | --- |\n",
        report.folder,
        report.folder_images,
        report.resolution,
        report.resolution,
        report.batch,
        report.cores
    );
    for r in &report.runs {
        md += &format!(
            "| {} | {} | {:.0} | {:.0} | {} |\n",
            r.workers,
            if r.augment {
                "train (RandomResizedCrop, flip, jitter)"
            } else {
                "test (resize, centre crop)"
            },
            r.images_per_s,
            r.per_worker,
            r.peak_rss_mib.map_or("-".into(), |m| format!("{m:.0}"))
        );
    }
    let s = &report.stages;
    md += &format!(
        "\nOne image on one thread ({} images, {:.0} KiB, {:.2} megapixels on average): read \
         {:.2} ms, decode {:.2} ms, crop and resize {:.2} ms (the `image` crate's triangle filter: \
         {:.2} ms), colour jitter {:.2} ms.\n\n\
         A batch to the device: u8 copied and normalised there {:.2} ms; f32 normalised on \
         the host and copied {:.2} ms.\n",
        s.images,
        s.file_kib,
        s.megapixels,
        s.read_ms,
        s.decode_ms,
        s.crop_resize_ms,
        s.crop_resize_image_crate_ms,
        s.jitter_ms,
        report.upload.u8_device_ms,
        report.upload.f32_host_ms
    );
    if let Some(f) = &report.feed {
        md += &format!(
            "\nSearch steps fed by the loader ({} supernet weight steps of `{}`, batch {}): \
             {:.1} ms per step streamed, {:.1} ms on a cached batch: **{:.2}x**.\n",
            f.steps, f.space, f.batch, f.streamed_ms, f.cached_ms, f.ratio
        );
    }
    md
}
