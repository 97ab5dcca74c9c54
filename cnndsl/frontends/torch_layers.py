"""The layer map of the PyTorch importer: a torch module or function call -> cnndsl layer text.

Each mapper returns the layer's text (`conv k3 s2 p1 64 nobias`), or raises `Unmapped`
with the reason when the call has no cnndsl counterpart (an option cnndsl lacks, a padding
mode, ...). Merges (add, concat, mul) and reshapes are decided in torch_import, since they
depend on the graph around them.
"""
from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import nn


class Unmapped(Exception):
    """A call with no cnndsl counterpart; the message says why."""


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _num(v: float) -> str:
    return repr(float(v)) if not float(v).is_integer() else str(int(v)) if abs(v) >= 1 else repr(float(v))


def _compact(letter: str, v, default: int | None) -> str:
    a, b = _pair(v)
    if a == b:
        return "" if a == default else f"{letter}{a}"
    return f"{letter}{a}x{b}" if letter == "k" else f"{letter}=[{a},{b}]"


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def conv(m: nn.Conv2d) -> str:
    if m.padding_mode != "zeros":
        raise Unmapped(f"padding_mode={m.padding_mode!r} (cnndsl pads with zeros)")
    if isinstance(m.padding, str):
        if m.padding == "valid":
            pad = ""
        elif _pair(m.stride) == (1, 1):
            pad = "p=same"
        else:
            raise Unmapped("padding='same' with a stride")
    else:
        pad = _compact("p", m.padding, 0)
    head = "deconv" if isinstance(m, nn.ConvTranspose2d) else "conv"
    extra = ""
    if head == "deconv":
        extra = _compact("op", m.output_padding, 0)
    return _join(head, _compact("k", m.kernel_size, None), _compact("s", m.stride, 1), pad,
                 _compact("d", m.dilation, 1), "" if m.groups == 1 else f"g{m.groups}", extra,
                 str(m.out_channels), "bias" if m.bias is not None else "nobias")


def batchnorm(m) -> str:
    if not m.affine or not m.track_running_stats:
        raise Unmapped("affine=False or track_running_stats=False (cnndsl's bn has both)")
    if m.momentum is None:
        raise Unmapped("momentum=None (a cumulative average)")
    return _join("bn", "" if m.eps == 1e-5 else f"eps={m.eps!r}",
                 "" if m.momentum == 0.1 else f"momentum={m.momentum!r}")


def linear(m: nn.Linear) -> str:
    return f"fc {m.out_features} {'bias' if m.bias is not None else 'nobias'}"


def pool(m) -> str:
    head = "maxpool" if isinstance(m, nn.MaxPool2d) else "avgpool"
    if head == "maxpool" and _pair(m.dilation) != (1, 1):
        raise Unmapped("a dilated max pooling")
    if head == "avgpool" and m.divisor_override is not None:
        raise Unmapped("divisor_override")
    k = _pair(m.kernel_size)
    s = _pair(m.stride if m.stride is not None else m.kernel_size)
    return _join(head, _compact("k", k, None), "" if s == k else _compact("s", s, None),
                 _compact("p", m.padding, 0), "ceil" if m.ceil_mode else "",
                 "exclude_pad" if head == "avgpool" and not m.count_include_pad else "")


def adaptive(m) -> str:
    if _pair(m.output_size) != (1, 1):
        raise Unmapped(f"adaptive pooling to {m.output_size} (cnndsl has it to 1x1: gap, gmp)")
    return "gap" if isinstance(m, nn.AdaptiveAvgPool2d) else "gmp"


def flatten(m: nn.Flatten) -> str:
    if m.start_dim != 1 or m.end_dim != -1:
        raise Unmapped(f"Flatten({m.start_dim}, {m.end_dim}) (cnndsl flattens from dim 1)")
    return "flatten"


def dropout(m) -> str:
    return f"dropout {m.p!r}" + (" inplace" if m.inplace else "")


def gelu(m) -> str:
    if m.approximate != "none":
        raise Unmapped(f"approximate={m.approximate!r}")
    return "gelu"


def elu(m) -> str:
    if m.alpha != 1.0:
        raise Unmapped(f"alpha={m.alpha}")
    return "elu"


def hardtanh(m) -> str:
    if (m.min_val, m.max_val) != (0.0, 6.0):
        raise Unmapped(f"Hardtanh({m.min_val}, {m.max_val}) (cnndsl has relu6)")
    return "relu6"


def upsample(m) -> str:
    return _upsample(m.scale_factor, m.size, m.mode, m.align_corners)


def _upsample(scale, size, mode, align) -> str:
    if mode not in ("nearest", "bilinear"):
        raise Unmapped(f"mode={mode!r}")
    what = f"size=[{size[0]},{size[1]}]" if size is not None and not isinstance(size, int) else (
        f"size={size}" if size is not None else _num(scale if not isinstance(scale, tuple) else scale[0]))
    return _join("upsample", what, "" if mode == "nearest" else f"mode={mode}",
                 "align_corners" if align else "")


def groupnorm(m: nn.GroupNorm) -> str:
    if not m.affine:
        raise Unmapped("affine=False")
    return _join(f"gn {m.num_groups}", "" if m.eps == 1e-5 else f"eps={m.eps!r}")


def softmax(m) -> str:
    if m.dim != 1:
        raise Unmapped(f"softmax over dim {m.dim} (cnndsl's is over the channels)")
    return "softmax"


MODULES = {
    nn.Conv2d: conv, nn.ConvTranspose2d: conv,
    nn.BatchNorm2d: batchnorm, nn.BatchNorm1d: batchnorm,
    nn.Linear: linear, nn.GroupNorm: groupnorm,
    nn.MaxPool2d: pool, nn.AvgPool2d: pool,
    nn.AdaptiveAvgPool2d: adaptive, nn.AdaptiveMaxPool2d: adaptive,
    nn.Flatten: flatten, nn.Dropout: dropout, nn.Upsample: upsample,
    nn.ReLU: lambda m: "relu", nn.ReLU6: lambda m: "relu6", nn.SiLU: lambda m: "silu",
    nn.GELU: gelu, nn.Sigmoid: lambda m: "sigmoid", nn.Tanh: lambda m: "tanh",
    nn.ELU: elu, nn.Hardtanh: hardtanh,
    nn.Hardswish: lambda m: "hardswish", nn.Hardsigmoid: lambda m: "hardsigmoid",
    nn.LeakyReLU: lambda m: f"leaky({m.negative_slope!r})",
    nn.PReLU: lambda m: f"prelu {m.num_parameters}",
    nn.Softmax: softmax, nn.Identity: lambda m: "id",
}


def module_layer(m: nn.Module) -> str:
    mapper = MODULES.get(type(m))
    if mapper is None:
        raise Unmapped("no cnndsl layer for this module class")
    return mapper(m)


def is_known_module(m: nn.Module) -> bool:
    return type(m) in MODULES


# Pointwise functions and methods with a single tensor argument.
_ACT = {"relu": "relu", "relu6": "relu6", "silu": "silu", "sigmoid": "sigmoid",
        "tanh": "tanh", "hardswish": "hardswish", "hardsigmoid": "hardsigmoid",
        "elu": "elu", "gelu": "gelu"}
_FUNCTIONS = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", F.silu: "silu",
              torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.tanh: "tanh",
              F.tanh: "tanh", F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid",
              F.gelu: "gelu", F.elu: "elu"}
ADD = {operator.add, operator.iadd, torch.add}
MUL = {operator.mul, operator.imul, torch.mul}
CAT = {torch.cat, torch.concat}


def _arg(node, i: int, name: str, default):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


def function_layer(node) -> str:
    """The layer for a call_function / call_method of one tensor (not merges)."""
    f = node.target
    if node.op == "call_method":
        if f in _ACT:
            return _ACT[f]
        if f == "flatten":
            return _flatten(_arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1))
        if f == "mean":
            return _mean(_arg(node, 1, "dim", None), _arg(node, 2, "keepdim", False))
        if f == "contiguous":
            return "id"
        raise Unmapped(f"the method `.{f}()`")
    if f in _FUNCTIONS:
        if f is F.gelu and node.kwargs.get("approximate", "none") != "none":
            raise Unmapped("gelu(approximate='tanh')")
        return _FUNCTIONS[f]
    if f is F.leaky_relu:
        return f"leaky({float(_arg(node, 1, 'negative_slope', 0.01))!r})"
    if f is F.hardtanh:
        if (_arg(node, 1, "min_val", -1.0), _arg(node, 2, "max_val", 1.0)) != (0.0, 6.0):
            raise Unmapped("hardtanh other than relu6")
        return "relu6"
    if f is torch.flatten:
        return _flatten(_arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1))
    if f is torch.mean:
        return _mean(_arg(node, 1, "dim", None), _arg(node, 2, "keepdim", False))
    if f in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
        size = _arg(node, 1, "output_size", None)
        if _pair(size) != (1, 1):
            raise Unmapped(f"adaptive pooling to {size}")
        return "gap" if f is F.adaptive_avg_pool2d else "gmp"
    if f in (F.max_pool2d, F.avg_pool2d):
        return _pool_function(node, f)
    if f is F.dropout:
        return f"dropout {float(_arg(node, 1, 'p', 0.5))!r}"
    if f is F.interpolate:
        return _upsample(_arg(node, 2, "scale_factor", None), _arg(node, 1, "size", None),
                         _arg(node, 3, "mode", "nearest"), _arg(node, 4, "align_corners", None))
    raise Unmapped(f"the function `{getattr(f, '__name__', f)}`")


def _flatten(start, end) -> str:
    if start != 1 or end != -1:
        raise Unmapped(f"flatten({start}, {end}) (cnndsl flattens from dim 1 to the end)")
    return "flatten"


def _mean(dim, keepdim) -> str:
    if dim is None or sorted(d % 4 for d in (dim if isinstance(dim, (tuple, list)) else [dim])) != [2, 3]:
        raise Unmapped(f"mean over {dim} (cnndsl's gap averages over dims 2 and 3)")
    return "gap" if keepdim else "gap flatten"


def _pool_function(node, f) -> str:
    k = _arg(node, 1, "kernel_size", None)
    s = _arg(node, 2, "stride", None) or k
    p = _arg(node, 3, "padding", 0)
    head = "maxpool" if f is F.max_pool2d else "avgpool"
    ceil = _arg(node, 5 if head == "maxpool" else 4, "ceil_mode", False)
    if head == "maxpool" and _pair(_arg(node, 4, "dilation", 1)) != (1, 1):
        raise Unmapped("a dilated max pooling")
    if head == "avgpool" and not _arg(node, 5, "count_include_pad", True):
        ceil = f"{'ceil ' if ceil else ''}exclude_pad"
    elif ceil:
        ceil = "ceil"
    return _join(head, _compact("k", k, None), "" if _pair(s) == _pair(k) else _compact("s", s, None),
                 _compact("p", p, 0), ceil or "")
