"""ONNX Runtime beside proxyless: checks an exported model and runs it.

    onnx_runtime.py forward MODEL.onnx INPUT.safetensors LOGITS.safetensors
        onnx.checker (full check, with shape inference), then the logits of tensor `x` of
        INPUT on ONNX Runtime's CPU provider, written as tensor `logits`.
    onnx_runtime.py latency MODEL.onnx THREADS RUNS
        Batch-1 latency on the CPU provider with THREADS intra-op threads: prints one JSON
        line {"median_ms", "mean_ms", "runs", "onnxruntime"} after 5 warm-up runs.
"""
import json
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file, save_file


def session(path, threads=None):
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def forward(model, inputs, logits):
    onnx.checker.check_model(onnx.load(model), full_check=True)
    x = load_file(inputs)["x"].astype(np.float32)
    (out,) = session(model).run(["logits"], {"input": x})
    save_file({"logits": np.ascontiguousarray(out)}, logits)


def latency(model, threads, runs):
    s = session(model, threads)
    shape = [1 if not isinstance(d, int) else d for d in s.get_inputs()[0].shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for _ in range(5):
        s.run(["logits"], {"input": x})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        s.run(["logits"], {"input": x})
        times.append((time.perf_counter() - start) * 1000.0)
    print(json.dumps({
        "median_ms": statistics.median(times),
        "mean_ms": statistics.fmean(times),
        "runs": runs,
        "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "forward":
        forward(*args)
    elif command == "latency":
        latency(args[0], int(args[1]), int(args[2]))
    else:
        sys.exit(f"unknown command {command!r}: forward or latency")
