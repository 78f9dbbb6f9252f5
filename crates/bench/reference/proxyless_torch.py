"""An independent PyTorch implementation of ProxylessNASNets and of the CIFAR-10 PyramidTreeNet,
built from an official net.config.

Written from the paper's code conventions only (no code shared with the Rust implementation),
for the cross-framework tests in tests/pytorch_parity.rs:

    # logits of a net.config with the given weights (safetensors or a .pth state dict)
    python3 crates/bench/reference/proxyless_torch.py forward NET_CONFIG WEIGHTS INPUT OUTPUT
    # PyTorch-initialised weights (with random BatchNorm statistics) saved as the official
    # checkpoints are, {"state_dict": ...}, plus their logits on INPUT
    python3 crates/bench/reference/proxyless_torch.py init NET_CONFIG SEED INPUT WEIGHTS_OUT LOGITS_OUT

INPUT and the logits are safetensors files holding one tensor, "x" and "logits".
"""
import json
import sys
from collections import OrderedDict

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def conv_layer(in_ch, out_ch, kernel, stride, groups, act, bn):
    """The official ConvLayer in weight_bn_act order: conv (no bias), bn, relu6."""
    ops = OrderedDict()
    ops["conv"] = nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False)
    ops["bn"] = nn.BatchNorm2d(out_ch, momentum=bn["momentum"], eps=bn["eps"])
    if act:
        ops["act"] = nn.ReLU6(inplace=True)
    return nn.Sequential(ops)


class MBInvertedConvLayer(nn.Module):
    def __init__(self, c, bn):
        super().__init__()
        cin, cout, k, s = c["in_channels"], c["out_channels"], c["kernel_size"], c["stride"]
        expand = c["expand_ratio"]
        mid = c.get("mid_channels") or round(cin * expand)
        if expand == 1:
            self.inverted_bottleneck = None
            mid = cin
        else:
            self.inverted_bottleneck = conv_layer(cin, mid, 1, 1, 1, True, bn)
        self.depth_conv = conv_layer(mid, mid, k, s, mid, True, bn)
        self.point_linear = conv_layer(mid, cout, 1, 1, 1, False, bn)

    def forward(self, x):
        if self.inverted_bottleneck is not None:
            x = self.inverted_bottleneck(x)
        return self.point_linear(self.depth_conv(x))


class Block(nn.Module):
    """MobileInvertedResidualBlock: a ZeroLayer with a shortcut is the identity."""

    def __init__(self, config, bn):
        super().__init__()
        conv = config["mobile_inverted_conv"]
        self.is_zero = conv["name"] == "ZeroLayer"
        self.mobile_inverted_conv = None if self.is_zero else MBInvertedConvLayer(conv, bn)
        self.has_shortcut = config.get("shortcut") is not None

    def forward(self, x):
        if self.is_zero:
            return x
        out = self.mobile_inverted_conv(x)
        return out + x if self.has_shortcut else out


class Classifier(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dropout = nn.Dropout(c.get("dropout_rate") or 0.0)
        self.linear = nn.Linear(c["in_features"], c["out_features"], bias=c.get("bias", True))

    def forward(self, x):
        return self.linear(self.dropout(x))


class ProxylessNASNets(nn.Module):
    def __init__(self, config):
        super().__init__()
        bn = config.get("bn") or {"momentum": 0.1, "eps": 1e-3}
        fc, fm = config["first_conv"], config["feature_mix_layer"]
        self.first_conv = conv_layer(
            fc["in_channels"], fc["out_channels"], fc["kernel_size"], fc["stride"], 1, True, bn
        )
        self.blocks = nn.ModuleList([Block(b, bn) for b in config["blocks"]])
        self.feature_mix_layer = conv_layer(
            fm["in_channels"], fm["out_channels"], fm["kernel_size"], fm["stride"], 1, True, bn
        )
        self.classifier = Classifier(config["classifier"])

    def forward(self, x):
        x = self.first_conv(x)
        for block in self.blocks:
            x = block(x)
        x = self.feature_mix_layer(x)
        return self.classifier(x.mean(dim=(2, 3)))


# --- The CIFAR-10 PyramidTreeNet (tree-structured cells) ----------------------------------


def activation(name):
    return {None: None, "relu": nn.ReLU(), "relu6": nn.ReLU6(), "tanh": nn.Tanh(),
            "sigmoid": nn.Sigmoid()}[name]


def parts(total, n):
    """total cut into n nearly equal parts, the first ones larger."""
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def channel_shuffle(x, groups):
    b, c, h, w = x.shape
    return x.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class ZeroLayer(nn.Module):
    """Zeros of the input's channels, the side divided by the stride."""

    def __init__(self, c):
        super().__init__()
        self.stride = c["stride"]

    def forward(self, x):
        n, ch, h, w = x.shape
        return x.new_zeros(n, ch, h // self.stride, w // self.stride)


def tree_layer(c):
    return ZeroLayer(c) if c["name"] == "ZeroLayer" else TreeLayer(c)


class TreeLayer(nn.Module):
    """A ConvLayer, DepthConvLayer, PoolingLayer, IdentityLayer or LinearLayer: dropout and the
    weight op, BatchNorm and activation in the layer's ops order."""

    def __init__(self, c):
        super().__init__()
        kind = c["name"]
        self.kind = kind
        self.order = c["ops_order"].split("_")
        linear = kind == "LinearLayer"
        cin = c["in_features"] if linear else c["in_channels"]
        cout = c["out_features"] if linear else c["out_channels"]
        if c["use_bn"]:
            bn_first = self.order.index("bn") < self.order.index("weight")
            n = cin if bn_first else cout
            self.bn = nn.BatchNorm1d(n) if linear else nn.BatchNorm2d(n)
        else:
            self.bn = None
        self.act = activation(c["act_func"])
        p = c.get("dropout_rate") or 0
        self.drop = (nn.Dropout(p) if linear else nn.Dropout2d(p)) if p > 0 else None
        self.shuffle = 1
        if kind == "ConvLayer":
            k, d = c["kernel_size"], c["dilation"]
            self.conv = nn.Conv2d(cin, cout, k, c["stride"], k // 2 * d, d, c["groups"], c["bias"])
            self.shuffle = c["groups"] if c["has_shuffle"] else 1
        elif kind == "DepthConvLayer":
            k, d = c["kernel_size"], c["dilation"]
            self.depth_conv = nn.Conv2d(cin, cin, k, c["stride"], k // 2 * d, d, cin, False)
            self.point_conv = nn.Conv2d(cin, cout, 1, 1, 0, 1, c["groups"], c["bias"])
            self.shuffle = c["groups"] if c["has_shuffle"] else 1
        elif kind == "PoolingLayer":
            k, stride = c["kernel_size"], c["stride"]
            pad = k // 2 if stride == 1 else 0
            if c["pool_type"] == "max":
                self.pool = nn.MaxPool2d(k, stride, pad)
            else:
                self.pool = nn.AvgPool2d(k, stride, pad, count_include_pad=False)
        elif linear:
            self.linear = nn.Linear(cin, cout, c["bias"])
        self.stride = c.get("stride", 1) if kind != "IdentityLayer" else 1

    def weight(self, x):
        if self.kind == "ConvLayer":
            x = self.conv(x)
        elif self.kind == "DepthConvLayer":
            x = self.point_conv(self.depth_conv(x))
        elif self.kind == "PoolingLayer":
            return self.pool(x)
        elif self.kind == "LinearLayer":
            return self.linear(x)
        else:
            return x
        return channel_shuffle(x, self.shuffle) if self.shuffle > 1 else x

    def forward(self, x):
        for op in self.order:
            if op == "weight":
                x = self.weight(self.drop(x) if self.drop is not None else x)
            elif op == "bn" and self.bn is not None:
                x = self.bn(x)
            elif op == "act" and self.act is not None:
                x = self.act(x)
        return x


class TreeNode(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = len(c["edges"])
        self.split = c["split_type"]
        self.merge = c["merge_type"]
        self.in_dims = parts(c["in_channels"], n) if self.split == "split" else [c["in_channels"]] * n
        out_dims = parts(c["out_channels"], n) if self.merge == "concat" else [c["out_channels"]] * n
        self.out_dims = out_dims
        self.drop = float(c["path_drop_rate"])
        self.edges = nn.ModuleList([tree_layer(e) if e else None for e in c["edges"]])
        self.child_nodes = nn.ModuleList([TreeNode(k) if k else None for k in c["child_nodes"]])
        bns = [nn.BatchNorm2d(d) if c["has_branch_bn"] else None for d in out_dims]
        self.branch_bns = nn.ModuleList(bns)

    def branch(self, i, x):
        if self.edges[i] is not None:
            x = self.edges[i](x)
        skip = x
        if self.child_nodes[i] is not None:
            x = self.child_nodes[i](x)
        if self.branch_bns[i] is not None:
            x = self.branch_bns[i](x) + skip
        # Evaluation only: a branch dropped with probability p is scaled by 1 - p.
        return x * (1 - self.drop) if self.drop > 0 else x

    def forward(self, x):
        if self.split == "split":
            inputs = list(torch.split(x, self.in_dims, dim=1))
        else:
            inputs = [x] * len(self.edges)
        outs = [self.branch(i, xi) for i, xi in enumerate(inputs)]
        if self.merge == "concat":
            return torch.cat(outs, dim=1)
        return sum(outs[1:], outs[0])


class ResidualTreeBlock(nn.Module):
    def __init__(self, c, drop):
        super().__init__()
        self.in_bottle = TreeLayer(c["in_bottle"])
        self.out_bottle = TreeLayer(c["out_bottle"])
        self.shortcut = TreeLayer(c["shortcut"])
        self.cell = TreeNode(c["cell"])
        ob = c["out_bottle"]
        self.final_bn = nn.BatchNorm2d(ob["out_channels"]) if c["final_bn"] else None
        self.drop = drop

    def forward(self, x):
        short = self.shortcut(x)
        y = self.out_bottle(self.cell(self.in_bottle(x)))
        if self.final_bn is not None:
            y = self.final_bn(y)
        if self.drop > 0:
            y = y * (1 - self.drop)
        extra = y.shape[1] - short.shape[1]
        if extra > 0:
            b, _, h, w = short.shape
            short = torch.cat([short, short.new_zeros(b, extra, h, w)], dim=1)
        return short + y


class TransitionBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([TreeLayer(l) for l in c["layers"]])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def apply_node_settings(cell, settings):
    """The official builder: settings on the cell's first node; below it, without branch BNs."""
    first = cell["child_nodes"][0]
    if first is None or not settings:
        return
    first.update(settings)
    below = dict(settings, has_branch_bn=False)
    todo = list(first["child_nodes"])
    while todo:
        node = todo.pop()
        if node is not None:
            node.update(below)
            todo.extend(node["child_nodes"])


class PyramidTreeNet(nn.Module):
    def __init__(self, config):
        super().__init__()
        settings = config.get("tree_node_config") or {}
        rate = float(config.get("cell_drop_rate") or 0)
        linear = (config.get("cell_drop_scheme") or "linear") == "linear"
        total = sum(1 for b in config["blocks"] if b["name"] == "ResidualTreeBlock")
        blocks, l = [], 0
        for b in config["blocks"]:
            if b["name"] == "ResidualTreeBlock":
                l += 1
                apply_node_settings(b["cell"], settings)
                drop = 2 * l * rate / (total + 1) if linear else rate
                blocks.append(ResidualTreeBlock(b, drop))
            else:
                blocks.append(TransitionBlock(b))
        self.blocks = nn.ModuleList(blocks)
        self.classifier = TreeLayer(config["classifier"])

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.classifier(x.flatten(1))


def build(path):
    with open(path) as f:
        config = json.load(f)
    if config.get("name") == "PyramidTreeNet":
        return PyramidTreeNet(config).eval()
    return ProxylessNASNets(config).eval()


def read_weights(path):
    if path.endswith(".safetensors"):
        return load_file(path)
    state = torch.load(path, map_location="cpu")
    return state.get("state_dict", state)


def forward(net_config, weights, input_path, output):
    net = build(net_config)
    net.load_state_dict(read_weights(weights), strict=True)
    with torch.no_grad():
        logits = net(load_file(input_path)["x"])
    save_file({"logits": logits.contiguous()}, output)


def init(net_config, seed, input_path, weights_out, logits_out):
    torch.manual_seed(int(seed))
    net = build(net_config)
    # Trained-looking BatchNorms, so that evaluation mode does more than the identity.
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(n)
    torch.save({"state_dict": net.state_dict(), "dataset": "test"}, weights_out)
    with torch.no_grad():
        logits = net(load_file(input_path)["x"])
    save_file({"logits": logits.contiguous()}, logits_out)


if __name__ == "__main__":
    torch.set_num_threads(2)
    command, args = sys.argv[1], sys.argv[2:]
    {"forward": forward, "init": init}[command](*args)
