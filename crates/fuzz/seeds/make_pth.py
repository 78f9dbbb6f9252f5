"""Writes tiny.pth, the fuzzer's seed for PyTorch checkpoints: a state dict of a convolution
weight and a BatchNorm's statistics, in the zip format torch.save writes (run once; the file is
committed)."""
import collections

import torch

state = collections.OrderedDict(
    [
        ("first_conv.conv.weight", torch.arange(8 * 1 * 3 * 3, dtype=torch.float32).reshape(8, 1, 3, 3)),
        ("first_conv.bn.running_mean", torch.zeros(8)),
        ("first_conv.bn.num_batches_tracked", torch.tensor(3)),
    ]
)
torch.save({"state_dict": state}, "tiny.pth")
