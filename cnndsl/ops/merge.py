"""The IR's merge nodes, made by composites: `add` (residual, add< >), `concat`
(inception< >, dense< >) and `mul` (gate< >). They are not layer keywords."""
from __future__ import annotations

from .geometry import fmt_shape
from .registry import OpSpec, Shape, ShapeProblem, register_layer


def _add_shape(opts: dict, ins: list[Shape]) -> Shape:
    for shape in ins[1:]:
        if shape != ins[0]:
            raise ShapeProblem(f"cannot add tensors of shapes {fmt_shape(ins[0])} and "
                               f"{fmt_shape(shape)}")
    return ins[0]


def _concat_shape(opts: dict, ins: list[Shape]) -> Shape:
    ranks = {len(s) for s in ins}
    if len(ranks) > 1:
        raise ShapeProblem("cannot concatenate feature maps with flat vectors: "
                           + ", ".join(fmt_shape(s) for s in ins))
    if any(s[1:] != ins[0][1:] for s in ins):
        raise ShapeProblem("cannot concatenate along channels: spatial sizes differ ("
                           + ", ".join(fmt_shape(s) for s in ins) + ")")
    return (sum(s[0] for s in ins), *ins[0][1:])


def _mul_shape(opts: dict, ins: list[Shape]) -> Shape:
    x, gate = ins
    if len(gate) != len(x) or any(g not in (1, v) for g, v in zip(gate, x)):
        raise ShapeProblem(f"the gate's output {fmt_shape(gate)} cannot scale an input of "
                           f"{fmt_shape(x)}", _gate_hint(x, gate))
    return x


def _gate_hint(x: Shape, gate: Shape) -> str:
    """Only what is wrong: the gate's kind of tensor, its channels, or its size."""
    if len(gate) != len(x):
        kind = "a feature map" if len(x) == 3 else "a flat vector"
        return f"the gate must give {kind}, as its input is"
    if gate[0] not in (1, x[0]):
        return (f"the gate must end with {x[0]} channels (the input's, as in "
                f"squeeze-and-excitation) or 1 (one weight per position, as in CBAM's "
                f"spatial attention), not {gate[0]}")
    return (f"the gate's size must be 1x1 (one weight per channel) or the input's "
            f"{fmt_shape(x[1:])}, not {fmt_shape(gate[1:])}")


register_layer(OpSpec(name="add", family="merge", doc="element-wise sum", shape=_add_shape,
                      internal=True, saves=(), channels_last=True))
register_layer(OpSpec(name="concat", family="merge", doc="concatenation along channels",
                      shape=_concat_shape, internal=True, saves=()))
register_layer(OpSpec(name="mul", family="merge", doc="x times a broadcast gate",
                      shape=_mul_shape, internal=True))
register_layer(OpSpec(name="input", family="merge", doc="the network input", internal=True,
                      saves=()))
