"""Independent parameter and MAC counts of a PyramidTreeNet config (the paper's CIFAR-10 net).

Produces the exact figures asserted in crates/space/src/tree.rs and crates/cli/tests/info.rs,
with plain Python arithmetic following the official classes (no code shared with the Rust
implementation): PyTorch's parameters() (a layer's BatchNorm on its input channels when `bn`
comes before `weight`; DepthConvLayer = depthwise k x k then pointwise 1x1; TreeNode branch
BatchNorms; ResidualTreeBlock's final BatchNorm) and the official get_flops (convolutions and
the classifier) at 32 x 32:

    python3 tests/reference/count_tree_net.py configs/nets/proxyless_cifar.json
"""
import json
import sys


def bn_first(layer):
    ops = layer["ops_order"].split("_")
    return "bn" in ops and ops.index("bn") < ops.index("weight")


def split_list(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def conv_side(side, kernel, stride, dilation):
    pad = kernel // 2 * dilation
    return (side + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


class Count:
    def __init__(self):
        self.params = 0
        self.macs = 0

    def layer(self, layer, side):
        name = layer["name"]
        if name == "LinearLayer":
            cin, cout = layer["in_features"], layer["out_features"]
            self.params += cin * cout + (cout if layer["bias"] else 0)
            if layer["use_bn"]:
                self.params += 2 * (cin if bn_first(layer) else cout)
            self.macs += cin * cout
            return 1
        cin, cout = layer["in_channels"], layer["out_channels"]
        if layer["use_bn"]:
            self.params += 2 * (cin if bn_first(layer) else cout)
        if name == "ConvLayer":
            k, g = layer["kernel_size"], layer["groups"]
            side = conv_side(side, k, layer["stride"], layer["dilation"])
            weights = cout * cin // g * k * k
            self.params += weights + (cout if layer["bias"] else 0)
            self.macs += weights * side * side
        elif name == "DepthConvLayer":
            k, g = layer["kernel_size"], layer["groups"]
            side = conv_side(side, k, layer["stride"], layer["dilation"])
            weights = cin * k * k + cout * cin // g
            self.params += weights + (cout if layer["bias"] else 0)
            self.macs += weights * side * side
        elif name == "PoolingLayer":
            k, s = layer["kernel_size"], layer["stride"]
            pad = k // 2 if s == 1 else 0
            side = (side + 2 * pad - k) // s + 1
        return side

    def node(self, node, side):
        out = side
        n = len(node["edges"])
        outs = ([node["out_channels"]] * n if node["merge_type"] == "add"
                else split_list(node["out_channels"], n))
        for i, (edge, child) in enumerate(zip(node["edges"], node["child_nodes"])):
            s = self.layer(edge, side) if edge else side
            if child:
                s = self.node(child, s)
            if node["has_branch_bn"]:
                self.params += 2 * outs[i]
            out = s
        return out


def count(config, side=32):
    c = Count()
    for block in config["blocks"]:
        if block["name"] == "TransitionBlock":
            for layer in block["layers"]:
                side = c.layer(layer, side)
        else:
            c.layer(block["shortcut"], side)
            s = c.layer(block["in_bottle"], side)
            s = c.node(block["cell"], s)
            side = c.layer(block["out_bottle"], s)
            if block["final_bn"]:
                c.params += 2 * block["out_bottle"]["out_channels"]
    c.layer(config["classifier"], side)
    return c.params, c.macs


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path) as f:
            params, macs = count(json.load(f))
        print(f"{path}: params {params}, macs {macs}")
