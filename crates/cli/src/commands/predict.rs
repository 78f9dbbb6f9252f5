//! `proxyless predict`: the classes of JPEG/PNG files by a trained network (a checkpoint or an
//! export directory), preprocessed as it was trained (shorter side resized, centre crop,
//! the training normalisation), as text or one JSON object per image.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use burn::prelude::*;
use clap::Args;
use proxyless_data::folder::decode_image;
use proxyless_data::{Examples, LoadOptions, Normalize, Split};
use proxyless_nn::Network;
use proxyless_plumbing::progress::Progress;
use proxyless_space::NetConfig;
use proxyless_train::Checkpoint;

use crate::backend::Backend;
use crate::output::print_stdout;

/// Classify image files with a trained network.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A checkpoint, a training directory (its newest checkpoint), or a directory written by
    /// `export` (net.config, weights.safetensors, preprocessing.json).
    pub source: PathBuf,
    /// JPEG or PNG files; or `test:N` / `train:N`, record N of the data set a checkpoint was
    /// trained on (idx, CIFAR-10, image folders, synthetic), as `eval` reads it.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Classes shown per image.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// One JSON object per image on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
}

/// A network with what it needs to read an image.
struct Classifier {
    net: Network,
    channels: usize,
    resolution: usize,
    /// The test-time crop fraction its images are read with.
    test_crop: f64,
    normalize: Normalize,
    class_names: Option<Vec<String>>,
    /// The checkpoint's data set, for `test:N` and `train:N` (none for an export).
    data: Option<DataSource>,
}

/// Where a checkpoint's records come from, and the splits read so far.
struct DataSource {
    kind: proxyless_data::DatasetKind,
    dir: Option<PathBuf>,
    options: LoadOptions,
    loaded: RefCell<Vec<(Split, Examples)>>,
}

impl DataSource {
    /// Record `index` of `split`, planar bytes.
    fn record(&self, split: Split, index: usize) -> Result<Vec<u8>> {
        let cached = self
            .loaded
            .borrow()
            .iter()
            .find(|(s, _)| *s == split)
            .map(|(_, set)| set.clone());
        let set = match cached {
            Some(set) => set,
            None => {
                let set =
                    proxyless_data::load(self.kind, self.dir.as_deref(), split, &self.options)?;
                self.loaded.borrow_mut().push((split, set.clone()));
                set
            }
        };
        ensure!(
            index < set.len(),
            "{}: no record {index} (it holds {})",
            set.name(),
            set.len()
        );
        Ok(set.read(index)?)
    }
}

/// `test:N` or `train:N`, when `arg` is no existing file.
fn record_ref(arg: &Path) -> Option<(Split, usize)> {
    if arg.exists() {
        return None;
    }
    let (split, index) = arg.to_str()?.split_once(':')?;
    let split = match split {
        "test" => Split::Test,
        "train" => Split::Train,
        _ => return None,
    };
    Some((split, index.parse().ok()?))
}

/// One image's result.
struct Prediction {
    path: PathBuf,
    /// `(class, probability)`, most probable first.
    top: Vec<(usize, f32)>,
    converted: Option<&'static str>,
}

/// Runs `predict` on `backend`.
pub fn run(args: &PredictArgs, backend: Backend, quiet: bool) -> Result<()> {
    ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    ensure!(args.top > 0, "--top must be at least 1");
    let device = backend.device()?.without_autodiff();
    let classifier = open(&args.source, &device)?;
    if classifier.class_names.is_none() && !args.json {
        eprintln!(
            "note: {} records no class names; classes are shown by index",
            args.source.display()
        );
    }
    let bar = Progress::new(quiet || args.images.len() < 2 * args.batch_size)
        .epoch("predict", args.images.len());
    let mut failed = Vec::new();
    for chunk in args.images.chunks(args.batch_size) {
        let (predictions, errors) = classify(&classifier, chunk, args.top, &device);
        failed.extend(errors);
        let mut text = String::new();
        for p in &predictions {
            if let Some(how) = p.converted {
                eprintln!(
                    "note: {}: converted {how} for the network",
                    p.path.display()
                );
            }
            text += &if args.json {
                json_line(&classifier, p)
            } else {
                text_lines(&classifier, p)
            };
        }
        bar.suspend(|| print_stdout(&text))?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if !failed.is_empty() {
        for e in &failed {
            eprintln!("error: {e}");
        }
        bail!(
            "{} of {} images could not be read",
            failed.len(),
            args.images.len()
        );
    }
    Ok(())
}

/// The network and preprocessing of a checkpoint or an export directory.
fn open(source: &Path, device: &Device) -> Result<Classifier> {
    let preprocessing = source.join("preprocessing.json");
    if preprocessing.is_file() {
        ensure!(
            source.join(proxyless_pytorch::NET_CONFIG).is_file(),
            "{}: an export without net.config (written with --format onnx alone); predict reads \
             the PyTorch files of an export, or the checkpoint",
            source.display()
        );
        return open_export(source, &preprocessing, device);
    }
    let checkpoint = Checkpoint::open(source)?;
    let state = &checkpoint.state;
    let [channels, resolution, _] = state.image_shape;
    let data = state.dataset_kind.map(|kind| DataSource {
        kind,
        dir: state.dataset_path.clone(),
        options: checkpoint.load_options(resolution),
        loaded: RefCell::new(Vec::new()),
    });
    Ok(Classifier {
        net: checkpoint.load_net(device)?,
        channels,
        resolution,
        test_crop: state.test_crop(),
        normalize: state.normalize(),
        class_names: state.class_names(),
        data,
    })
}

fn open_export(dir: &Path, preprocessing: &Path, device: &Device) -> Result<Classifier> {
    #[derive(serde::Deserialize)]
    struct Preprocessing {
        input: [usize; 3],
        mean: Vec<f32>,
        std: Vec<f32>,
        #[serde(default)]
        class_names: Option<Vec<String>>,
        /// Exports written before the crop was recorded resized the shorter side to the input.
        #[serde(default = "whole_side")]
        test_crop: f64,
    }
    fn whole_side() -> f64 {
        1.0
    }
    let text = std::fs::read_to_string(preprocessing)
        .with_context(|| format!("cannot read {}", preprocessing.display()))?;
    let p: Preprocessing = serde_json::from_str(&text)
        .with_context(|| format!("{}: not an export's preprocessing", preprocessing.display()))?;
    let [channels, resolution, _] = p.input;
    ensure!(
        p.mean.len() == channels && p.std.len() == channels,
        "{}: `mean` and `std` need {channels} values (the input's channels)",
        preprocessing.display()
    );
    let config = NetConfig::from_file(dir.join(proxyless_pytorch::NET_CONFIG))?;
    let weights = dir.join(proxyless_pytorch::WEIGHTS);
    let net = proxyless_pytorch::import_network(&weights, &config, device)?;
    Ok(Classifier {
        net,
        channels,
        resolution,
        test_crop: p.test_crop,
        normalize: Normalize {
            mean: p.mean,
            std: p.std,
        },
        class_names: p.class_names,
        data: None,
    })
}

/// Classifies the readable images of `paths`; the others come back as error messages.
fn classify(
    c: &Classifier,
    paths: &[PathBuf],
    top: usize,
    device: &Device,
) -> (Vec<Prediction>, Vec<String>) {
    let mut pixels = Vec::new();
    let mut read = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let image = match record_ref(path) {
            Some((split, index)) => match &c.data {
                Some(data) => data.record(split, index).map(|pixels| (pixels, None)),
                None => Err(anyhow::anyhow!(
                    "{}: records by index need a checkpoint (an export records no data set)",
                    path.display()
                )),
            },
            None => decode_image(path, c.channels, c.resolution, c.test_crop)
                .map(|image| (image.pixels, image.converted))
                .map_err(Into::into),
        };
        match image {
            Ok((image, converted)) if image.len() == c.channels * c.resolution * c.resolution => {
                c.normalize.extend_normalised(&image, &mut pixels);
                read.push((path.clone(), converted));
            }
            Ok(_) => errors.push(format!(
                "{}: the record's size does not fit the network's {}x{}x{} input",
                path.display(),
                c.channels,
                c.resolution,
                c.resolution
            )),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if read.is_empty() {
        return (Vec::new(), errors);
    }
    let side = c.resolution;
    let x = Tensor::<1>::from_floats(pixels.as_slice(), device).reshape([
        read.len(),
        c.channels,
        side,
        side,
    ]);
    let probabilities = burn::tensor::activation::softmax(c.net.forward(x), 1)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("probabilities convert to f32");
    let classes = probabilities.len() / read.len();
    let predictions = read
        .into_iter()
        .zip(probabilities.chunks_exact(classes))
        .map(|((path, converted), row)| {
            let mut ranked: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
            // Most probable first; ties keep the lower class first (as argmax does).
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked.truncate(top);
            Prediction {
                path,
                top: ranked,
                converted,
            }
        })
        .collect();
    (predictions, errors)
}

fn class_name(c: &Classifier, class: usize) -> String {
    c.class_names
        .as_ref()
        .and_then(|names| names.get(class).cloned())
        .unwrap_or_else(|| format!("class {class}"))
}

fn text_lines(c: &Classifier, p: &Prediction) -> String {
    let mut out = format!("{}\n", p.path.display());
    for (rank, (class, probability)) in p.top.iter().enumerate() {
        out += &format!(
            "  {}. {:<20} {:6.2}%  (class {class})\n",
            rank + 1,
            class_name(c, *class),
            probability * 100.0
        );
    }
    out
}

fn json_line(c: &Classifier, p: &Prediction) -> String {
    let top: Vec<_> = p
        .top
        .iter()
        .map(|(class, probability)| {
            serde_json::json!({
                "class": class,
                "name": c.class_names.as_ref().and_then(|n| n.get(*class)),
                "probability": probability,
            })
        })
        .collect();
    let line = serde_json::json!({
        "image": p.path,
        "top": top,
        "converted": p.converted,
    });
    format!("{line}\n")
}
