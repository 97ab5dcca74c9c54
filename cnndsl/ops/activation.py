"""Activations: elementwise, so shape and receptive field pass through unchanged."""
from __future__ import annotations

from .registry import OpSpec, OptionSpec, Shape, ShapeProblem, register_layer

for _name, _doc in (
        ("relu", "rectified linear unit"), ("relu6", "ReLU clipped at 6"),
        ("elu", "exponential linear unit"), ("sigmoid", "logistic sigmoid"),
        ("tanh", "hyperbolic tangent"), ("gelu", "Gaussian error linear unit"),
        ("silu", "sigmoid-weighted linear unit (swish)"),
        ("hardswish", "x * relu6(x + 3) / 6 (MobileNetV3)"),
        ("hardsigmoid", "relu6(x + 3) / 6 (MobileNetV3's gates)"),
        ("softmax", "softmax over the channels")):
    # These four compute their gradient from their result, the rest from their input.
    _saves = ("output",) if _name in ("relu", "sigmoid", "tanh", "softmax") else ("input",)
    register_layer(OpSpec(name=_name, family="activation", doc=_doc, saves=_saves,
                          channels_last=_name != "softmax"))  # softmax is over dim 1

register_layer(OpSpec(
    name="leaky", family="activation", doc="leaky ReLU: `leaky(0.1)`",
    options=(OptionSpec("slope", "float", 0.01, minimum=0, doc="negative slope"),),
    positional="slope", channels_last=True))


def _prelu_shape(opts: dict, ins: list[Shape]) -> Shape:
    if opts["n"] not in (1, ins[0][0]):
        raise ShapeProblem(f"`prelu` learns 1 slope or one per channel ({ins[0][0]}), "
                           f"not {opts['n']}")
    return ins[0]


register_layer(OpSpec(
    name="prelu", family="activation", doc="parametric ReLU: one learned slope, or `prelu in` "
                                           "for one per channel",
    options=(OptionSpec("n", "int", 1, minimum=1, doc="number of slopes"),),
    positional="n", shape=_prelu_shape, params=lambda opts, ins, out: opts["n"]))

register_layer(OpSpec(
    name="scale", family="activation",
    doc="multiply by a constant: `scale 0.17` (Inception-ResNet's residual scaling)",
    options=(OptionSpec("factor", "float", 1.0, doc="the constant"),),
    positional="factor", channels_last=True,
    saves=()))  # the gradient is the constant: nothing kept
