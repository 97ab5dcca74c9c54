"""Inlay hints: the output shape at the end of each line that writes layers.

A line in a block body is written once but built once per call: its hint lists the
distinct shapes (a few at most). Lines of an older text that built are carried over by
content (server.py, NOTE: stale analyses)."""
from __future__ import annotations

from lsprotocol import types as lsp

from ..ops.geometry import fmt_shape
from .facts import places

MAX_SHAPES = 3


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT)
    def inlay_hints(ls, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        return hints(ls, params.text_document.uri, params.range)


def hints(ls, uri: str, within: lsp.Range) -> list[lsp.InlayHint]:
    doc = ls.document(uri)
    built = doc.built
    if built is None:
        return []
    text, _ = ls.text(uri)
    lines = ls.lines(uri)
    by_line = shapes_by_line(built)
    found = []
    last = min(within.end.line, len(lines.starts) - 1)
    for line in range(within.start.line, last + 1):
        content = lines.line_text(line)
        if not content.strip():
            continue
        start = doc.map_offset(text, lines.starts[line], built)
        if start is None:
            continue
        shapes = by_line.get(built.lines.line_of(start))
        if not shapes:
            continue
        label = " → " + " | ".join(fmt_shape(s) for s in shapes[:MAX_SHAPES])
        if len(shapes) > MAX_SHAPES:
            label += f" | … ({len(shapes)} shapes)"
        found.append(lsp.InlayHint(
            position=lsp.Position(line=line, character=len(content.rstrip())),
            label=label, kind=lsp.InlayHintKind.Type, padding_left=True))
    return found


def shapes_by_line(analysis) -> dict[int, list[tuple]]:
    """For each line (from 0) of the analysed text: the distinct output shapes of the last
    layer that ends on it, one per instance."""
    cached = getattr(analysis, "_shapes_by_line", None)
    if cached is not None:
        return cached
    net = analysis.network
    last_on_line: dict[int, int] = {}
    spans: dict[int, tuple[int, int]] = {}
    for n, start, end in places(analysis).anchors:
        line = analysis.lines.line_of(end)
        if n > last_on_line.get(line, -1):
            last_on_line[line] = n
        spans.setdefault(n, (start, end))
    by_span: dict[tuple[int, int], list[tuple]] = {}
    for n, where in spans.items():
        shape = tuple(net.node(n)["meta"]["shape"])
        shapes = by_span.setdefault(where, [])
        if shape not in shapes:
            shapes.append(shape)
    result = {line: by_span[spans[n]] for line, n in last_on_line.items()}
    analysis._shapes_by_line = result
    return result
