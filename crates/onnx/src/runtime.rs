//! ONNX Runtime (Python's `onnxruntime`) on an exported model, through the script embedded in
//! this crate (`reference/onnx_runtime.py`): the structural check and logits for tests, and
//! batch-1 latency beside our own inference.

use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};

/// The script, embedded so that an installed binary carries it.
pub const SCRIPT: &str = include_str!("../reference/onnx_runtime.py");

/// The Python to run (`PROXYLESS_PYTHON`, default `python3`), if it imports `onnx`,
/// `onnxruntime`, `numpy` and `safetensors`.
pub fn python() -> Option<String> {
    let python = std::env::var("PROXYLESS_PYTHON").unwrap_or_else(|_| "python3".into());
    Command::new(&python)
        .args(["-c", "import onnx, onnxruntime, numpy, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(python)
}

/// Batch-1 latency of a model in ONNX Runtime's CPU provider.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeLatency {
    /// Median over the timed runs, milliseconds.
    pub median_ms: f64,
    /// Mean over the timed runs, milliseconds.
    pub mean_ms: f64,
    /// The `onnxruntime` version.
    pub version: String,
}

/// Checks `model` with `onnx.checker` and writes ONNX Runtime's logits for tensor `x` of the
/// safetensors file `input` to `logits` (tensor `logits`).
pub fn forward(python: &str, model: &Path, input: &Path, logits: &Path) -> Result<()> {
    run(
        python,
        &[
            "forward".as_ref(),
            model.as_os_str(),
            input.as_os_str(),
            logits.as_os_str(),
        ],
    )?;
    Ok(())
}

/// Times `model` at batch 1 on the CPU with `threads` intra-op threads.
pub fn latency(python: &str, model: &Path, threads: usize, runs: usize) -> Result<RuntimeLatency> {
    let (t, r) = (threads.to_string(), runs.to_string());
    let out = run(
        python,
        &[
            "latency".as_ref(),
            model.as_os_str(),
            t.as_ref(),
            r.as_ref(),
        ],
    )?;
    let v: serde_json::Value = serde_json::from_str(out.trim())
        .map_err(|e| Error::Runtime(format!("unreadable latency line {out:?}: {e}")))?;
    let number = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| Error::Runtime(format!("no `{k}` in the latency line {out:?}")))
    };
    Ok(RuntimeLatency {
        median_ms: number("median_ms")?,
        mean_ms: number("mean_ms")?,
        version: v["onnxruntime"].as_str().unwrap_or("?").to_string(),
    })
}

fn run(python: &str, args: &[&std::ffi::OsStr]) -> Result<String> {
    let dir = tempfile::tempdir().map_err(|e| Error::Runtime(e.to_string()))?;
    let script = dir.path().join("onnx_runtime.py");
    std::fs::write(&script, SCRIPT).map_err(|e| Error::Runtime(e.to_string()))?;
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .map_err(|e| Error::Runtime(format!("cannot run {python}: {e}")))?;
    if !out.status.success() {
        return Err(Error::Runtime(format!(
            "onnx_runtime.py {} failed:\n{}",
            args.first().and_then(|a| a.to_str()).unwrap_or(""),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
