"""Convolutions: `conv` (with groups, depthwise and LeCun connection tables) and `deconv`.

# NOTE: p=same
# `p=same` is TensorFlow's SAME: the output has ceil(n/s) positions, and the padding needed
# for that, total = max((ceil(n/s) - 1)·s + (k-1)·d + 1 - n, 0), goes total//2 before and
# the rest after, so an odd total pads one more at the end (bottom, right), as TF does.
# For stride 1 and an odd kernel this is the symmetric d·(k-1)/2 of a plain Conv2d. Uneven
# padding is kept as `p` (the leading pads, which place the field) and `p_after`, and the
# conv becomes a Conv2d subclass that pads in its forward (cnndsl/ops/torch_emit.py), so
# its parameters keep a plain Conv2d's names. The pads are those of the spec's input size.
"""
from __future__ import annotations

from .geometry import fmt_pair, slide, spatial
from .registry import OpSpec, OptionSpec, RfWindow, Shape, ShapeProblem, register_layer

_WINDOW = (
    OptionSpec("k", "pair", None, compact="k", minimum=1, doc="kernel size, `k3` or `k1x7`"),
    OptionSpec("s", "pair", (1, 1), compact="s", minimum=1, doc="stride"),
    OptionSpec("p", "padding", (0, 0), compact="p", minimum=0,
               doc="zero padding, or `p=same` (TensorFlow's SAME, any stride)"),
    OptionSpec("d", "pair", (1, 1), compact="d", minimum=1, doc="dilation"),
    OptionSpec("g", "int", 1, compact="g", minimum=1, doc="groups"),
    OptionSpec("c", "int", None, minimum=1, doc="output channels (a bare number)"),
    OptionSpec("bias", "flag", None, doc="force a bias on (`bias`) or off (`nobias`); "
                                         "by default on unless the next layer is `bn`"),
    OptionSpec("dw", "flag", False, doc="depthwise: groups = input channels"),
)
_BIAS_FLAGS = {"bias": ("bias", True), "nobias": ("bias", False), "dw": ("dw", True)}


def _depthwise(opts: dict, in_ch: int) -> None:
    """`dw`: groups = the input channels (a different `g` written with it is a mistake)."""
    if opts["g"] not in (1, in_ch):
        raise ShapeProblem(f"`dw` makes the groups the input channels ({in_ch}), but `g` "
                           f"is {opts['g']}", "write `dw` or `g`, not both")
    opts["g"] = in_ch
    if opts["c"] is None:
        opts["c"] = in_ch


def _resolve_conv(opts: dict, ins: list[Shape]) -> dict:
    opts = dict(opts)
    in_ch = spatial(ins, "conv")[0]
    if opts["k"] is None:
        raise ShapeProblem("`conv` needs a kernel size", "add one, e.g. `k3`")
    if opts["dw"]:
        _depthwise(opts, in_ch)
    table = opts.get("table")
    if table is not None:
        if opts["c"] is None:
            opts["c"] = len(table)
        elif opts["c"] != len(table):
            raise ShapeProblem(f"the connection table has {len(table)} rows but `conv` has "
                               f"{opts['c']} output channels",
                               "give one row per output map, or drop the channel count")
        for row in table:
            bad = [i for i in row if not 0 <= i < in_ch]
            if bad:
                raise ShapeProblem(f"connection table names input map {bad[0]}, but the input "
                                   f"has only {in_ch} maps (0..{in_ch - 1})")
        if opts["g"] != 1:
            raise ShapeProblem("a connection table cannot be combined with groups")
    if opts["c"] is None:
        raise ShapeProblem("`conv` needs its number of output channels",
                           "add it as a bare number, e.g. `conv k3 64`")
    if opts["p"] == "same":
        opts.update(same_padding(ins[0][1:], opts["k"], opts["s"], opts["d"]))
    return opts


def same_padding(hw, k, s, d) -> dict:
    """TensorFlow's SAME padding (see the NOTE): {"p": leading pads, "p_after": trailing
    pads}, "p_after" only where some axis pads unevenly."""
    before, after = [], []
    for n, k_, s_, d_ in zip(hw, k, s, d):
        total = max((-(-n // s_) - 1) * s_ + (k_ - 1) * d_ + 1 - n, 0)
        before.append(total // 2)
        after.append(total - total // 2)
    padding = {"p": tuple(before)}
    if after != before:
        padding["p_after"] = tuple(after)
    return padding


def _conv_shape(opts: dict, ins: list[Shape]) -> Shape:
    in_ch, h, w = spatial(ins, "conv")
    g, c = opts["g"], opts["c"]
    if in_ch % g or c % g:
        raise ShapeProblem(f"groups={g} must divide both the input channels ({in_ch}) and "
                           f"the output channels ({c})",
                           "choose groups that divide both, or `dw` for depthwise")
    return (c, *slide("conv", (h, w), opts["k"], opts["s"], opts["p"], opts["d"],
                      p_after=opts.get("p_after")))


def _conv_weights(opts: dict, ins: list[Shape]) -> int:
    """Weights per output position: inputs seen times kernel area, summed over outputs."""
    kh, kw = opts["k"]
    if opts.get("table") is not None:
        return sum(len(row) for row in opts["table"]) * kh * kw
    return ins[0][0] // opts["g"] * opts["c"] * kh * kw


def _conv_params(opts: dict, ins: list[Shape], out: Shape) -> int:
    return _conv_weights(opts, ins) + (opts["c"] if opts["bias"] else 0)


def _conv_macs(opts: dict, ins: list[Shape], out: Shape) -> int:
    return _conv_weights(opts, ins) * out[1] * out[2]


def _conv_rf(opts: dict, ins: list[Shape]):
    return (RfWindow(opts["k"], opts["s"], opts["p"], opts["d"]),)


CONV = register_layer(OpSpec(
    name="conv", family="conv", doc="2-d convolution (torch.nn.Conv2d)",
    options=_WINDOW + (OptionSpec("table", "table", None,
                                  doc="partial connection table: row j lists the input "
                                      "maps output map j sees"),),
    positional="c", flags=_BIAS_FLAGS, resolve=_resolve_conv, shape=_conv_shape,
    rf=_conv_rf, params=_conv_params, macs=_conv_macs))


def _resolve_deconv(opts: dict, ins: list[Shape]) -> dict:
    opts = dict(opts)
    in_ch = spatial(ins, "deconv")[0]
    if opts["k"] is None:
        raise ShapeProblem("`deconv` needs a kernel size", "add one, e.g. `k4`")
    if opts["dw"]:
        _depthwise(opts, in_ch)
    if opts["c"] is None:
        raise ShapeProblem("`deconv` needs its number of output channels",
                           "add it as a bare number, e.g. `deconv k4 s2 p1 64`")
    if opts["p"] == "same":
        raise ShapeProblem("`deconv` does not take `p=same`", "give the padding as a number")
    for axis in (0, 1):
        if opts["op"][axis] >= max(opts["s"][axis], opts["d"][axis]):
            raise ShapeProblem(f"output padding {opts['op'][axis]} must be smaller than the "
                               "stride or the dilation")
    return opts


def _deconv_shape(opts: dict, ins: list[Shape]) -> Shape:
    in_ch, h, w = spatial(ins, "deconv")
    g, c = opts["g"], opts["c"]
    if in_ch % g or c % g:
        raise ShapeProblem(f"groups={g} must divide both the input channels ({in_ch}) and "
                           f"the output channels ({c})")
    out = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, k, s, p, d, op in
                zip((h, w), opts["k"], opts["s"], opts["p"], opts["d"], opts["op"]))
    if min(out) <= 0:
        raise ShapeProblem(f"`deconv` gives an empty output ({fmt_pair(out)})",
                           "use less padding")
    return (c, *out)


def _deconv_weights(opts: dict, ins: list[Shape]) -> int:
    kh, kw = opts["k"]
    return ins[0][0] * (opts["c"] // opts["g"]) * kh * kw


def _deconv_params(opts: dict, ins: list[Shape], out: Shape) -> int:
    return _deconv_weights(opts, ins) + (opts["c"] if opts["bias"] else 0)


def _deconv_macs(opts: dict, ins: list[Shape], out: Shape) -> int:
    # Every input position is multiplied by the whole kernel once (see docs/analysis.md).
    return _deconv_weights(opts, ins) * ins[0][1] * ins[0][2]


def _deconv_rf(opts: dict, ins: list[Shape]):
    # A transposed conv spreads the input onto a grid `s` times finer, then slides a
    # stride-1 window over it with padding d(k-1)-p.
    finer = RfWindow((1, 1), tuple(1 / s for s in opts["s"]), (0, 0))
    pads = tuple(d * (k - 1) - p for k, d, p in zip(opts["k"], opts["d"], opts["p"]))
    return (finer, RfWindow(opts["k"], (1, 1), pads, opts["d"]))


DECONV = register_layer(OpSpec(
    name="deconv", family="conv", doc="transposed 2-d convolution (torch.nn.ConvTranspose2d)",
    options=_WINDOW + (OptionSpec("op", "pair", (0, 0), compact="op", minimum=0,
                                  doc="output padding"),),
    positional="c", flags=_BIAS_FLAGS, resolve=_resolve_deconv, shape=_deconv_shape,
    rf=_deconv_rf, params=_deconv_params, macs=_deconv_macs))
