"""An independent PyTorch implementation of ProxylessNASNets, built from an official net.config.

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


def build(path):
    with open(path) as f:
        return ProxylessNASNets(json.load(f)).eval()


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
        if isinstance(m, nn.BatchNorm2d):
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
