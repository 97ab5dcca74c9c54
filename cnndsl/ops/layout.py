"""`nhwc` and `nchw`: a feature map to channels-last storage and back (torchvision's
Permute modules in ConvNeXt's block). See the NOTE on channels-last regions in registry.py."""
from __future__ import annotations

from .registry import ChannelsLast, OpSpec, Shape, ShapeProblem, register_layer


def _nhwc_shape(opts: dict, ins: list[Shape]) -> Shape:
    shape = ins[0]
    if isinstance(shape, ChannelsLast):
        raise ShapeProblem("`nhwc`: the input is already channels-last",
                           "remove this `nhwc`, or put `nchw` before it")
    if len(shape) != 3:
        raise ShapeProblem(f"`nhwc` needs a CxHxW feature map, but its input is a flat "
                           f"vector of {shape[0]}")
    return ChannelsLast(shape)


def _nchw_shape(opts: dict, ins: list[Shape]) -> Shape:
    if not isinstance(ins[0], ChannelsLast):
        raise ShapeProblem("`nchw` needs a channels-last input, but its input is already "
                           "channels-first", "remove this `nchw`, or put `nhwc` before it")
    return tuple(ins[0])


register_layer(OpSpec(
    name="nhwc", family="tensor",
    doc="store the feature map channels-last, (N, H, W, C) (a Permute([0, 2, 3, 1])): `ln` "
        "and `fc` then act per position on the channels",
    shape=_nhwc_shape, saves=(), view=True, channels_last=True))  # its own error
register_layer(OpSpec(
    name="nchw", family="tensor",
    doc="back to channels-first, (N, C, H, W) (a Permute([0, 3, 1, 2]))",
    shape=_nchw_shape, saves=(), view=True, channels_last=True))
