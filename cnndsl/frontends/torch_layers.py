"""The layer map of the PyTorch importer: a torch module or function call -> cnndsl layer text.

Each mapper returns the layer's text (`conv k3 s2 p1 64 nobias`), or raises `Unmapped`
with the reason when the call has no cnndsl counterpart (an option cnndsl lacks, a padding
mode, ...). Merges (add, concat, mul) and reshapes are decided in torch_import, and idioms
spread over several calls (chunk, channel shuffle, layer scale) in torch_patterns, since
they depend on the graph around them.

A few mappers need the traced call (`node`): what a LayerNorm or an adaptive pooling
computes depends on its input's shape and layout. Modules of other libraries are known by
their class name (NAMED), so that neither the package nor its tests import torchvision.
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


num = _num


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


def adaptive(m, node) -> str:
    return _adaptive(isinstance(m, nn.AdaptiveAvgPool2d), m.output_size, node)


def _adaptive(average: bool, size, node) -> str:
    """`gap`/`gmp` to 1x1, or to the module's size (`gap 7x7`: VGG's, at any input size);
    a None side (keep that side) is the input's size at the import's input."""
    out = (size, size) if isinstance(size, int) or size is None else tuple(size)
    head = "gap" if average else "gmp"
    if out == (1, 1):
        return head
    if None in out:
        h, w = input_shape(node)[-2:]
        out = (h if out[0] is None else out[0], w if out[1] is None else out[1])
    return f"{head} {out[0]}x{out[1]}"


def input_shape(node) -> tuple[int, ...]:
    first = next(a for a in node.all_input_nodes
                 if getattr(a.meta.get("tensor_meta"), "shape", None) is not None)
    return tuple(first.meta["tensor_meta"].shape)


def layernorm(m: nn.LayerNorm, node) -> str:
    """nn.LayerNorm(C) over the last dim: cnndsl's `ln` on flat vectors, or on a
    channels-last map (between `nhwc` and `nchw`)."""
    shape = input_shape(node)
    if not m.elementwise_affine or m.bias is None:
        raise Unmapped("elementwise_affine=False or bias=False (cnndsl's ln has both)")
    if tuple(m.normalized_shape) != shape[-1:]:
        raise Unmapped(f"LayerNorm over {tuple(m.normalized_shape)} of a {tuple(shape[1:])} "
                       "input (cnndsl's ln normalises the last dim of a flat or channels-last "
                       "input, or the channels of a feature map)")
    if len(shape) == 4 and not node.meta.get("channels_last"):
        raise Unmapped("LayerNorm over the width of a channels-first feature map")
    if len(shape) not in (2, 4):
        raise Unmapped(f"LayerNorm of a {len(shape)}-d input")
    return _ln(m.eps)


def _ln(eps: float) -> str:
    return _join("ln", "" if eps == 1e-5 else f"eps={eps!r}")


def layernorm2d(m: nn.LayerNorm, node) -> str:
    """torchvision's LayerNorm2d (ConvNeXt): over the channels at each position."""
    shape = input_shape(node)
    if not m.elementwise_affine or m.bias is None or len(shape) != 4 or \
            tuple(m.normalized_shape) != (shape[1],) or node.meta.get("channels_last"):
        raise Unmapped(f"a LayerNorm2d over {tuple(m.normalized_shape)} of a "
                       f"{tuple(shape[1:])} input")
    return _ln(m.eps)


def permute_module(m, node) -> str:
    return _permute([int(d) for d in m.dims], node)


def permute_dims(node) -> list[int] | None:
    """The dims of `x.permute(0, 2, 3, 1)`, `x.permute([0, 2, 3, 1])`, `torch.permute(x, dims)`."""
    dims = list(node.args[1:]) or [node.kwargs.get("dims")]
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = list(dims[0])
    return dims if dims and all(isinstance(d, int) for d in dims) else None


def _permute(dims, node) -> str:
    if len(input_shape(node)) == 4 and dims == [0, 2, 3, 1]:
        return "nhwc"
    if len(input_shape(node)) == 4 and dims == [0, 3, 1, 2]:
        return "nchw"
    raise Unmapped(f"a permute to {dims} (cnndsl has nhwc: [0, 2, 3, 1] and nchw: "
                   "[0, 3, 1, 2] of a feature map)")


def _droppath(p: float, mode: str) -> str:
    if mode not in ("row", "batch"):
        raise Unmapped(f"stochastic depth mode {mode!r}")
    return _join(f"droppath {float(p)!r}", "mode=batch" if mode == "batch" else "")


def stochastic_depth(m, node) -> str:
    """torchvision.ops.StochasticDepth (and cnndsl's own copy of it)."""
    return _droppath(m.p, m.mode)


def drop_path(m, node) -> str:
    """timm's DropPath: stochastic depth per sample."""
    if not getattr(m, "scale_by_keep", True):
        raise Unmapped("DropPath(scale_by_keep=False)")
    return _droppath(m.drop_prob, "row")


def instancenorm(m: nn.InstanceNorm2d) -> str:
    if m.track_running_stats:
        raise Unmapped("track_running_stats=True (cnndsl's inorm normalises with the "
                       "instance's statistics only)")
    return _join("inorm", "" if m.eps == 1e-5 else f"eps={m.eps!r}", "affine" if m.affine else "")


def local_response_norm(m: nn.LocalResponseNorm) -> str:
    return f"lrn size={m.size} alpha={m.alpha!r} beta={m.beta!r} k={float(m.k)!r}"


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
    nn.Flatten: flatten, nn.Dropout: dropout, nn.Upsample: upsample,
    nn.ReLU: lambda m: "relu", nn.ReLU6: lambda m: "relu6", nn.SiLU: lambda m: "silu",
    nn.GELU: gelu, nn.Sigmoid: lambda m: "sigmoid", nn.Tanh: lambda m: "tanh",
    nn.ELU: elu, nn.Hardtanh: hardtanh,
    nn.Hardswish: lambda m: "hardswish", nn.Hardsigmoid: lambda m: "hardsigmoid",
    nn.LeakyReLU: lambda m: f"leaky({m.negative_slope!r})",
    nn.PReLU: lambda m: f"prelu {m.num_parameters}",
    nn.Softmax: softmax, nn.Identity: lambda m: "id", nn.LocalResponseNorm: local_response_norm,
    nn.InstanceNorm2d: instancenorm,
}
# mappers that read the traced call: (module, node) -> text
SHAPED_MODULES = {
    nn.AdaptiveAvgPool2d: adaptive, nn.AdaptiveMaxPool2d: adaptive, nn.LayerNorm: layernorm,
}
# other libraries' modules (torchvision's, timm's; cnndsl's generated classes of the same
# name), known by class name and checked by what they hold: (base class, attributes, mapper)
NAMED = {
    "StochasticDepth": (nn.Module, ("p", "mode"), stochastic_depth),
    "DropPath": (nn.Module, ("drop_prob",), drop_path),
    "Permute": (nn.Module, ("dims",), permute_module),
    "LayerNorm2d": (nn.LayerNorm, (), layernorm2d),
    "ChannelLayerNorm": (nn.LayerNorm, (), layernorm2d),
}


def _named(m: nn.Module):
    entry = NAMED.get(type(m).__name__)
    if entry is None or not isinstance(m, entry[0]) or not all(hasattr(m, a) for a in entry[1]):
        return None
    return entry[2]


def module_layer(m: nn.Module, node=None) -> str:
    mapper = MODULES.get(type(m))
    if mapper is not None:
        return mapper(m)
    mapper = SHAPED_MODULES.get(type(m)) or _named(m)
    if mapper is None:
        raise Unmapped("no cnndsl layer for this module class")
    return mapper(m, node)


def is_known_module(m: nn.Module) -> bool:
    return type(m) in MODULES or type(m) in SHAPED_MODULES or _named(m) is not None


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
        if f == "permute":
            return _permute(permute_dims(node), node)
        if f == "softmax":
            return _softmax(_arg(node, 1, "dim", None), node)
        if f in ("clamp", "clamp_", "clip"):
            return _clamp(_arg(node, 1, "min", None), _arg(node, 2, "max", None))
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
        return _adaptive(f is F.adaptive_avg_pool2d, _arg(node, 1, "output_size", None), node)
    if f is torch.permute:
        return _permute(permute_dims(node), node)
    if f in (F.softmax, torch.softmax):
        return _softmax(_arg(node, 1, "dim", None), node)
    if f in (torch.clamp, torch.clip):
        return _clamp(_arg(node, 1, "min", None), _arg(node, 2, "max", None))
    if getattr(f, "__name__", "") == "stochastic_depth" and \
            getattr(f, "__module__", "").startswith("torchvision."):
        return _droppath(_arg(node, 1, "p", None), _arg(node, 2, "mode", None))
    if f in (F.max_pool2d, F.avg_pool2d):
        return _pool_function(node, f)
    if f is F.dropout:
        return f"dropout {float(_arg(node, 1, 'p', 0.5))!r}"
    if f is F.interpolate:
        return _upsample(_arg(node, 2, "scale_factor", None), _arg(node, 1, "size", None),
                         _arg(node, 3, "mode", "nearest"), _arg(node, 4, "align_corners", None))
    if f is operator.getitem:
        raise Unmapped("indexing (`x[...]`) other than taking one of n equal channel parts "
                       "(`x[:, a:b]`, `x.chunk(n, 1)[i]`)")
    raise Unmapped(f"the function `{getattr(f, '__name__', f)}`")


def _softmax(dim, node) -> str:
    if dim != 1 and not (dim == -1 and len(input_shape(node)) == 2):
        raise Unmapped(f"softmax over dim {dim} (cnndsl's is over the channels)")
    return "softmax"


def _clamp(low, high) -> str:
    """clamp(0, 6) is relu6, clamp(min=0) relu."""
    if (low, high) == (0, 6):
        return "relu6"
    if low == 0 and high is None:
        return "relu"
    raise Unmapped(f"clamp({low}, {high}) (cnndsl has relu: clamp(min=0), relu6: clamp(0, 6))")


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
