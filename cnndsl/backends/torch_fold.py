"""Folding trained BatchNorm weights into generated modules (torch is imported here).

The plan is read from the module itself: a torch.fx trace (every module without children
a leaf, so helper layers stay whole) shows which layer feeds which bn, and the rules of
the NOTE in cnndsl/passes/fold_batchnorm.py pick the folds, as `fold_plan` does on the IR:
a bn folds into the conv, deconv or linear layer that feeds only it, or forward into the
unpadded, ungrouped conv it alone feeds. Each module must be called once. A folded bn
becomes an `nn.Identity`, so module paths stay those of the summary.
"""
from __future__ import annotations

import torch
from torch import fx, nn

from ..errors import CnnUsageError

_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d)
_FOLDS_AFTER = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


class _LeafTracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return not any(True for _ in m.children())


def fold_plan(model: nn.Module) -> list[tuple[str, str, str]]:
    """(layer path, bn path, "after" | "before") for every bn of `model` that folds."""
    was_training = model.training
    try:  # traced in training mode, so that auxiliary heads are seen too
        graph = _LeafTracer().trace(model.train())
    except Exception as exc:
        raise CnnUsageError(f"cannot trace the module to find its BatchNorm layers: {exc}",
                            hint="fuse_bn folds modules whose forward torch.fx can trace"
                            ) from None
    finally:
        model.train(was_training)
    calls = [n for n in graph.nodes if n.op == "call_module"]
    times = {}
    for n in calls:
        times[n.target] = times.get(n.target, 0) + 1
    once = lambda n: n.op == "call_module" and times[n.target] == 1  # noqa: E731
    module = model.get_submodule
    plan, used = [], set()
    for bn in calls:
        if not (isinstance(module(bn.target), _BATCHNORM) and once(bn)):
            continue
        src = bn.args[0] if len(bn.args) == 1 and not bn.kwargs else None
        if isinstance(src, fx.Node) and once(src) and _folds_after(module(src.target)) and \
                len(src.users) == 1:
            plan.append((src.target, bn.target, "after"))
            used.add(bn.target)
    for bn in calls:
        if bn.target in used or not (isinstance(module(bn.target), _BATCHNORM) and once(bn)):
            continue
        users = list(bn.users)
        if len(users) == 1 and once(users[0]) and users[0].args[:1] == (bn,) and \
                _takes_bn_before(module(users[0].target)):
            plan.append((users[0].target, bn.target, "before"))
    return plan


def _folds_after(layer: nn.Module) -> bool:
    return isinstance(layer, _FOLDS_AFTER) or (
        hasattr(layer, "index") and hasattr(layer, "full_weight"))  # TableConv2d


def _takes_bn_before(layer: nn.Module) -> bool:
    return (type(layer) is nn.Conv2d and layer.groups == 1 and layer.padding_mode == "zeros"
            and tuple(layer.padding) == (0, 0))


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


def fold_module(model: nn.Module, folds=None) -> nn.Module:
    """Fold, in place, every (layer, bn, "after" | "before") of `folds` (by default the
    module's own `fold_plan`) in `model`."""
    folds = fold_plan(model) if folds is None else folds
    with torch.no_grad():
        for layer_path, bn_path, kind in folds:
            layer, bn = model.get_submodule(layer_path), model.get_submodule(bn_path)
            (_fold_after if kind == "after" else _fold_before)(layer, bn)
            model.set_submodule(bn_path, nn.Identity())
    return model
