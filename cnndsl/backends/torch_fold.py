"""Folding trained BatchNorm weights into generated modules (torch is imported here).

Follows the plan the generated class carries in `bn_folds` (see the NOTE in
cnndsl/passes/fold_batchnorm.py); a folded bn becomes an `nn.Identity`, so module paths
stay those of the summary.
"""
from __future__ import annotations

import torch
from torch import nn


def bn_affine(bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) per channel of a BatchNorm in eval mode: bn(x) = scale * x + shift."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _out_scale_shape(layer: nn.Module, scale: torch.Tensor) -> torch.Tensor:
    """`scale` (one value per output channel) laid out to multiply the layer's weight."""
    weight = layer.weight
    if isinstance(layer, nn.ConvTranspose2d):
        g = layer.groups
        per_group = scale.view(g, 1, -1, 1, 1)
        return per_group.expand(g, weight.shape[0] // g, *per_group.shape[2:]).reshape(
            weight.shape[0], -1, 1, 1)
    if hasattr(layer, "index") and weight.dim() == 3:  # TableConv2d: one row per kernel
        return scale[layer.index // layer.shape[1]].view(-1, 1, 1)
    return scale.view(-1, *([1] * (weight.dim() - 1)))


def _fold_after(layer: nn.Module, bn: nn.Module) -> None:
    scale, shift = bn_affine(bn)
    bias = layer.bias if layer.bias is not None else torch.zeros_like(scale)
    layer.weight = nn.Parameter(layer.weight * _out_scale_shape(layer, scale))
    layer.bias = nn.Parameter(bias * scale + shift)


def _fold_before(conv: nn.Conv2d, bn: nn.Module) -> None:
    scale, shift = bn_affine(bn)
    weight = conv.weight
    bias = conv.bias if conv.bias is not None else weight.new_zeros(weight.shape[0])
    conv.bias = nn.Parameter(bias + (weight * shift.view(1, -1, 1, 1)).sum(dim=(1, 2, 3)))
    conv.weight = nn.Parameter(weight * scale.view(1, -1, 1, 1))


def fold_module(model: nn.Module, folds) -> nn.Module:
    """Fold, in place, every (layer, bn, "after" | "before") of `folds` in `model`."""
    with torch.no_grad():
        for layer_path, bn_path, kind in folds:
            layer, bn = model.get_submodule(layer_path), model.get_submodule(bn_path)
            (_fold_after if kind == "after" else _fold_before)(layer, bn)
            model.set_submodule(bn_path, nn.Identity())
    return model
