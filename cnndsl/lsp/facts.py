"""What the built network says about a place in the text: the layers written there, the
layers a block call or a label made, and their totals. Shared by hover and inlay hints."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..backends.summary import decimal, describe
from ..ops.geometry import fmt_shape
from ..syntax import ast
from .analysis import Analysis


@dataclass(frozen=True)
class Totals:
    layers: int
    params: int
    macs: int
    shape: tuple
    name: str


@dataclass
class Places:
    """The network's layers by where the document wrote them (made once per analysis, on
    the analysis thread, so that a hover looks up instead of scanning the network)."""

    by_start: dict[int, list[int]]                 # a layer's own span start -> nodes
    calls: dict[int, dict[str, list[int]]]         # a call's span start -> scope path -> nodes
    anchors: list[tuple[int, int, int]]            # (node, start, end) of its anchor span


def places(analysis: Analysis) -> Places:
    cached = getattr(analysis, "_places", None)
    if cached is not None:
        return cached
    found = Places({}, {}, [])
    net = analysis.network
    if net is not None:
        for n in net.layers():
            attrs = net.node(n)
            span = attrs["span"]
            if analysis.owns(span):
                found.by_start.setdefault(span.start, []).append(n)
                found.anchors.append((n, span.start, span.end))
            scopes = attrs["scope"]
            owned = None
            for depth, scope in enumerate(scopes):
                if scope.span is not None and analysis.owns(scope.span):
                    owned = scope.span
                    if scope.kind == "block":
                        path = ".".join(s.name for s in scopes[:depth + 1])
                        found.calls.setdefault(scope.span.start, {}).setdefault(
                            path, []).append(n)
            if not analysis.owns(span) and owned is not None:
                found.anchors.append((n, owned.start, owned.end))
    analysis._places = found
    return found


def layers_at(analysis: Analysis, start: int) -> list[int]:
    """The nodes of layers (or merges) written at offset `start` of the document: one per
    instance of the block body or repeat it is in."""
    return places(analysis).by_start.get(start, [])


def call_instances(analysis: Analysis, start: int) -> dict[str, list[int]]:
    """The nodes made by the block call written at `start`, by the call's scope path."""
    return places(analysis).calls.get(start, {})


def within(analysis: Analysis, start: int, end: int) -> list[int]:
    """The nodes of layers written between `start` and `end` (all instances), a layer of a
    block from a used file counted at the call that made it."""
    return [n for n, first, last in places(analysis).anchors if start <= first and last <= end]


def totals(analysis: Analysis, nodes: list[int], name: str = "") -> Totals:
    net = analysis.network
    last = max(nodes)
    meta = [net.node(n)["meta"] for n in nodes]
    return Totals(len(nodes), sum(m.get("params", 0) for m in meta),
                  sum(m.get("macs", 0) for m in meta), net.node(last)["meta"]["shape"], name)


def layer_lines(analysis: Analysis, n: int) -> list[str]:
    """A layer's facts as Markdown lines: what it is, its output and counts."""
    attrs = analysis.network.node(n)
    meta = attrs["meta"]
    rf = meta.get("rf")
    lines = [f"`{attrs['name']}`: `{describe(attrs['op'], attrs['opts'])}`",
             f"output **{fmt_shape(meta['shape'])}** · params {meta.get('params', 0):,} · "
             f"MACs {decimal(meta.get('macs', 0))}"]
    if rf:
        lines[-1] += f" · rf {_axis(rf, 0)} (jump {_axis(rf, 1)})"
    return lines


def totals_line(t: Totals) -> str:
    return (f"`{t.name}`: {t.layers} layers · output **{fmt_shape(t.shape)}** · params "
            f"{t.params:,} · MACs {decimal(t.macs)}")


def _axis(rf, i: int) -> str:
    h, w = rf[0][i], rf[1][i]
    return f"{h:g}" if h == w else f"{h:g}x{w:g}"


def walk(items) -> Iterator:
    """Every item of a sequence, nested ones included."""
    for item in items:
        yield item
        if isinstance(item, ast.Composite):
            for branch in item.branches:
                yield from walk(branch.body.items)
        elif isinstance(item, (ast.Group, ast.Labelled)):
            yield from walk(item.body.items)
        elif isinstance(item, ast.Repeat):
            yield from walk([item.item])


def labelled_at(spec: ast.Spec, start: int) -> ast.Labelled | None:
    """The labelled item whose label is written at `start`."""
    bodies = [spec.body] if spec.body is not None else []
    bodies += [b.body for b in spec.blocks]
    for body in bodies:
        for item in walk(body.items):
            if isinstance(item, ast.Labelled) and item.span.start == start:
                return item
    return None
