"""Layers that reshape or mix whole tensors: `flatten`, `fc`, `dropout`, `upsample`, `rbf`."""
from __future__ import annotations

import math

from .geometry import fmt_shape, spatial
from .registry import (
    ChannelsLast,
    OpSpec,
    OptionSpec,
    RfWindow,
    Shape,
    ShapeProblem,
    register_layer,
)


def _global_rf(opts: dict, ins: list[Shape]):
    return "global"


register_layer(OpSpec(
    name="flatten", family="tensor", doc="CxHxW to a flat vector of C*H*W",
    shape=lambda opts, ins: (math.prod(ins[0]),), rf=_global_rf, saves=(), view=True))


def _flat_input(op: str, ins: list[Shape]) -> int:
    if len(ins[0]) != 1:
        hint = "add `flatten` before it" if ins[0][1:] == (1, 1) else \
            "add `flatten` (keeps every position) or `gap flatten` (averages them) before it"
        if op == "fc":
            hint += "; or, for a Linear at each position (ConvNeXt), `nhwc` before it and " \
                    "`nchw` after"
        raise ShapeProblem(f"`{op}` needs a flat input, but gets a {fmt_shape(ins[0])} "
                           "feature map", hint)
    return ins[0][0]


def _fc_shape(opts: dict, ins: list[Shape]) -> Shape:
    if opts["c"] is None:
        raise ShapeProblem("`fc` needs its number of outputs", "e.g. `fc 1000`")
    if isinstance(ins[0], ChannelsLast):  # per position (the NOTE in registry.py)
        return ChannelsLast((opts["c"], *ins[0][1:]))
    _flat_input("fc", ins)
    return (opts["c"],)


def _fc_rf(opts: dict, ins: list[Shape]):
    return None if isinstance(ins[0], ChannelsLast) else "global"


def _fc_macs(opts: dict, ins: list[Shape], out: Shape) -> int:
    return math.prod(out) * ins[0][0]  # per position: H*W*in*out


register_layer(OpSpec(
    name="fc", family="tensor",
    doc="fully connected layer (torch.nn.Linear) on a flat input, or per position on the "
        "channels of a channels-last feature map (after `nhwc`)",
    options=(OptionSpec("c", "int", None, minimum=1, doc="output features (a bare number)"),
             OptionSpec("bias", "flag", None, doc="`bias`/`nobias`; by default on unless "
                                                  "the next layer is `bn`")),
    positional="c", flags={"bias": ("bias", True), "nobias": ("bias", False)},
    shape=_fc_shape, rf=_fc_rf,
    params=lambda opts, ins, out: ins[0][0] * out[0] + (out[0] if opts["bias"] else 0),
    macs=_fc_macs, channels_last=True))

register_layer(OpSpec(
    name="dropout", family="tensor", doc="dropout with probability p (a bare number)",
    options=(OptionSpec("p", "float", 0.5, minimum=0, below=1, doc="drop probability"),
             OptionSpec("inplace", "flag", False,
                        doc="torch's inplace=True (as torchvision's classifiers): the same "
                            "function, written over its input in training")),
    positional="p", saves=("mask",), channels_last=True))


def _resolve_droppath(opts: dict, ins: list[Shape]) -> dict:
    if opts["p"] > 1:
        raise ShapeProblem(f"`droppath` drops a sample with probability p, at most 1, not "
                           f"{opts['p']:g}")
    return opts


register_layer(OpSpec(
    name="droppath", family="tensor",
    doc="stochastic depth (torchvision's StochasticDepth(p, 'row')): the identity in eval; in "
        "training each sample is zeroed with probability p, the rest scaled by 1/(1-p)",
    options=(OptionSpec("p", "float", None, minimum=0, doc="drop probability (a bare number)"),
             OptionSpec("mode", "choice", "row", choices=("row", "batch"),
                        doc="`row`: per sample; `batch`: the whole batch at once")),
    positional="p", resolve=lambda opts, ins: _resolve_droppath(_needs_p(opts), ins),
    saves=(), channels_last=True))  # the noise it multiplies by is one value per sample


def _needs_p(opts: dict) -> dict:
    if opts["p"] is None:
        raise ShapeProblem("`droppath` needs its drop probability", "e.g. `droppath 0.1`")
    return opts


def _resolve_upsample(opts: dict, ins: list[Shape]) -> dict:
    opts = dict(opts)
    if opts["size"] is not None and opts["scale"] is not None:
        raise ShapeProblem("`upsample` takes a scale or a size, not both",
                           "drop one: `upsample 2` or `upsample size=[28,28]`")
    if opts["size"] is None and opts["scale"] is None:
        opts["scale"] = 2
    if opts["align_corners"] and opts["mode"] == "nearest":
        raise ShapeProblem("`align_corners` needs an interpolating mode",
                           "add `mode=bilinear`, or drop `align_corners`")
    return opts


def _upsample_shape(opts: dict, ins: list[Shape]) -> Shape:
    c, h, w = spatial(ins, "upsample")
    if opts["size"] is not None:
        return (c, *opts["size"])
    f = opts["scale"]
    return (c, math.floor(h * f), math.floor(w * f))


def _upsample_rf(opts: dict, ins: list[Shape]):
    # Nearest: each output copies one input; bilinear: it blends two neighbours per axis.
    # Output pixel 0's centre lies (1 - 1/scale)/2 input pixels before input pixel 0's
    # (half a fine cell into a coarse one), as a transposed conv's does: the extra padding
    # keeps a U-Net's upsample and deconv paths aligned. With align_corners the corner
    # pixels' centres coincide: the step is (n_in - 1)/(n_out - 1) and pixel 0 sits on
    # input pixel 0. A size gives each axis its own scale, n_out / n_in.
    k = 2 if opts["mode"] == "bilinear" else 1
    steps, pads = [], []
    for n_in, n_out in zip(ins[0][1:], _upsample_shape(opts, ins)[1:]):
        if opts["align_corners"]:
            steps.append((n_in - 1) / (n_out - 1) if n_out > 1 else 1)
            pads.append((k - 1) / 2)
        else:
            f = 1 / opts["scale"] if opts["size"] is None else n_in / n_out
            steps.append(f)
            pads.append((k - 1) / 2 + (1 - f) / 2)
    return (RfWindow((k, k), tuple(steps), tuple(pads)),)


register_layer(OpSpec(
    name="upsample", family="tensor",
    doc="spatial upsampling by a factor (a bare number) or to a size",
    options=(OptionSpec("scale", "float", None, minimum=0, doc="scale factor (default 2)"),
             OptionSpec("size", "pair", None, minimum=1, doc="output size, `size=[28,28]`"),
             OptionSpec("mode", "choice", "nearest", choices=("nearest", "bilinear"),
                        doc="interpolation"),
             OptionSpec("align_corners", "flag", False,
                        doc="bilinear: align the corner pixels' centres (torch's "
                            "align_corners=True)")),
    positional="scale", resolve=_resolve_upsample, shape=_upsample_shape, rf=_upsample_rf,
    saves=()))


def _rbf_shape(opts: dict, ins: list[Shape]) -> Shape:
    _flat_input("rbf", ins)
    if opts["c"] is None:
        raise ShapeProblem("`rbf` needs its number of output units", "e.g. `rbf 10`")
    return (opts["c"],)


register_layer(OpSpec(
    name="rbf", family="lecun",
    doc="LeNet-5's Euclidean RBF output units: squared distance to fixed (untrained) centres",
    options=(OptionSpec("c", "int", None, minimum=1, doc="output units (a bare number)"),),
    positional="c", shape=_rbf_shape, rf=_global_rf,
    macs=lambda opts, ins, out: ins[0][0] * out[0],
    # the squared distance keeps every input-minus-centre difference for backward
    saves=lambda opts, ins, out: (("scratch", ins[0][0] * out[0]),)))
