"""Normalisation layers: `bn`, `gn`, `ln`, `inorm`, `lrn`."""
from __future__ import annotations

from .geometry import spatial
from .registry import OpSpec, OptionSpec, Shape, ShapeProblem, register_layer

_EPS = OptionSpec("eps", "float", 1e-5, above=0, doc="added to the variance")
_MOMENTUM = OptionSpec("momentum", "float", 0.1, minimum=0, maximum=1,
                       doc="running-statistics momentum")


def _affine_params(opts: dict, ins: list[Shape], out: Shape) -> int:
    return 2 * ins[0][0]


register_layer(OpSpec(
    name="bn", family="norm",
    doc="batch normalisation (BatchNorm2d on feature maps, BatchNorm1d on flat vectors)",
    options=(_EPS, _MOMENTUM), params=_affine_params))


def _gn_shape(opts: dict, ins: list[Shape]) -> Shape:
    c = spatial(ins, "gn")[0]
    if c % opts["g"]:
        raise ShapeProblem(f"`gn` groups ({opts['g']}) must divide the channels ({c})")
    return ins[0]


register_layer(OpSpec(
    name="gn", family="norm", doc="group normalisation (torch.nn.GroupNorm)",
    options=(OptionSpec("g", "int", 32, compact="g", minimum=1, doc="groups"), _EPS),
    positional="g", shape=_gn_shape, params=_affine_params))

register_layer(OpSpec(
    name="ln", family="norm",
    doc="layer normalisation over the channels at each position (flat vectors: over all)",
    options=(_EPS,),
    params=_affine_params, channels_last=True))


def _layerscale_shape(opts: dict, ins: list[Shape]) -> Shape:
    spatial(ins, "layerscale")
    return ins[0]


register_layer(OpSpec(
    name="layerscale", family="norm",
    doc="a learned scale per channel (ConvNeXt's layer_scale), initialised to `init`",
    options=(OptionSpec("init", "float", 1e-6, doc="the initial scale (a bare number)"),),
    positional="init", shape=_layerscale_shape,
    params=lambda opts, ins, out: ins[0][0]))  # MACs 0: a scale, as for bn (count.py)


def _inorm_shape(opts: dict, ins: list[Shape]) -> Shape:
    _, h, w = spatial(ins, "inorm")
    if h * w == 1:  # each map's own statistics: torch refuses one position in training
        raise ShapeProblem("`inorm` normalises each map over its positions, and a 1x1 map "
                           "has one", "use it before the map shrinks to 1x1, or `bn`")
    return ins[0]


register_layer(OpSpec(
    name="inorm", family="norm", doc="instance normalisation (torch.nn.InstanceNorm2d)",
    options=(_EPS, OptionSpec("affine", "flag", False, doc="learn a scale and a shift")),
    shape=_inorm_shape,
    params=lambda opts, ins, out: 2 * ins[0][0] if opts["affine"] else 0))


def _lrn_shape(opts: dict, ins: list[Shape]) -> Shape:
    spatial(ins, "lrn")
    return ins[0]


register_layer(OpSpec(
    name="lrn", family="norm",
    doc="local response normalisation across channels (as torch: alpha divided by size)",
    options=(OptionSpec("size", "int", 5, minimum=1, doc="neighbouring channels"),
             OptionSpec("alpha", "float", 1e-4, minimum=0, doc="scale"),
             OptionSpec("beta", "float", 0.75, minimum=0, doc="exponent"),
             OptionSpec("k", "float", 2.0, above=0, doc="additive constant")),
    shape=_lrn_shape))
