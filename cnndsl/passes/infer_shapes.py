"""infer_shapes: the output shape of every node, from the ops table, without torch.

Lowering calls `node_shape` as it adds each node (options may depend on shapes);
`infer_shapes` recomputes all shapes of a graph, e.g. after a rewriting pass.
Result: `meta["shape"]`, a tuple (C, H, W) or (F,).
"""
from __future__ import annotations

from ..errors import CnnShapeError
from ..ops import OpSpec, ShapeProblem, lookup
from ..ops.geometry import fmt_shape

MAX_ELEMENTS = 2**34  # one activation this large (64 GiB in fp32) is certainly a mistake


def node_shape(spec: OpSpec, opts: dict, ins: list[tuple[int, ...]]) -> tuple[int, ...]:
    out = tuple(spec.shape(opts, ins))
    if not out or any(not isinstance(v, int) or v <= 0 for v in out):
        raise ShapeProblem(f"`{spec.name}` gives an invalid shape {out}")
    size = 1
    for v in out:
        size *= v
    if size > MAX_ELEMENTS:
        raise ShapeProblem(f"`{spec.name}` output {fmt_shape(out)} has {size:,} elements per "
                           "example, more than any memory holds",
                           "check the channel counts and the input size")
    return out


def infer_shapes(network, **_opts):
    """A copy of `network` with `meta["shape"]` recomputed for every node."""
    net = network.copy()
    g = net.graph
    for n in net.nodes():
        attrs = g.nodes[n]
        if attrs["op"] == "input":
            attrs["meta"]["shape"] = net.input_shape
            continue
        ins = [g.nodes[i]["meta"]["shape"] for i in net.inputs(n)]
        try:
            attrs["meta"]["shape"] = node_shape(lookup(attrs["op"]), attrs["opts"], ins)
        except ShapeProblem as problem:
            raise CnnShapeError(problem.message, attrs["span"], problem.hint) from None
    return net
