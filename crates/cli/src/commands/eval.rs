//! `proxyless eval`: top-1, top-5, loss and the confusion matrix of a checkpoint.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use proxyless_data::{Loader, Split};
use proxyless_plumbing::progress::Progress;
use proxyless_train::Checkpoint;
use proxyless_train::steps::evaluate;

use crate::backend::Backend;
use crate::commands::train::DatasetArg;
use crate::output::{print_stdout, write_atomic};

/// Evaluate a checkpoint on a test split.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A checkpoint directory, or a training directory (its newest checkpoint).
    pub checkpoint: PathBuf,
    /// Data set (default: the one the checkpoint was trained on).
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetArg>,
    /// Data directory (default: the one the checkpoint was trained on).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Evaluate on at most this many test images (a seeded sample; default: the sample the
    /// checkpoint was evaluated on while training, if any).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Images per batch.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Side that image folders are resized to (default: the training images').
    #[arg(long)]
    pub resolution: Option<usize>,
    /// Also write the results (the confusion matrix, and every image's top prediction in the
    /// data set's order) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs `eval` on `backend`.
pub fn run(args: &EvalArgs, backend: Backend, quiet: bool) -> Result<()> {
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let device = backend.device()?;
    let checkpoint = Checkpoint::open(&args.checkpoint)?;
    let state = &checkpoint.state;
    let kind = args
        .dataset
        .map(Into::into)
        .or(state.dataset_kind)
        .context("the checkpoint does not record its data set: give --dataset")?;
    let dir = args.data.clone().or_else(|| state.dataset_path.clone());
    let [channels, side, _] = state.image_shape;
    let options = checkpoint.load_options(args.resolution.unwrap_or(side));
    let mut test = proxyless_data::load(kind, dir.as_deref(), Split::Test, &options)?;
    if let Some(n) = args.limit.or(state.test_limit) {
        test = test.sample(n, state.seed);
    }
    let [c, h, w] = test.shape();
    anyhow::ensure!(
        c == channels && test.classes() <= checkpoint.spec.num_classes(),
        "{}: {c}x{h}x{w} images of {} classes do not fit the network ({channels} channels, {} classes)",
        test.name(),
        test.classes(),
        checkpoint.spec.num_classes()
    );
    let net = checkpoint.load_net(&device)?;
    let loader = Loader::new(test, args.batch_size, state.normalize()).with_shuffle(false);
    let bar = Progress::new(quiet).epoch("eval", loader.num_batches());
    let evaluation = evaluate(
        &net,
        &loader,
        &device,
        checkpoint.spec.num_classes(),
        || bar.inc(1),
    )?;
    bar.finish_and_clear();
    let mut text = format!(
        "{}: {} images of {}\ntop-1 {:.4}  top-5 {:.4}  loss {:.4}\n",
        checkpoint.dir.display(),
        evaluation.images,
        loader.examples().name(),
        evaluation.top1(),
        evaluation.top5(),
        evaluation.loss()
    );
    if let Some(table) = evaluation.confusion_table(None) {
        text += "\nconfusion matrix (rows: label, columns: prediction)\n";
        text += &table;
    }
    print_stdout(&text)?;
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "checkpoint": checkpoint.dir,
            "data": loader.examples().name(),
            "images": evaluation.images,
            "top1": evaluation.top1(),
            "top5": evaluation.top5(),
            "loss": evaluation.loss(),
            "confusion": evaluation.confusion,
            "class_names": state.class_names(),
            "predictions": evaluation.predictions,
        });
        write_atomic(path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    }
    Ok(())
}
