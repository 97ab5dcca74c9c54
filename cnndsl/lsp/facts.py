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


def layers_at(analysis: Analysis, start: int) -> list[int]:
    """The nodes of layers (or merges) written at offset `start` of the document: one per
    instance of the block body or repeat it is in."""
    net = analysis.network
    if net is None:
        return []
    return [n for n in net.layers()
            if (span := net.node(n)["span"]) is not None and span.start == start
            and analysis.owns(span)]


def call_instances(analysis: Analysis, start: int) -> dict[str, list[int]]:
    """The nodes made by the block call written at `start`, by the call's scope path."""
    net = analysis.network
    found: dict[str, list[int]] = {}
    if net is None:
        return found
    for n in net.layers():
        attrs = net.node(n)
        for depth, scope in enumerate(attrs["scope"]):
            if scope.kind == "block" and scope.span is not None and scope.span.start == start \
                    and analysis.owns(scope.span):
                path = ".".join(s.name for s in attrs["scope"][:depth + 1])
                found.setdefault(path, []).append(n)
                break
    return found


def anchor(analysis: Analysis, n: int):
    """Where the document wrote node `n`: its own span, or for a layer of a block defined
    in a used file, the span of the call in this document that made it."""
    attrs = analysis.network.node(n)
    if analysis.owns(attrs["span"]):
        return attrs["span"]
    for scope in reversed(attrs["scope"]):
        if analysis.owns(scope.span):
            return scope.span
    return None


def within(analysis: Analysis, start: int, end: int) -> list[int]:
    """The nodes of layers written between `start` and `end` (all instances)."""
    net = analysis.network
    if net is None:
        return []
    return [n for n in net.layers()
            if (span := anchor(analysis, n)) is not None
            and start <= span.start and span.end <= end]


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
