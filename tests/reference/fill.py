"""Weights keyed by name: the rule the reference data in torchvision/ were measured with.

NOTE: `fill(module)` gives every floating-point tensor of `module.state_dict()` a value that
depends only on its key and shape (a torch Generator seeded with the CRC-32 of the key), so
two modules whose keys and shapes agree get the same weights, and equal outputs on
`reference_input` mean the same function. No checkpoint and no torchvision are needed.
The values: running_var and the other 1-d tensors (norm weights, scales) uniform in
[0.75, 1.25); running_mean and biases normal with sd 0.1; conv and linear weights normal
with variance 2 / fan-in (fan-in = one output channel's numel). Integer tensors
(num_batches_tracked) are left alone. This restates ../shared/reference/fill.py; the
values must stay bit-identical to it, or the reference outputs no longer apply.
"""
from __future__ import annotations

import zlib

import torch

UNIT_SCALES = "running_var"
SMALL_OFFSETS = ("running_mean", "bias")


def _value(key: str, shape: torch.Size) -> torch.Tensor:
    gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    leaf = key.rsplit(".", 1)[-1]
    if leaf == UNIT_SCALES:
        return torch.rand(shape, generator=gen) * 0.5 + 0.75
    if leaf in SMALL_OFFSETS:
        return torch.randn(shape, generator=gen) * 0.1
    if len(shape) <= 1:
        return torch.rand(shape, generator=gen) * 0.5 + 0.75
    fan_in = shape[1:].numel()
    return torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5


@torch.no_grad()
def fill_tensor(key: str, tensor: torch.Tensor) -> None:
    """Overwrite a floating-point tensor by the value its key and shape determine."""
    if tensor.is_floating_point():
        tensor.copy_(_value(key, tensor.shape).to(tensor.dtype))


def fill(module: torch.nn.Module) -> torch.nn.Module:
    """Fill every tensor of module's state_dict under its own key."""
    for key, tensor in module.state_dict(keep_vars=True).items():
        fill_tensor(key, tensor)
    return module


def reference_input(*chw: int, batch: int = 2) -> torch.Tensor:
    """The input the reference outputs were measured on: batch 2, normal, seed 0."""
    return torch.randn(batch, *chw, generator=torch.Generator().manual_seed(0))
