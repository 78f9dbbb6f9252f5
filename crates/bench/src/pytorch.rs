//! The PyTorch peer: the same child network's training step and the same layers timed by
//! PyTorch on this machine, from reference scripts embedded in this crate (`reference/`), so
//! that every speed claim is a ratio measured in one run.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::layers::{LayerMs, LayerShape};
use crate::steps::{BenchSettings, PytorchStep};

/// An independent PyTorch implementation of ProxylessNAS networks built from a `net.config`
/// (the official `ProxylessNASNets` layout), which the other scripts import.
pub const NET_SCRIPT: &str = include_str!("../reference/proxyless_torch.py");
/// Times a network's training step (`bench_torch.py`).
const STEP_SCRIPT: &str = include_str!("../reference/bench_torch.py");
/// Times the supernet's weight and architecture steps (`supernet_torch.py`).
const SUPERNET_SCRIPT: &str = include_str!("../reference/supernet_torch.py");
/// Times single layers (`ops_torch.py`).
const LAYERS_SCRIPT: &str = include_str!("../reference/ops_torch.py");

/// Times the training step of the network in `net_config` (a file) in PyTorch with `python`:
/// input `channels` × `resolution`², the batch, warm-up and steps of `settings`, on CUDA when
/// `cuda`.
pub fn pytorch_step(
    python: &str,
    net_config: &Path,
    channels: usize,
    resolution: usize,
    settings: &BenchSettings,
    cuda: bool,
) -> Result<PytorchStep> {
    let script = ("bench_torch.py", STEP_SCRIPT);
    let leading = [net_config.as_os_str()];
    run_step(
        python,
        script,
        &leading,
        [channels, resolution],
        settings,
        cuda,
    )
}

/// Times one supernet step in PyTorch with `python`: `case` is the [`BenchCase`] key
/// (`supernet`, `arch-two`, `arch-full`, `arch-full-v2`) of the supernet described by the
/// JSON file `supernet` ([`supernet_spec_json`](crate::steps::supernet_spec_json)); input,
/// batch, warm-up, steps and device as [`pytorch_step`].
///
/// [`BenchCase`]: crate::BenchCase
pub fn pytorch_supernet_step(
    python: &str,
    supernet: &Path,
    case: &str,
    channels: usize,
    resolution: usize,
    settings: &BenchSettings,
    cuda: bool,
) -> Result<PytorchStep> {
    let script = ("supernet_torch.py", SUPERNET_SCRIPT);
    let leading = [supernet.as_os_str(), case.as_ref()];
    run_step(
        python,
        script,
        &leading,
        [channels, resolution],
        settings,
        cuda,
    )
}

/// Runs a step-timing `script` (name, text; beside the network script and `bench_torch.py`,
/// whose `time_steps` the others import) with its `leading` arguments, then the input's
/// channels and side, the batch, warm-up and steps of `settings`, the threads and the device,
/// and reads its measurement.
fn run_step(
    python: &str,
    (name, text): (&str, &str),
    leading: &[&std::ffi::OsStr],
    [channels, resolution]: [usize; 2],
    settings: &BenchSettings,
    cuda: bool,
) -> Result<PytorchStep> {
    let scripts = scripts_dir(&[
        ("proxyless_torch.py", NET_SCRIPT),
        ("bench_torch.py", STEP_SCRIPT),
        (name, text),
    ])?;
    let mut command = Command::new(python);
    command
        .arg(scripts.path().join(name))
        .args(leading)
        .args(
            [
                channels,
                resolution,
                settings.batch,
                settings.warmup,
                settings.steps,
                proxyless_profiler::cpu_threads(),
            ]
            .map(|v| v.to_string()),
        )
        .arg(if cuda { "cuda" } else { "cpu" });
    run_json(python, name, command, None)
}

/// Times `layers` in PyTorch with `python` (the batch and warm-up of `settings`, `runs` timed
/// runs each; on CUDA when `cuda` and PyTorch sees a GPU): PyTorch's version with the device it
/// ran on, and per layer the medians in [`LayerMs`] order.
pub fn pytorch_layers(
    python: &str,
    layers: &[LayerShape],
    settings: &BenchSettings,
    runs: usize,
    cuda: bool,
) -> Result<(String, Vec<LayerMs>)> {
    let scripts = scripts_dir(&[("ops_torch.py", LAYERS_SCRIPT)])?;
    let input = serde_json::Value::Array(
        layers
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name, "in_channels": l.in_channels,
                    "out_channels": l.out_channels, "kernel": l.kernel, "stride": l.stride,
                    "groups": l.groups, "activation": l.activation, "side": l.side,
                })
            })
            .collect(),
    );
    let mut command = Command::new(python);
    command.arg(scripts.path().join("ops_torch.py")).args(
        [
            settings.batch,
            settings.warmup,
            runs,
            proxyless_profiler::cpu_threads(),
        ]
        .map(|v| v.to_string()),
    );
    command.arg(if cuda { "cuda" } else { "cpu" });
    let value: serde_json::Value =
        run_json(python, "ops_torch.py", command, Some(input.to_string()))?;
    let bad = |message: &str| Error::reference("ops_torch.py", message);
    let times = value["layers"]
        .as_array()
        .ok_or_else(|| bad("no layers in its output"))?
        .iter()
        .map(|l| {
            [
                "forward_ms",
                "forward_backward_ms",
                "conv_forward_backward_ms",
            ]
            .map(|k| l[k].as_f64().unwrap_or(f64::NAN))
        })
        .collect::<Vec<_>>();
    if times.len() != layers.len() {
        return Err(bad(&format!(
            "timed {} layers, not {}",
            times.len(),
            layers.len()
        )));
    }
    let version = format!(
        "{} ({})",
        value["torch"].as_str().unwrap_or("?"),
        value["device"].as_str().unwrap_or("cpu")
    );
    Ok((version, times))
}

/// A temporary directory holding `scripts` (name, text).
fn scripts_dir(scripts: &[(&str, &str)]) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir().map_err(|e| Error::reference("scripts", e.to_string()))?;
    for (name, text) in scripts {
        std::fs::write(dir.path().join(name), text)
            .map_err(|e| Error::reference(name, e.to_string()))?;
    }
    Ok(dir)
}

/// Runs `command` (the script `script` under `python`), feeding `input` to its standard input,
/// and parses what it prints as JSON.
fn run_json<T: DeserializeOwned>(
    python: &str,
    script: &str,
    mut command: Command,
    input: Option<String>,
) -> Result<T> {
    let failed = |message: String| Error::reference(script, message);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run {python}: {e}")))?;
    {
        let mut stdin = child.stdin.take().expect("standard input is piped");
        if let Some(text) = input {
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| failed(format!("cannot write its input: {e}")))?;
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(format!("{python} did not finish: {e}")))?;
    if !output.status.success() {
        return Err(failed(format!(
            "failed (needs `{python} -m pip install torch safetensors`): {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        failed(format!(
            "printed no measurement ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::supernet_spec_json;
    use proxyless_nn::Precision;

    /// The Python with torch, or `None` (a failure with `PROXYLESS_REQUIRE_TORCH` set, as in
    /// CI).
    fn python() -> Option<String> {
        let python = std::env::var("PROXYLESS_PYTHON").unwrap_or_else(|_| "python3".into());
        let ok = Command::new(&python)
            .args(["-c", "import torch"])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok || std::env::var_os("PROXYLESS_REQUIRE_TORCH").is_none(),
            "PROXYLESS_REQUIRE_TORCH is set but {python} cannot import torch"
        );
        ok.then_some(python)
    }

    /// The PyTorch supernet of the bench checks its own gradients (full and full_v2 gate
    /// gradients equal, the vectorised alpha gradient equal to the official double loop, mode
    /// two's rescale) and times every supernet case on the description the bench writes.
    #[test]
    fn the_pytorch_supernet_checks_its_gradients_and_times_every_case() {
        let Some(python) = python() else {
            eprintln!("skipped: no python3 with torch");
            return;
        };
        let space = proxyless_space::presets::load("fmnist").expect("the fmnist space");
        let settings = BenchSettings {
            batch: 4,
            warmup: 1,
            steps: 2,
            rounds: 1,
            seed: 0,
            precision: Precision::F32,
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let spec = dir.path().join("supernet.json");
        std::fs::write(&spec, supernet_spec_json(&space, &settings)).expect("written");
        let scripts = scripts_dir(&[
            ("proxyless_torch.py", NET_SCRIPT),
            ("bench_torch.py", STEP_SCRIPT),
            ("supernet_torch.py", SUPERNET_SCRIPT),
        ])
        .expect("scripts written");
        let output = Command::new(&python)
            .arg(scripts.path().join("supernet_torch.py"))
            .arg(&spec)
            .arg("check")
            .output()
            .expect("python runs");
        assert!(
            output.status.success() && output.stdout.starts_with(b"ok"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for case in ["supernet", "arch-two", "arch-full", "arch-full-v2"] {
            let step = pytorch_supernet_step(&python, &spec, case, 1, 28, &settings, false)
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(step.times_ms.len(), 2, "{case}");
            assert!(step.median_ms > 0.0, "{case}: {step:?}");
        }
    }
}
