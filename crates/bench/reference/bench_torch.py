"""The child network's training step in PyTorch, timed as `proxyless bench` times ours.

Same network (built from the net.config `proxyless bench --vs-pytorch` writes), same batch
shape, same step: forward, label-smoothed (0.1) cross-entropy, backward, Nesterov SGD with
momentum 0.9 and weight decay 4e-5; `threads` intra-op threads; on DEVICE (`cpu`, the default,
or `cuda`: then each step is timed to the GPU's end, and the peak is CUDA memory allocated;
`cuda` without a CUDA device runs on the CPU, and the JSON says so).
Prints one JSON object: the step times, their median and mean, the peak memory, and the
medians of the step's phases (forward with the loss, backward, optimiser update).

    python3 crates/bench/reference/bench_torch.py NET_CONFIG CHANNELS RESOLUTION BATCH WARMUP STEPS THREADS [DEVICE]
"""
import json
import resource
import statistics
import sys
import time

import torch
from torch import nn

from proxyless_torch import ProxylessNASNets


def time_steps(step, warmup, steps, device):
    """Runs `step` `warmup` times untimed, then `steps` (at least one) times, each timed to the
    device's end. Returns the times (ms), what each timed call returned, and the peak memory
    (MiB) of the timed calls: the process's resident memory on the CPU, the GPU memory PyTorch
    allocated on CUDA."""
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times, results = [], []
    for _ in range(max(steps, 1)):
        start = time.perf_counter()
        results.append(step())
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if cuda:
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    return times, results, peak


def main(net_config, channels, resolution, batch, warmup, steps, threads, device="cpu"):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if device == "cuda" and not torch.cuda.is_available():
        device = "cpu"
    device = torch.device(device)
    cuda = device.type == "cuda"
    with open(net_config) as f:
        config = json.load(f)
    net = ProxylessNASNets(config).train().to(device)
    classes = config["classifier"]["out_features"]
    optimizer = torch.optim.SGD(
        net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=4e-5
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    x = torch.randn(batch, channels, resolution, resolution).to(device)
    y = (torch.arange(batch) % classes).to(device)

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    def step():
        """One step; the seconds of its forward pass with the loss, backward pass and update."""
        optimizer.zero_grad(set_to_none=True)
        start = time.perf_counter()
        loss = loss_fn(net(x), y)
        sync()
        forward = time.perf_counter()
        loss.backward()
        sync()
        backward = time.perf_counter()
        optimizer.step()
        sync()
        return forward - start, backward - forward, time.perf_counter() - backward

    times, phases, peak = time_steps(step, warmup, steps, device)
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": threads,
                "device": device.type,
                "times_ms": times,
                "median_ms": statistics.median(times),
                "mean_ms": statistics.fmean(times),
                "peak_rss_mib": peak,
                "phases": {
                    name: statistics.median(p[i] for p in phases) * 1e3
                    for i, name in enumerate(["forward_ms", "backward_ms", "optimizer_ms"])
                },
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], *map(int, sys.argv[2:8]), *sys.argv[8:9])
