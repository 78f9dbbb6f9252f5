"""The supernet's search steps in PyTorch, timed as `proxyless bench` times ours.

An independent implementation of the paper's binarized-path supernet (MixedEdge with
architecture parameters alpha and binary gates, written from the paper and its official code's
conventions, sharing no code with the Rust implementation), built from a JSON description that
`proxyless bench --vs-pytorch` writes:

    {"net": NET_CONFIG,            # the child network (the weight step's path), official format
     "candidates": [[BLOCK, ...]], # per choice block, every candidate as a net.config block
     "active": [INDEX, ...]}       # per choice block, the child's candidate

The first block of NET_CONFIG is the fixed one; block b + 1 is choice block b. Cases:

- `supernet`: the weight step. Sample one path per block from softmax(alpha) (MODE None), run
  only it, label-smoothed (0.1) cross-entropy, backward, Nesterov SGD (momentum 0.9, weight decay
  4e-5) over the weights that got gradients. As in `proxyless bench`, the path is the child's.
- `arch-two`, `arch-full`, `arch-full-v2`: the architecture step in that mode. Binarize (two:
  two paths drawn without replacement, one of them active by their two-way softmax; full and
  full_v2: one path from softmax(alpha)), forward with the gates (full/two: the weighted sum over
  the sampled paths, the inactive ones detached; full_v2: only the active path runs, and the
  backward recomputes every candidate without gradients for dL/dg_k = <o_k(x), dL/dy>), plain
  cross-entropy, backward, dL/dalpha_i += sum_j dL/dg_j p_j (delta_ij - p_i) (over the two
  sampled paths with their two-way softmax in mode two; nothing for a block whose active path
  is Zero), Adam (lr 6e-3, betas (0, 0.999)) over alpha, and in mode two the rescale that keeps
  the unsampled paths' probabilities.

Where the official code loops over index pairs with one tensor operation each and reads every
sample to the host on its own, this does the same arithmetic as vector operations and draws all
samples from one host copy of the probabilities: the stronger peer.

    python3 supernet_torch.py SUPERNET_JSON CASE CHANNELS RESOLUTION BATCH WARMUP STEPS THREADS [DEVICE]
    python3 supernet_torch.py SUPERNET_JSON check    # self-checks of the gradients, prints "ok"

Prints one JSON object: the step times, their median and mean, and the peak memory (the
process's resident memory on the CPU, PyTorch's allocated GPU memory on CUDA).
"""
import json
import math
import random
import statistics
import sys

import torch
import torch.nn.functional as F
from torch import nn

from bench_torch import time_steps
from proxyless_torch import MBInvertedConvLayer, ProxylessNASNets, ZeroLayer

# How a MixedEdge runs: None (one path, weight steps), "two", "full" or "full_v2".
MODE = None


class ArchGradient(torch.autograd.Function):
    """full_v2: the forward runs the active path on a detached input and keeps its graph; the
    backward returns the input's gradient through that path and every gate's gradient, each
    candidate recomputed without gradients (the active one's output reused)."""

    @staticmethod
    def forward(ctx, x, gates, edge):
        ctx.edge = edge
        detached = x.detach().requires_grad_(x.requires_grad)
        with torch.enable_grad():
            out = edge.ops[edge.active](detached)
        ctx.save_for_backward(detached, out)
        return out.detach()

    @staticmethod
    def backward(ctx, grad_out):
        detached, out = ctx.saved_tensors
        edge = ctx.edge
        (grad_x,) = torch.autograd.grad(out, detached, grad_out, only_inputs=True)
        grads = []
        with torch.no_grad():
            for k, op in enumerate(edge.ops):
                o = out if k == edge.active else op(detached)
                grads.append((o * grad_out).sum())
        return grad_x, torch.stack(grads), None


class MixedEdge(nn.Module):
    def __init__(self, ops):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        n = len(ops)
        self.alpha = nn.Parameter(torch.randn(n) * 1e-3)
        self.gates = nn.Parameter(torch.zeros(n))
        self.active = 0
        self.involved = []  # the sampled paths, active first

    def is_zero(self):
        return isinstance(self.ops[self.active], ZeroLayer)

    def binarize(self, alpha, probs, rng):
        """Draws the paths from `probs` (this edge's softmax(`alpha`), both on the host)."""
        n = len(self.ops)
        with torch.no_grad():
            self.gates.zero_()
        if MODE == "two":
            first = rng.choices(range(n), probs)[0]
            rest = [i for i in range(n) if i != first]
            second = rng.choices(rest, [probs[i] for i in rest])[0]
            pair = [first, second]
            p_first = 1.0 / (1.0 + math.exp(alpha[second] - alpha[first]))
            active = 0 if rng.random() < p_first else 1
            self.active = pair[active]
            self.involved = [pair[active], pair[1 - active]]
        else:
            self.active = rng.choices(range(n), probs)[0]
            self.involved = [self.active] + [i for i in range(n) if i != self.active]
        with torch.no_grad():
            self.gates[self.active] = 1.0

    def forward(self, x):
        if MODE is None:
            return self.ops[self.active](x)
        if MODE == "full_v2":
            return ArchGradient.apply(x, self.gates, self)
        out = self.gates[self.active] * self.ops[self.active](x)
        for i in self.involved[1:]:
            out = out + self.gates[i] * self.ops[i](x).detach()
        return out

    def alpha_grad(self):
        """Adds the BinaryConnect gradient of alpha (from the gates') to alpha's gradient."""
        if self.is_zero() or self.gates.grad is None:
            self.alpha.grad = None
            return
        g = self.gates.grad
        if MODE == "two":
            idx = torch.tensor(self.involved, device=g.device)
            p = F.softmax(self.alpha.detach()[idx], dim=0)
            gp = g[idx] * p
            grad = torch.zeros_like(self.alpha)
            grad[idx] = gp - p * gp.sum()
        else:
            p = F.softmax(self.alpha.detach(), dim=0)
            gp = g * p
            grad = gp - p * gp.sum()
        self.alpha.grad = grad if self.alpha.grad is None else self.alpha.grad + grad


class SearchBlock(nn.Module):
    """MobileInvertedResidualBlock over a MixedEdge: the identity when the active path is Zero."""

    def __init__(self, edge, shortcut):
        super().__init__()
        self.edge = edge
        self.shortcut = shortcut

    def forward(self, x):
        if self.edge.is_zero():
            return x
        out = self.edge(x)
        return out + x if self.shortcut else out


def candidate(block, bn):
    conv = block["mobile_inverted_conv"]
    if conv["name"] == "ZeroLayer":
        return ZeroLayer(conv)
    return MBInvertedConvLayer(conv, bn)


class Supernet(nn.Module):
    def __init__(self, spec):
        super().__init__()
        net = spec["net"]
        bn = net.get("bn") or {"momentum": 0.1, "eps": 1e-3}
        fixed = ProxylessNASNets(net)
        self.first_conv = fixed.first_conv
        self.first_block = fixed.blocks[0]
        self.edges = nn.ModuleList()
        blocks = []
        for options in spec["candidates"]:
            edge = MixedEdge([candidate(b, bn) for b in options])
            self.edges.append(edge)
            shortcut = any(b.get("shortcut") is not None for b in options)
            blocks.append(SearchBlock(edge, shortcut))
        self.blocks = nn.ModuleList(blocks)
        self.feature_mix_layer = fixed.feature_mix_layer
        self.classifier = fixed.classifier

    def weights(self):
        return [p for n, p in self.named_parameters() if not n.endswith(("alpha", "gates"))]

    def alphas(self):
        return [e.alpha for e in self.edges]

    def binarize(self, rng, active=None):
        """Samples every edge's paths: all probabilities read to the host in one copy."""
        probs = torch.cat([F.softmax(e.alpha.detach(), dim=0) for e in self.edges]).cpu()
        alphas = torch.cat([e.alpha.detach() for e in self.edges]).cpu()
        start = 0
        for b, e in enumerate(self.edges):
            n = len(e.ops)
            e.binarize(alphas[start:start + n].tolist(), probs[start:start + n].tolist(), rng)
            if active is not None:
                e.active = active[b]
                with torch.no_grad():
                    e.gates.zero_()
                    e.gates[e.active] = 1.0
            start += n

    def forward(self, x):
        x = self.first_block(self.first_conv(x))
        for block in self.blocks:
            x = block(x)
        x = self.feature_mix_layer(x)
        return self.classifier(x.mean(dim=(2, 3)))


def rescale(edges, before):
    """Mode two: shifts the pair's new alphas so that their exp-sum is what it was."""
    with torch.no_grad():
        for e, old in zip(edges, before):
            if e.alpha.grad is None:
                continue
            idx = torch.tensor(e.involved, device=e.alpha.device)
            offset = torch.logsumexp(e.alpha[idx], 0) - torch.logsumexp(old[idx], 0)
            e.alpha[idx] -= offset


def check(spec_path):
    """Self-checks on the description at `spec_path` (in double precision, on the CPU): modes
    full and full_v2 give the same gate gradients on the same paths, weights and batch; the
    vectorised alpha gradient equals the official double loop over index pairs; in mode two
    the rescale leaves the unsampled paths' probabilities as they were. Prints "ok"."""
    global MODE
    torch.manual_seed(1)
    with open(spec_path) as f:
        spec = json.load(f)
    net = Supernet(spec).double().train()
    classes = spec["net"]["classifier"]["out_features"]
    channels = spec["net"]["first_conv"]["in_channels"]
    x = torch.randn(4, channels, 16, 16, dtype=torch.float64)
    y = torch.arange(4) % classes
    # Alphas away from uniform, so that the formulas see unequal probabilities.
    with torch.no_grad():
        for e in net.edges:
            e.alpha.copy_(torch.randn(len(e.ops), dtype=torch.float64))
    gates = {}
    for mode in ["full", "full_v2"]:
        MODE = mode
        net.binarize(random.Random(3))
        net.zero_grad(set_to_none=True)
        # BatchNorm's running statistics change in training mode: the same statistics each run.
        state = {k: v.clone() for k, v in net.state_dict().items()}
        F.cross_entropy(net(x), y).backward()
        net.load_state_dict(state)
        gates[mode] = [None if e.gates.grad is None else e.gates.grad.clone() for e in net.edges]
    for b, (a, c) in enumerate(zip(gates["full"], gates["full_v2"])):
        assert (a is None) == (c is None), f"block {b}: a gate gradient in one mode only"
        if a is not None:
            assert torch.allclose(a, c, rtol=1e-9, atol=1e-12), f"block {b}: {a} vs {c}"
    checked = 0
    for e in net.edges:
        if e.is_zero():
            continue
        e.alpha.grad = None
        e.alpha_grad()
        p = F.softmax(e.alpha.detach(), dim=0)
        g = e.gates.grad
        loop = torch.zeros_like(p)
        for i in range(len(p)):
            for j in range(len(p)):
                loop[i] += g[j] * p[j] * ((1.0 if i == j else 0.0) - p[i])
        assert torch.allclose(e.alpha.grad, loop, rtol=1e-9, atol=1e-15), (e.alpha.grad, loop)
        checked += 1
    assert checked > 0, "every sampled path was Zero"
    MODE = "two"
    net.binarize(random.Random(5))
    before = [e.alpha.detach().clone() for e in net.edges]
    for e in net.edges:
        e.alpha.grad = torch.zeros_like(e.alpha)
        e.alpha.grad[e.involved] = torch.tensor([0.5, -0.25], dtype=torch.float64)
    with torch.no_grad():
        for e in net.edges:
            e.alpha -= e.alpha.grad
    rescale(net.edges, before)
    for e, old in zip(net.edges, before):
        rest = [i for i in range(len(e.ops)) if i not in e.involved]
        p_new = F.softmax(e.alpha.detach(), dim=0)[rest]
        p_old = F.softmax(old, dim=0)[rest]
        assert torch.allclose(p_new, p_old, rtol=1e-12), (p_new, p_old)
    print("ok")


def main(spec_path, case, channels, resolution, batch, warmup, steps, threads, device="cpu"):
    global MODE
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    if device == "cuda" and not torch.cuda.is_available():
        device = "cpu"
    device = torch.device(device)
    with open(spec_path) as f:
        spec = json.load(f)
    net = Supernet(spec).train().to(device)
    classes = spec["net"]["classifier"]["out_features"]
    x = torch.randn(batch, channels, resolution, resolution).to(device)
    y = (torch.arange(batch) % classes).to(device)
    weights = torch.optim.SGD(
        net.weights(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=4e-5
    )
    alphas = torch.optim.Adam(net.alphas(), lr=6e-3, betas=(0.0, 0.999), eps=1e-8)
    smoothed = nn.CrossEntropyLoss(label_smoothing=0.1)
    mode = {"supernet": None, "arch-two": "two", "arch-full": "full", "arch-full-v2": "full_v2"}
    if case not in mode:
        sys.exit(f"unknown case {case!r} (one of {', '.join(mode)})")

    def weight_step():
        global MODE
        MODE = None
        weights.zero_grad(set_to_none=True)
        net.binarize(rng, spec["active"])
        smoothed(net(x), y).backward()
        weights.step()

    def arch_step():
        global MODE
        MODE = mode[case]
        net.binarize(rng)
        loss = F.cross_entropy(net(x), y)
        net.zero_grad(set_to_none=True)
        loss.backward()
        for e in net.edges:
            e.alpha_grad()
        before = [e.alpha.detach().clone() for e in net.edges] if MODE == "two" else None
        alphas.step()
        if MODE == "two":
            rescale(net.edges, before)
        MODE = None

    step = weight_step if case == "supernet" else arch_step
    times, _, peak = time_steps(step, warmup, steps, device)
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": threads,
                "device": device.type,
                "case": case,
                "times_ms": times,
                "median_ms": statistics.median(times),
                "mean_ms": statistics.fmean(times),
                "peak_rss_mib": peak,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[2:3] == ["check"]:
        check(sys.argv[1])
        sys.exit(0)
    main(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:9]), *sys.argv[9:10])
