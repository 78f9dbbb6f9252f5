"""The layers of `proxyless bench --ops`, timed in PyTorch as ours are timed.

Each layer is a convolution (no bias), BatchNorm in training mode and, if asked, ReLU6; the
input requires a gradient. "forward" times the forward pass; "forward_backward" the forward
pass, a sum and the backward pass; "conv_forward_backward" the same for the convolution
alone. Reads the layers as JSON on standard input
(name, in_channels, out_channels, kernel, stride, groups, activation, side) and prints one
JSON object per layer, in order, as a list. DEVICE is `cpu` (the default) or `cuda`, where
each run is timed to the GPU's end (`cuda` without a CUDA device runs on the CPU, and the JSON
says so):

    python3 crates/bench/reference/ops_torch.py BATCH WARMUP RUNS THREADS [DEVICE] < layers.json
"""
import json
import statistics
import sys
import time

import torch
from torch import nn


def layer(spec):
    k = spec["kernel"]
    ops = [
        nn.Conv2d(
            spec["in_channels"],
            spec["out_channels"],
            k,
            spec["stride"],
            k // 2,
            groups=spec["groups"],
            bias=False,
        ),
        nn.BatchNorm2d(spec["out_channels"], eps=1e-3),
    ]
    if spec["activation"]:
        ops.append(nn.ReLU6())
    return nn.Sequential(*ops).train()


def timed(run, warmup, runs, device):
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        run()
    sync()
    times = []
    for _ in range(max(runs, 1)):
        start = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main(batch, warmup, runs, threads, device="cpu"):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if device == "cuda" and not torch.cuda.is_available():
        device = "cpu"
    device = torch.device(device)
    results = []
    for spec in json.load(sys.stdin):
        module = layer(spec).to(device)
        shape = (batch, spec["in_channels"], spec["side"], spec["side"])
        x = torch.randn(*shape, device=device, requires_grad=True)

        def forward():
            module(x)

        def forward_backward():
            module(x).sum().backward()

        def conv_forward_backward():
            module[0](x).sum().backward()

        results.append(
            {
                "name": spec["name"],
                "forward_ms": timed(forward, warmup, runs, device),
                "forward_backward_ms": timed(forward_backward, warmup, runs, device),
                "conv_forward_backward_ms": timed(conv_forward_backward, warmup, runs, device),
            }
        )
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": threads,
                "device": device.type,
                "layers": results,
            }
        )
    )


if __name__ == "__main__":
    main(*map(int, sys.argv[1:5]), *sys.argv[5:6])
