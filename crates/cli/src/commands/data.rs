//! `proxyless data`: image folders made and checked. `generate` writes a folder of JPEG
//! photos-in-size that networks can learn (for trying the ImageNet configurations and for the
//! loader benchmark); `check` indexes a folder's splits and decodes every image, naming each
//! one that cannot be read.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use proxyless_data::synthetic::{FolderSpec, write_folder};
use proxyless_data::{FolderOptions, FolderSet, Split};
use proxyless_plumbing::Progress;
use proxyless_plumbing::checkpoints::write_dir;
use rayon::prelude::*;

/// Image folders: generate one, or check one.
#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    pub command: DataCommand,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Write a folder of JPEG images in class folders (`OUT/train/class-000/...`, and `OUT/val`
    /// with --val-per-class): stripe patterns of a class's own orientation, frequency and tint
    /// under noise, at photo sizes.
    Generate(GenerateArgs),
    /// Index an image folder's splits and decode every image: counts, skipped files, and every
    /// file that cannot be read (exit 1 if any).
    Check(CheckArgs),
}

/// `data generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The folder to create (it must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// Classes.
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
    /// Training images per class.
    #[arg(long, default_value_t = 100)]
    pub per_class: usize,
    /// Validation images per class (`OUT/val`; 0: none).
    #[arg(long, default_value_t = 0)]
    pub val_per_class: usize,
    /// Smallest and largest side of an image, e.g. `300,500`.
    #[arg(long, value_delimiter = ',', default_values_t = [300, 500])]
    pub sides: Vec<u32>,
    /// JPEG quality.
    #[arg(long, default_value_t = 90)]
    pub quality: u8,
    /// Seed of the images.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `data check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The folder (`DIR/train` and `DIR/val`, or class folders directly).
    pub dir: PathBuf,
}

/// Runs `data`.
pub fn run(args: &DataArgs, quiet: bool) -> Result<()> {
    match &args.command {
        DataCommand::Generate(g) => generate(g),
        DataCommand::Check(c) => check(c, quiet),
    }
}

fn generate(args: &GenerateArgs) -> Result<()> {
    if args.out.exists() {
        bail!("{}: already exists; give a new folder", args.out.display());
    }
    let [lo, hi] = args.sides[..] else {
        bail!("--sides takes two numbers, the smallest and largest side: e.g. 300,500");
    };
    let quality = args.quality.clamp(1, 100);
    let mut total = 0;
    // Written beside the destination, then renamed: a failed or killed run leaves no half
    // folder.
    write_dir(&args.out, |tmp| {
        for (split, per_class, seed) in [
            ("train", args.per_class, args.seed),
            ("val", args.val_per_class, args.seed.wrapping_add(1)),
        ] {
            if per_class == 0 {
                continue;
            }
            let spec = FolderSpec {
                classes: args.classes,
                per_class,
                sides: [lo, hi],
                quality,
            };
            total += write_folder(&tmp.join(split), &spec, seed).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
    .map_err(anyhow::Error::msg)?;
    let images = args.classes * (args.per_class + args.val_per_class);
    println!(
        "{}: {images} JPEG images in {} classes, {:.1} MiB",
        args.out.display(),
        args.classes,
        total as f64 / (1 << 20) as f64
    );
    Ok(())
}

fn check(args: &CheckArgs, quiet: bool) -> Result<()> {
    let options = FolderOptions::default();
    let splits: Vec<Split> = if args.dir.join("train").is_dir() || args.dir.join("val").is_dir() {
        [Split::Train, Split::Test]
            .into_iter()
            .filter(|s| {
                let sub = if *s == Split::Train { "train" } else { "val" };
                args.dir.join(sub).is_dir()
            })
            .collect()
    } else {
        vec![Split::Train]
    };
    let mut unreadable = Vec::new();
    for split in splits {
        let (set, _) = FolderSet::open(&args.dir, split, 3, 32, &options)?;
        let bar = Progress::new(quiet).epoch("check", set.len());
        let bad: Vec<String> = (0..set.len())
            .into_par_iter()
            .filter_map(|i| {
                let result = proxyless_data::stream::decode(&set.path(i), 3);
                bar.inc(1);
                result.err().map(|e| e.to_string())
            })
            .collect();
        bar.finish_and_clear();
        println!(
            "{}: {} images in {} classes, {} other files skipped, {} unreadable",
            set.name(),
            set.len(),
            set.classes(),
            set.skipped(),
            bad.len()
        );
        unreadable.extend(bad);
    }
    for line in &unreadable {
        eprintln!("unreadable: {line}");
    }
    if !unreadable.is_empty() {
        bail!("{} images cannot be read", unreadable.len());
    }
    Ok(())
}
