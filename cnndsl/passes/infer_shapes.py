"""infer_shapes: the output shape of every node, from the ops table, without torch.

Lowering calls `node_shape` (cnndsl/ops/registry.py) as it adds each node (options may
depend on shapes); `infer_shapes` recomputes all shapes of a graph, e.g. after a rewriting
pass.
Result: `meta["shape"]`, a tuple (C, H, W) or (F,). Notes (severity "note") where a
window's floor division leaves input rows or columns unread.
"""
from __future__ import annotations

from ..errors import CnnShapeError, Diagnostic
from ..ops import ChannelsLast, MAX_ELEMENTS, RfWindow, ShapeProblem, lookup, node_shape
from ..ops.geometry import dropped, fmt_shape

__all__ = ["MAX_ELEMENTS", "dropped_note", "infer_shapes", "node_shape"]

_MISSING = object()


def infer_shapes(network, *, inplace: bool = False, lowered: bool = False, **_opts):
    """`network` (a copy unless `inplace`) with `meta["shape"]` recomputed for every node.
    `lowered`: the network is what lowering made, unchanged since; lowering computed every
    shape by these same rules as it added the node, so they are kept (the notes and
    warnings below are still made)."""
    net = network.for_pass(inplace)
    g = net.graph
    nodes = g.nodes
    notes: dict = {}  # see dropped_note
    # Per node, the NodeAttrs' fields are read as attributes (see NodeAttrs).
    for n in net.nodes():
        attrs = nodes[n]
        meta = attrs.meta
        if attrs.op == "input":
            meta["shape"] = net.input_shape
            continue
        ins = [nodes[i].meta["shape"] for i in net.inputs(n)]
        if not lowered:
            try:
                meta["shape"] = node_shape(lookup(attrs.op), attrs.opts, ins)
            except ShapeProblem as problem:
                raise CnnShapeError(problem.message, attrs.span, problem.hint) from None
        note = dropped_note(attrs, ins, notes)
        if note is not None:
            net.warnings.append(note)
        if attrs.opts.get("inplace") is True:
            warning = shared_inplace_warning(net, n)
            if warning is not None:
                net.warnings.append(warning)
    for n in (*net.outputs, *net.aux_outputs):
        if isinstance(nodes[n]["meta"]["shape"], ChannelsLast):
            raise CnnShapeError("the network's output is channels-last (after `nhwc`)",
                                nodes[n]["span"], "end the channels-last part with `nchw`")
    return net


def shared_inplace_warning(net, n: int) -> Diagnostic | None:
    """A warning where a layer asked to work in place (`dropout inplace`) would overwrite,
    in training, a tensor that something else reads (through views such as `flatten`),
    or the caller's input."""
    step, u = n, net.inputs(n)[0]
    while True:
        readers = net.consumers(u)
        if u == net.input or u in net.outputs or u in net.aux_outputs or len(readers) > 1:
            others = [net.node(r)["name"] for r in readers if r != step]
            what = f"`{others[0]}` also reads" if others else "the network returns or " \
                "is given"
            attrs = net.node(n)
            return Diagnostic(
                f"`{attrs['op']} inplace` overwrites in training a tensor that {what}",
                attrs["span"], "drop `inplace`: it changes no result, only memory",
                severity="warning")
        if not lookup(net.node(u)["op"]).view:
            return None
        step, u = u, net.inputs(u)[0]


def dropped_note(attrs, ins: list[tuple[int, ...]], cache: dict | None = None
                 ) -> Diagnostic | None:
    """A note where a sliding window never reaches the last rows or columns of its input.
    `cache` (one dict per pass) keeps the rows lost per option dict and input shape: the
    layers of a long network share a few option dicts (see shared_options)."""
    if len(ins) != 1:
        return None
    opts = attrs["opts"]
    if cache is None:
        lost = _lost(attrs["op"], opts, ins[0])
    else:
        # The graph holds opts, so the id stays its own; the type is the layout.
        key = (attrs["op"], id(opts), type(ins[0]), ins[0])
        lost = cache.get(key, _MISSING)
        if lost is _MISSING:
            lost = cache[key] = _lost(attrs["op"], opts, ins[0])
    if lost is None:
        return None
    parts = [f"{v} {unit}" for v, unit in zip(lost, ("rows", "columns")) if v]
    return Diagnostic(
        f"`{attrs['name']}` never reads the last {' and '.join(parts)} of its "
        f"{fmt_shape(ins[0])} input (the output size is rounded down)",
        attrs["span"], "pad the input or change the kernel or stride if they matter",
        severity="note")


def _lost(op: str, opts: dict, in_shape: tuple[int, ...]) -> list[int] | None:
    """Rows and columns a layer's window never reaches, or None where it reaches all."""
    spec = lookup(op)
    if spec.rf is None or len(in_shape) != 3 or opts.get("ceil") \
            or opts.get("p_after"):  # TensorFlow's SAME reads every row
        return None
    steps = spec.rf(opts, [in_shape])
    if not isinstance(steps, tuple) or len(steps) != 1 or not isinstance(steps[0], RfWindow):
        return None
    w = steps[0]
    if not all(isinstance(v, int) for v in (*w.k, *w.s, *w.p, *w.d)):
        return None
    # A window narrower than its stride (a strided 1x1 conv) skips rows between windows by
    # design; that the last row is among them says nothing.
    lost = [dropped(n, k, s, p, d) if d * (k - 1) + 1 >= s else 0
            for n, k, s, p, d in zip(in_shape[1:], w.k, w.s, w.p, w.d)]
    return lost if any(lost) else None
