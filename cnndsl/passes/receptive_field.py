"""receptive_field: where in the input each node's first output pixel looks, per axis.

Result: `meta["rf"]`, a pair (H axis, W axis) of `RfAxis(size, jump, start)` in input
pixels; `meta["rf_global"]`, true where some path saw the whole input (gap, flatten, fc);
`meta["rf_global_branch"]`, true where the output is still a spatial map whose `rf` is that
of its spatial path, but a global branch (the `gap` of a squeeze-and-excitation gate) also
feeds it, so each output pixel depends on the whole input too.
Warnings: misaligned merges, and holes in the receptive field (gridding).

# NOTE: receptive fields on graphs
# Along a path each window step (the op's `rf` rule) moves the field by the seed formulas:
# r_out = r_in + (k-1)·d·j_in, start_out = start_in + ((k-1)·d/2 - p)·j_in, j_out = j_in·s,
# from (1, 1, 0.5) at the input. (The seed formula's centre term (k-1)/2 holds for d = 1; a
# dilated window's centre is (k-1)·d/2 from its first tap, which the gradient confirms.)
# A "global" op is a window over its whole input (k = s = n, p = 0), so its field is every
# input position and the padding reached before it.
# At a merge we follow Araujo et al. (Distill 2019): the paths are aligned when they share
# jump and start (centre); the merged size is then the largest. Otherwise the field has
# no single centre: we warn, naming the branches, and keep the union of the windows.
# Global paths: a path through a global op (gap, flatten, fc) is "collapsed": its value no
# longer varies with position in a way a window describes. At a merge with spatial paths
# (a squeeze-and-excitation gate's `mul`, an image-pooling branch concatenated back) the
# collapsed paths do not enter the field: size, jump and start are the spatial paths'
# alone, so a jump stays the product of the strides along the spatial path. That a global
# branch fed in is kept as a flag (`rf_global_branch`) that follows the path onwards,
# rather than as a size that would describe no window. A merge of collapsed paths only
# (two heads added) is collapsed itself.
# Gridding: besides (r, j, start) we follow the set of input positions one output pixel
# actually reaches (exact for integer strides), and warn where stacked dilated convs leave
# holes in it. A solid window is kept as a `range` rather than a set: its bounds and
# size are O(1), so the pass stays linear in the number of layers on deep networks.
"""
from __future__ import annotations

from typing import NamedTuple

from ..errors import Diagnostic
from ..ops import RfWindow, lookup

MAX_TRACKED = 1 << 14  # positions per axis beyond which holes are not tracked (cost)
_MISSING = object()


class RfAxis(NamedTuple):
    size: float
    jump: float
    start: float


class _Field(NamedTuple):
    axes: tuple[RfAxis, RfAxis]
    is_global: bool  # collapsed: a global op (gap, flatten, fc) lies on every path
    reach: tuple  # per axis: the reached input positions (a range or frozenset), or None
    dilated: int  # dilated convs along the deepest path
    global_branch: bool = False  # spatial, but a collapsed path merged in (see the NOTE)


def receptive_field(network, *, inplace: bool = False, **_opts):
    net = network.for_pass(inplace)
    g = net.graph
    nodes = g.nodes
    fields: dict[int, _Field] = {}
    rules: dict = {}  # see _apply
    # A node's field is dropped once its last reader has used it: on a long chain the
    # fields of every node at once were a third of `check`'s peak memory.
    unread = {n: len(dict.fromkeys(g.out_flat(n)[::2])) for n in nodes}
    for n in net.nodes():
        attrs = nodes[n]  # its fields read as attributes (see NodeAttrs)
        if attrs.op == "input":
            field = _Field((RfAxis(1, 1, 0.5),) * 2, False,
                           (range(1), range(1)), 0)
        else:
            sources = net.inputs(n)
            ins = [fields[i] for i in sources]
            field = _merge(net, n, ins) if len(ins) > 1 else ins[0]
            field = _apply(attrs, field, [nodes[i].meta["shape"] for i in sources], rules)
            _warn_gridding(net, n, ins, field)
            for i in set(sources):
                unread[i] -= 1
                if not unread[i]:
                    del fields[i]
        if unread[n]:
            fields[n] = field
        meta = attrs.meta
        meta["rf"] = _tidy(field.axes)
        meta["rf_global"] = field.is_global or field.global_branch
        meta["rf_global_branch"] = field.global_branch and not field.is_global
    return net


def _apply(attrs, field: _Field, in_shapes: list[tuple[int, ...]], rules: dict) -> _Field:
    """`field` moved by the layer's window. `rules` (one dict per pass) keeps the op's rule
    per option dict and input shapes: a long network's layers share a few option dicts."""
    opts = attrs.opts
    if len(in_shapes) == 1:
        # The graph holds opts, so the id stays its own; the type is the layout (fc's rule
        # depends on it, see ChannelsLast).
        key = (attrs.op, id(opts), type(in_shapes[0]), in_shapes[0])
        rule = rules.get(key, _MISSING)
        if rule is _MISSING:
            rule = rules[key] = _rule(attrs.op, opts, in_shapes)
    else:
        rule = _rule(attrs.op, opts, in_shapes)
    if rule is None:
        return field
    is_global = rule == "global"
    if is_global:
        if len(in_shapes[0]) != 3:
            return field._replace(is_global=True)  # a flat vector already sees everything
        h, w = in_shapes[0][1:]
        rule = (RfWindow((h, w), (h, w), (0, 0)),)
    (h, w), (reach_h, reach_w), dilated = field.axes, field.reach, field.dilated
    for step in rule:
        k, s, p, d = step.k, step.s, step.p, step.d
        if d[0] > 1 or d[1] > 1:
            dilated += 1
        h, reach_h = _step(h, reach_h, k[0], s[0], p[0], d[0])
        w, reach_w = _step(w, reach_w, k[1], s[1], p[1], d[1])
    return _Field((h, w), field.is_global or is_global, (reach_h, reach_w), dilated,
                  field.global_branch)


def _rule(op: str, opts: dict, in_shapes: list[tuple[int, ...]]):
    spec = lookup(op)
    return None if spec.rf is None else spec.rf(opts, in_shapes)


def _step(axis: RfAxis, reach, k, s, p, d):
    size = axis.size + (k - 1) * d * axis.jump
    start = axis.start + ((k - 1) * d / 2 - p) * axis.jump
    return RfAxis(size, axis.jump * s, start), _reach(reach, axis.jump, k, p, d, size)


def _reach(reach, jump, k, p, d, size):
    """Input positions output pixel 0 reaches: its taps, each a shifted copy of the input's
    (shifted by (t·d - p)·jump for tap t)."""
    if reach is None or size > MAX_TRACKED:
        return None
    if (type(jump) is not int or type(p) is not int or type(d) is not int) and not all(
            float((t * d - p) * jump).is_integer() for t in range(k)):
        return None
    if isinstance(reach, range) and (k == 1 or len(reach) > 1 and d * jump <= len(reach)):
        # a solid window stays solid: the taps' copies overlap or touch
        return range(int(reach[0] - p * jump), int(reach[-1] + ((k - 1) * d - p) * jump) + 1)
    shifts = [(t * d - p) * jump for t in range(k)]
    return _solid(frozenset(int(r + v) for r in reach for v in shifts))


def _solid(positions: frozenset):
    """`positions` as a range where it has no holes (see the NOTE)."""
    lo, hi = min(positions), max(positions)
    return range(lo, hi + 1) if hi - lo + 1 == len(positions) else positions


def _bounds(reach) -> tuple[int, int]:
    """The first and last reached position; O(1) for a solid window (see the NOTE)."""
    if isinstance(reach, range):
        return reach[0], reach[-1]
    return min(reach), max(reach)


def _merge(net, n, ins: list[_Field]) -> _Field:
    spatial = [f for f in ins if not f.is_global] or ins  # see the NOTE on global paths
    axes = []
    aligned = True
    for a in (0, 1):
        paths = [f.axes[a] for f in spatial]
        if len({(p.jump, p.start) for p in paths}) > 1:
            aligned = False
            lo = min(p.start - p.size / 2 for p in paths)
            hi = max(p.start + p.size / 2 for p in paths)
            axes.append(RfAxis(hi - lo, max(p.jump for p in paths), (lo + hi) / 2))
        else:
            axes.append(paths[0]._replace(size=max(p.size for p in paths)))
    if not aligned:
        _warn_misaligned(net, n)
    reach = tuple(_union([f.reach[a] for f in spatial]) if aligned else None for a in (0, 1))
    collapsed = all(f.is_global for f in ins)
    global_branch = not collapsed and any(f.is_global or f.global_branch for f in ins)
    return _Field(tuple(axes), collapsed, reach, max(f.dilated for f in spatial),
                  global_branch)


def _union(sets):
    if any(s is None for s in sets):
        return None
    if all(isinstance(s, range) for s in sets):
        ordered = sorted(sets, key=lambda r: r[0])
        hi = ordered[0][-1]
        for r in ordered[1:]:
            if r[0] > hi + 1:
                break
            hi = max(hi, r[-1])
        else:
            return range(ordered[0][0], hi + 1)  # overlapping windows: still solid
    return _solid(frozenset().union(*sets))


def _warn_misaligned(net, n) -> None:
    attrs = net.node(n)
    described = []
    for i in net.inputs(n):
        rf = net.node(i)["meta"]["rf"]
        described.append(f"`{net.node(i)['name']}` (jump {rf[0].jump}x{rf[1].jump}, "
                         f"start {rf[0].start}x{rf[1].start})")
    net.warnings.append(Diagnostic(
        f"the paths merged by `{attrs['name']}` are not aligned: " + ", ".join(described)
        + "; its receptive field has no single centre (the size given is their union)",
        attrs["span"], "give the branches the same total stride and padding",
        severity="warning"))


def _warn_gridding(net, n, ins: list[_Field], field: _Field) -> None:
    if field.dilated < 2 or not _has_holes(field) or any(
            f.dilated >= 2 and _has_holes(f) for f in ins):
        return
    holes = [_hole_count(r) for r in field.reach if r is not None]
    attrs = net.node(n)
    net.warnings.append(Diagnostic(
        f"gridding: after stacked dilated convs the receptive field of `{attrs['name']}` "
        f"has holes ({max(holes)} input positions in its span are never reached)",
        attrs["span"], "use dilation rates without a common factor (e.g. 1, 2, 5) or put "
                       "an undilated conv between the dilated ones", severity="warning"))


def _has_holes(field: _Field) -> bool:
    return any(r is not None and _hole_count(r) for r in field.reach)


def _hole_count(reach) -> int:
    lo, hi = _bounds(reach)
    return hi - lo + 1 - len(reach)


def _tidy(axes) -> tuple[RfAxis, RfAxis]:
    return (_tidy_axis(axes[0]), _tidy_axis(axes[1]))


def _tidy_axis(axis: RfAxis) -> RfAxis:
    size, jump, start = axis
    return RfAxis(size if type(size) is int else _num(size),
                  jump if type(jump) is int else _num(jump),
                  start if type(start) is int else _num(start))


def _num(v):
    """Whole numbers as ints, the rest as floats (start is often x.5)."""
    if type(v) is int:
        return v
    return int(v) if float(v).is_integer() else float(v)
