//! `proxyless bench --deploy NET...`: batch-1 inference latency of deployed networks on this
//! machine, ours (Burn, BatchNorm kept and folded) beside ONNX Runtime's (CPU, the same number
//! of threads) on the ONNX models `export` writes, in interleaved rounds.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use proxyless_nn::{Network, ProxylessNet};
use proxyless_onnx::{OnnxOptions, runtime};
use proxyless_plumbing::Progress;
use proxyless_profiler::{ProfileSettings, measure_forward};
use proxyless_pytorch::StateDict;
use proxyless_space::{NetConfig, NetSpec};
use proxyless_train::Checkpoint;

use crate::backend::Backend;
use crate::output::write_atomic;

/// A network to time: its name, structure, weights (BatchNorm kept and folded) and input
/// side.
struct Deployed {
    name: String,
    spec: NetSpec,
    net: ProxylessNet,
    folded: ProxylessNet,
    resolution: usize,
}

/// Medians (ms) of one network over the rounds.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Row {
    name: String,
    resolution: usize,
    mmacs: f64,
    burn_bn: Vec<f64>,
    burn_folded: Vec<f64>,
    onnx_runtime_bn: Vec<f64>,
    onnx_runtime_folded: Vec<f64>,
}

/// Runs the deployment benchmark of `nets` (net.config files, timed with fresh weights, or
/// checkpoints) with `runs` timed runs per measurement and `rounds` rounds.
pub fn run(
    nets: &[PathBuf],
    resolution: Option<usize>,
    runs: usize,
    rounds: usize,
    out: &Path,
    backend: Backend,
    quiet: bool,
) -> Result<()> {
    let device = backend.device()?.without_autodiff();
    let python = runtime::python().context(
        "bench --deploy compares with ONNX Runtime: Python must import onnx, onnxruntime, numpy \
         and safetensors (pip install onnx onnxruntime numpy safetensors)",
    )?;
    let threads = proxyless_profiler::cpu_threads();
    let scratch = tempfile::tempdir()?;
    let deployed: Vec<Deployed> = nets
        .iter()
        .map(|p| open(p, resolution, &device))
        .collect::<Result<_>>()?;
    let settings = ProfileSettings {
        batch: 1,
        warmup: 5,
        runs,
        group: ProfileSettings::group_for(&device),
        calibration: 0,
    };
    let mut rows: Vec<Row> = deployed
        .iter()
        .map(|d| Row {
            name: d.name.clone(),
            resolution: d.resolution,
            mmacs: d
                .spec
                .cost(d.resolution)
                .map_or(f64::NAN, |c| c.macs as f64 / 1e6),
            ..Row::default()
        })
        .collect();
    let mut models = Vec::new();
    for (i, d) in deployed.iter().enumerate() {
        let weights = StateDict::from_net(&d.net)?;
        let mut pair = Vec::new();
        for fold in [false, true] {
            let options = OnnxOptions {
                fold_batch_norm: fold,
                ..OnnxOptions::new(d.resolution)
            };
            let path = scratch.path().join(format!("{i}-{fold}.onnx"));
            proxyless_onnx::write(
                &proxyless_onnx::to_onnx(&d.spec, &weights, &options)?,
                &path,
            )?;
            pair.push(path);
        }
        models.push(pair);
    }
    let bar = Progress::new(quiet).epoch("deploy", rounds * deployed.len());
    let mut version = String::new();
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..deployed.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let d = &deployed[i];
            let row = &mut rows[i];
            row.burn_bn
                .push(measure_forward(&d.net, d.resolution, &device, &settings).median);
            row.burn_folded
                .push(measure_forward(&d.folded, d.resolution, &device, &settings).median);
            let bn = runtime::latency(&python, &models[i][0], threads, runs)?;
            let folded = runtime::latency(&python, &models[i][1], threads, runs)?;
            row.onnx_runtime_bn.push(bn.median_ms);
            row.onnx_runtime_folded.push(folded.median_ms);
            version = folded.version;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let markdown = table(&rows, backend, threads, runs, rounds, &version);
    println!("{markdown}");
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(&out.join("deploy.md"), markdown.as_bytes())?;
    let json = serde_json::json!({
        "backend": backend.name(),
        "threads": threads,
        "runs": runs,
        "rounds": rounds,
        "onnxruntime": version,
        "nets": rows,
    });
    write_atomic(
        &out.join("deploy.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    Ok(())
}

/// A net.config (fresh weights; latency does not depend on their values), optionally with its
/// input side as `FILE@SIDE`, or a checkpoint.
fn open(path: &Path, resolution: Option<usize>, device: &Device) -> Result<Deployed> {
    let text = path.to_string_lossy();
    if let Some((file, side)) = text.rsplit_once('@')
        && let Ok(side) = side.parse::<usize>()
        && Path::new(file).is_file()
    {
        return open(Path::new(file), Some(side), device);
    }
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into(),
    );
    if path.is_file() {
        let spec = NetSpec::from_net_config_file(path)?;
        let net = ProxylessNet::new(&spec, device);
        return Ok(Deployed {
            name,
            spec,
            folded: net.clone().fold_batch_norm(),
            net,
            resolution: resolution.unwrap_or(224),
        });
    }
    let checkpoint = Checkpoint::open(path)?;
    let (NetConfig::Mobile(spec), Network::Mobile(net)) =
        (checkpoint.spec.clone(), checkpoint.load_net(device)?)
    else {
        bail!(
            "{}: a PyramidTreeNet checkpoint; deploy-bench compares MBConv networks \
             (ProxylessNASNets) through ONNX, which covers those only",
            path.display()
        );
    };
    Ok(Deployed {
        name,
        folded: net.clone().fold_batch_norm(),
        net,
        resolution: resolution.unwrap_or(checkpoint.state.image_shape[1]),
        spec,
    })
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn table(
    rows: &[Row],
    backend: Backend,
    threads: usize,
    runs: usize,
    rounds: usize,
    ort: &str,
) -> String {
    let mut md = format!(
        "# Batch-1 inference: proxyless ({backend}) and ONNX Runtime {ort}\n\n\
         CPU, {threads} threads each; medians of {runs} runs, median over {rounds} interleaved \
         rounds. BN: BatchNorm kept; folded: BatchNorm folded into the convolutions.\n\n\
         | network | input | MMACs | ours BN (ms) | ours folded (ms) | ORT BN (ms) | ORT folded (ms) | ours / ORT (folded) |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    for r in rows {
        let (bb, bf, ob, of) = (
            median(&r.burn_bn),
            median(&r.burn_folded),
            median(&r.onnx_runtime_bn),
            median(&r.onnx_runtime_folded),
        );
        md += &format!(
            "| {} | {}x{} | {:.1} | {bb:.3} | {bf:.3} | {ob:.3} | {of:.3} | {:.2} |\n",
            r.name,
            r.resolution,
            r.resolution,
            r.mmacs,
            bf / of
        );
    }
    md
}
