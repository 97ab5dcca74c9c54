"""Layers that regroup channels without weights: `chunk` (one of n equal channel parts,
ShuffleNetV2's split) and `shuffle` (channel shuffle with g groups)."""
from __future__ import annotations

from .geometry import spatial
from .registry import OpSpec, OptionSpec, Shape, ShapeProblem, register_layer


def _resolve_chunk(opts: dict, ins: list[Shape]) -> dict:
    if opts["n"] is None:
        raise ShapeProblem("`chunk` needs its number of parts", "e.g. `chunk 2 i=0`")
    if opts["i"] >= opts["n"]:
        raise ShapeProblem(f"`chunk` part i={opts['i']} does not exist: {opts['n']} parts are "
                           f"numbered 0..{opts['n'] - 1}")
    return opts


def _chunk_shape(opts: dict, ins: list[Shape]) -> Shape:
    c = spatial(ins, "chunk")[0]
    n = opts["n"]
    if c % n:
        raise ShapeProblem(f"`chunk` splits {c} channels into {n} equal parts, but {n} does "
                           f"not divide {c}", "choose a number of parts that divides the "
                                              "channels")
    return (c // n, *ins[0][1:])


register_layer(OpSpec(
    name="chunk", family="tensor",
    doc="part i of the channels split into n equal parts: `chunk 2 i=1` is x.chunk(2, 1)[1]",
    options=(OptionSpec("n", "int", None, minimum=1, doc="number of equal parts (a bare "
                                                            "number, required)"),
             OptionSpec("i", "int", 0, minimum=0, doc="which part, from 0")),
    positional="n", resolve=_resolve_chunk, shape=_chunk_shape, saves=(), view=True))


def _shuffle_shape(opts: dict, ins: list[Shape]) -> Shape:
    c = spatial(ins, "shuffle")[0]
    if opts["g"] is None:
        raise ShapeProblem("`shuffle` needs its number of groups", "e.g. `shuffle 2`")
    if c % opts["g"]:
        raise ShapeProblem(f"`shuffle` groups ({opts['g']}) must divide the channels ({c})")
    return ins[0]


register_layer(OpSpec(
    name="shuffle", family="tensor",
    doc="channel shuffle with g groups (ShuffleNet): channel j*g + i takes channel i*(C/g) + j",
    options=(OptionSpec("g", "int", None, compact="g", minimum=1,
                        doc="groups (a bare number, required)"),),
    positional="g", shape=_shuffle_shape, saves=()))
