"""Pooling: windowed (`maxpool`, `avgpool`), global or adaptive (`gap`, `gmp`) and LeCun's
`subsample`."""
from __future__ import annotations

from .geometry import slide, spatial
from .registry import OpSpec, OptionSpec, RfWindow, Shape, ShapeProblem, register_layer

_POOL_OPTIONS = (
    OptionSpec("k", "pair", None, compact="k", minimum=1, doc="window size"),
    OptionSpec("s", "pair", None, compact="s", minimum=1, doc="stride (default: the window)"),
    OptionSpec("p", "pair", (0, 0), compact="p", minimum=0, doc="padding"),
    OptionSpec("ceil", "flag", False, doc="round the output size up (ceil_mode)"),
)
# TensorFlow's SAME average pooling divides by the window's in-bounds count
# (torch: count_include_pad=False); TF-Slim's Inception-v4 and Inception-ResNet-v2 need it.
_AVGPOOL_OPTIONS = _POOL_OPTIONS + (
    OptionSpec("exclude_pad", "flag", False, doc="average over the in-bounds values only"),
)


def _resolve_window(name: str):
    def resolve(opts: dict, ins: list[Shape]) -> dict:
        opts = dict(opts)
        if opts["k"] is None:
            raise ShapeProblem(f"`{name}` needs a window size", "add one, e.g. `k2`")
        if opts.get("s") is None:
            opts["s"] = opts["k"]
        for k, p in zip(opts["k"], opts.get("p", (0, 0))):
            if 2 * p > k:
                raise ShapeProblem(f"`{name}` padding {p} is more than half its window {k}",
                                   "torch refuses this; use less padding")
        return opts
    return resolve


def _pool_shape(name: str):
    def shape(opts: dict, ins: list[Shape]) -> Shape:
        c, h, w = spatial(ins, name)
        return (c, *slide(name, (h, w), opts["k"], opts["s"], opts["p"], ceil=opts["ceil"]))
    return shape


def _window_rf(opts: dict, ins: list[Shape]):
    return (RfWindow(opts["k"], opts["s"], opts.get("p", (0, 0))),)


for _name, _doc in (("maxpool", "max pooling (torch.nn.MaxPool2d)"),
                    ("avgpool", "average pooling (torch.nn.AvgPool2d)")):
    register_layer(OpSpec(name=_name, family="pool", doc=_doc,
                          options=_AVGPOOL_OPTIONS if _name == "avgpool" else _POOL_OPTIONS,
                          resolve=_resolve_window(_name), shape=_pool_shape(_name),
                          rf=_window_rf,
                          saves=("input", "indices") if _name == "maxpool" else ("input",)))


# `gap` and `gmp` pool to 1x1 (global) or, given a size (`gap 7x7`), adaptively to that
# size as torch's AdaptiveAvgPool2d does: output cell i of n_out along an axis of n_in
# pools input positions floor(i*n_in/n_out) .. ceil((i+1)*n_in/n_out) - 1.
_ADAPTIVE_OPTIONS = (
    OptionSpec("size", "pair", (1, 1), minimum=1,
               doc="output size (default 1x1: global); `gap 7x7` pools adaptively to 7x7"),
)


def _adaptive_shape(name: str):
    def shape(opts: dict, ins: list[Shape]) -> Shape:
        return (spatial(ins, name)[0], *opts["size"])
    return shape


def adaptive_windows(n_in: int, n_out: int) -> list[tuple[int, int]]:
    """(start, end) of each output cell's window along one axis, as torch computes them."""
    return [((i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)) for i in range(n_out)]


def _adaptive_rf(opts: dict, ins: list[Shape]):
    if tuple(opts["size"]) == (1, 1):
        return "global"
    # A uniform window where n_out divides n_in; otherwise the widest window, stepping
    # n_in/n_out on average (the windows' offsets then vary by a pixel).
    ks, steps = [], []
    for n_in, n_out in zip(ins[0][1:], opts["size"]):
        ks.append(max(end - start for start, end in adaptive_windows(n_in, n_out)))
        steps.append(n_in // n_out if n_in % n_out == 0 else n_in / n_out)
    return (RfWindow(tuple(ks), tuple(steps), (0, 0)),)


def _adaptive_saves(kind: tuple):
    def saves(opts: dict, ins: list[Shape], out: Shape) -> tuple:
        # torch averages to 1x1 with a mean, which keeps no tensor
        return () if kind == ("input",) and tuple(opts["size"]) == (1, 1) else kind
    return saves


register_layer(OpSpec(name="gap", family="pool",
                      doc="global average pooling to Cx1x1, or adaptive to a size (`gap 7x7`)",
                      options=_ADAPTIVE_OPTIONS, positional="size",
                      shape=_adaptive_shape("gap"), rf=_adaptive_rf,
                      saves=_adaptive_saves(("input",))))
register_layer(OpSpec(name="gmp", family="pool",
                      doc="global max pooling to Cx1x1, or adaptive to a size (`gmp 7x7`)",
                      options=_ADAPTIVE_OPTIONS, positional="size",
                      shape=_adaptive_shape("gmp"), rf=_adaptive_rf,
                      saves=_adaptive_saves(("input", "indices"))))


def _subsample_shape(opts: dict, ins: list[Shape]) -> Shape:
    c, h, w = spatial(ins, "subsample")
    return (c, *slide("subsample", (h, w), opts["k"], opts["s"], (0, 0)))


def _subsample_connections(opts: dict, ins: list[Shape], out: Shape) -> int:
    # LeCun counts each output as joined to its window and to the trainable bias.
    kh, kw = opts["k"]
    return out[0] * out[1] * out[2] * (kh * kw + 1)


register_layer(OpSpec(
    name="subsample", family="lecun",
    doc="LeCun's trainable subsampling: window sum times a learned per-map coefficient, "
        "plus a learned per-map bias",
    options=(OptionSpec("k", "pair", (2, 2), compact="k", minimum=1, doc="window size"),
             OptionSpec("s", "pair", None, compact="s", minimum=1, doc="stride (default: k)")),
    resolve=_resolve_window("subsample"), shape=_subsample_shape, rf=_window_rf,
    params=lambda opts, ins, out: 2 * ins[0][0], connections=_subsample_connections,
    saves=("input", "scratch")))  # the window sums, for the coefficient's gradient
