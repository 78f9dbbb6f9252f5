"""Independent parameter and MAC counts of official net.config files.

Produces the exact figures asserted in crates/cli/tests/info.rs, with plain Python arithmetic
(no code shared with the Rust implementation):

    python3 tests/reference/count_net_config.py configs/nets/proxyless_*.json
"""
import json
import sys


def out_size(size, kernel, stride):
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def count(config, size=224):
    params = macs = 0
    fc = config["first_conv"]
    size = out_size(size, fc["kernel_size"], fc["stride"])
    k2 = fc["kernel_size"] ** 2
    params += fc["out_channels"] * fc["in_channels"] * k2 + 2 * fc["out_channels"]
    macs += fc["out_channels"] * fc["in_channels"] * k2 * size * size
    for block in config["blocks"]:
        conv = block["mobile_inverted_conv"]
        if conv["name"] == "ZeroLayer":
            continue
        cin, cout, k = conv["in_channels"], conv["out_channels"], conv["kernel_size"]
        expand = conv["expand_ratio"]
        mid = conv.get("mid_channels") or round(cin * expand)
        if expand != 1:
            params += cin * mid + 2 * mid
            macs += cin * mid * size * size
        size = out_size(size, k, conv["stride"])
        params += mid * k * k + 2 * mid + mid * cout + 2 * cout
        macs += (mid * k * k + mid * cout) * size * size
    mix = config["feature_mix_layer"]
    params += mix["in_channels"] * mix["out_channels"] + 2 * mix["out_channels"]
    macs += mix["in_channels"] * mix["out_channels"] * size * size
    linear = config["classifier"]
    params += linear["in_features"] * linear["out_features"] + linear["out_features"]
    macs += linear["in_features"] * linear["out_features"]
    return params, macs


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path) as f:
            params, macs = count(json.load(f))
        print(f"{path}: params {params}, macs {macs}")
