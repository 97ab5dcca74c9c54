"""infer_shapes: the output shape of every node, from the ops table, without torch.

Lowering calls `node_shape` as it adds each node (options may depend on shapes);
`infer_shapes` recomputes all shapes of a graph, e.g. after a rewriting pass.
Result: `meta["shape"]`, a tuple (C, H, W) or (F,). Notes (severity "note") where a
window's floor division leaves input rows or columns unread.
"""
from __future__ import annotations

from ..errors import CnnShapeError, Diagnostic
from ..ops import OpSpec, RfWindow, ShapeProblem, lookup
from ..ops.geometry import dropped, fmt_shape

MAX_ELEMENTS = 2**34  # one activation this large (64 GiB in fp32) is certainly a mistake

# Equal shapes share one tuple: a long network has few distinct shapes, and a tuple a node.
_SHAPES: dict[tuple[int, ...], tuple[int, ...]] = {}


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
    if len(_SHAPES) >= 100_000 or any(type(v) is not int for v in out):
        return out  # symbolic sizes (the torch backend's probes) equal numbers: kept apart
    return _SHAPES.setdefault(out, out)


def infer_shapes(network, *, inplace: bool = False, **_opts):
    """`network` (a copy unless `inplace`) with `meta["shape"]` recomputed for every node."""
    net = network.for_pass(inplace)
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
        note = dropped_note(attrs, ins)
        if note is not None:
            net.warnings.append(note)
    return net


def dropped_note(attrs: dict, ins: list[tuple[int, ...]]) -> Diagnostic | None:
    """A note where a sliding window never reaches the last rows or columns of its input."""
    spec = lookup(attrs["op"])
    if spec.rf is None or len(ins) != 1 or len(ins[0]) != 3 or attrs["opts"].get("ceil"):
        return None
    steps = spec.rf(attrs["opts"], ins)
    if not isinstance(steps, tuple) or len(steps) != 1 or not isinstance(steps[0], RfWindow):
        return None
    w = steps[0]
    if not all(isinstance(v, int) for v in (*w.k, *w.s, *w.p, *w.d)):
        return None
    # A window narrower than its stride (a strided 1x1 conv) skips rows between windows by
    # design; that the last row is among them says nothing.
    lost = [dropped(n, k, s, p, d) if d * (k - 1) + 1 >= s else 0
            for n, k, s, p, d in zip(ins[0][1:], w.k, w.s, w.p, w.d)]
    if not any(lost):
        return None
    parts = [f"{v} {unit}" for v, unit in zip(lost, ("rows", "columns")) if v]
    return Diagnostic(
        f"`{attrs['name']}` never reads the last {' and '.join(parts)} of its "
        f"{fmt_shape(ins[0])} input (the output size is rounded down)",
        attrs["span"], "pad the input or change the kernel or stride if they matter",
        severity="note")
