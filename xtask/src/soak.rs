//! `cargo xtask soak [--epochs N] [--backend B]`: a long search on a small configuration
//! (Fashion-MNIST, 2,000 training images, the fmnist space) that records the process's peak
//! resident memory per epoch (`memory.jsonl`), printed as a table; it fails when the mean
//! peak of the last five epochs exceeds the first search epoch's by more than 5%, the growth a
//! leak of even a few hundred bytes per step would show over a run of the paper's length.

use std::path::Path;
use std::process::Command;

use crate::cargo;

/// The allowed growth of the last epochs' peak over the first search epoch's.
const FLAT: f64 = 0.05;

/// Runs the soak.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut epochs = 40usize;
    let mut backend = "flex".to_string();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--epochs" => epochs = value()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--backend" => backend = value()?.clone(),
            other => return Err(format!("soak: unknown argument {other}")),
        }
    }
    if epochs < 8 {
        return Err("soak: --epochs must be at least 8 (a warm-up and the last five)".into());
    }
    crate::data::ensure_fashion_mnist()?;
    cargo::run(&["build", "--release", "--package", "proxyless-cli"], &[])?;
    let root = crate::repo_root();
    let run = root.join("target/soak");
    let _ = std::fs::remove_dir_all(&run);
    let warmup = (epochs / 4).max(1);
    let sets = [
        format!("data.path=\"{}\"", crate::data::DIR),
        "data.train_limit=2000".into(),
        "data.holdout=500".into(),
        format!("schedule.warmup_epochs={warmup}"),
        format!("schedule.epochs={}", epochs - warmup),
        "schedule.checkpoint_every_steps=0".into(),
    ];
    let mut command = Command::new(root.join("target/release/proxyless"));
    command.args(["--backend", &backend, "--quiet", "search", "--out"]);
    command.arg(&run);
    for set in &sets {
        command.args(["--set", set]);
    }
    println!(
        "soak: {epochs} epochs ({warmup} warm-up) on {backend} into {}",
        run.display()
    );
    let started = std::time::Instant::now();
    let status = command.status().map_err(|e| format!("proxyless: {e}"))?;
    if !status.success() {
        return Err(format!("soak: the search failed ({status})"));
    }
    let peaks = read_peaks(&run.join("memory.jsonl"))?;
    println!("| epoch | peak RSS (MiB) | RSS at its end (MiB) |\n| --- | --- | --- |");
    for (epoch, peak, now) in &peaks {
        println!("| {} | {peak:.1} | {now:.1} |", epoch + 1);
    }
    if peaks.len() != epochs {
        return Err(format!(
            "soak: {} memory lines for {epochs} epochs",
            peaks.len()
        ));
    }
    let first = peaks[warmup].1;
    let last: f64 = peaks[epochs - 5..].iter().map(|p| p.1).sum::<f64>() / 5.0;
    let growth = last / first - 1.0;
    println!(
        "soak: {:.0} s; first search epoch peak {first:.1} MiB, last five epochs' mean {last:.1} MiB ({:+.2}%)",
        started.elapsed().as_secs_f64(),
        100.0 * growth
    );
    if growth > FLAT {
        return Err(format!(
            "soak: the peak grew by {:.1}% (more than {:.0}%)",
            100.0 * growth,
            100.0 * FLAT
        ));
    }
    Ok(())
}

/// `(epoch, peak, resident at the end)` of every line of `memory.jsonl`.
fn read_peaks(path: &Path) -> Result<Vec<(usize, f64, f64)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .map(|line| {
            let number = |key: &str| -> Option<f64> {
                let rest = &line[line.find(&format!("\"{key}\":"))? + key.len() + 3..];
                rest[..rest.find([',', '}'])?].trim().parse().ok()
            };
            match (number("epoch"), number("peak_rss_mib"), number("rss_mib")) {
                (Some(e), Some(p), Some(r)) => Ok((e as usize, p, r)),
                _ => Err(format!("{}: not a memory line: {line}", path.display())),
            }
        })
        .collect()
}
