"""Hover: on a layer, its options, output shape, params, MACs and receptive field; on a
block call, the block's signature and the call's totals; on a label or `@ref`, what it
names; on a param, its value; on an option, what it means. Answers that come from an older
text are marked stale (see server.py, NOTE: stale analyses)."""
from __future__ import annotations

from lsprotocol import types as lsp

from ..ops import lookup
from .facts import (
    call_instances,
    labelled_at,
    layer_lines,
    layers_at,
    totals,
    totals_line,
    within,
)
from .index import Occurrence, definition, signature

MAX_INSTANCES = 3
STALE = "*stale: from the last version that built*"


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls, params: lsp.HoverParams) -> lsp.Hover | None:
        return hover_at(ls, params.text_document.uri, params.position)


def hover_at(ls, uri: str, position: lsp.Position) -> lsp.Hover | None:
    current = ls.lines(uri)
    asked = current.offset(position)
    text, index, offset = ls.index_near(uri, asked)
    occ = index.at(offset)
    if occ is None:
        return None
    shift = asked - offset  # from the index's text to the current one (same line)
    doc = ls.document(uri)
    built = doc.built if doc.built is not None else doc.latest
    parts: list[str] = []
    stale = False
    if built is not None and built.network is not None:
        moved = doc.map_offset(text, occ.start, built)
        if moved is not None:
            stale = built.text != text
            target = definition(built, index, occ) if occ.kind == "label" else None
            parts = _facts(built, occ, moved, target, doc.map_offset(text, target.start, built)
                           if target is not None else None)
    parts = _about(ls, uri, index, occ) + parts
    if not parts:
        return None
    if stale:
        parts.append(STALE)
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown,
                                                value="\n\n".join(parts)),
                     range=current.range(occ.start + shift, occ.end + shift))


def _about(ls, uri: str, index, occ: Occurrence) -> list[str]:
    """What the name is, from the text alone."""
    if occ.kind == "layer":
        spec = lookup(occ.name)
        if spec is None:  # a composite head (residual, inception, ...): not in the ops table
            return [f"**{occ.name}**`< >`: see docs/language.md, Composition"]
        return [f"**{occ.name}** ({spec.family}): {spec.doc}".rstrip(": ")]
    if occ.kind == "block":
        block = _block_def(ls, uri, index, occ.name)
        return [f"```cnn\n{signature(block)}\n```"] if block is not None else []
    if occ.kind == "param":
        return [f"param `{occ.name}`" if occ.scope is None else
                f"block parameter `{occ.name}`"]
    if occ.kind == "label":
        return [f"label `{occ.name}`" if occ.definition else f"`@{occ.name}`: the tensor "
                f"labelled `{occ.name}`"]
    if occ.kind == "option":
        return _option_doc(index, occ)
    if occ.kind == "file":
        names = sorted(name for name, (_, path) in index.blocks.items()
                       if path is not None and path.as_posix().endswith(occ.name.lstrip("./")))
        listed = ", ".join(f"`{n}`" for n in names) if names else "no blocks (or it is missing)"
        return [f"use `{occ.name}`: {listed}"]
    return []


def _block_def(ls, uri: str, index, name: str):
    doc = ls.document(uri)
    for analysis in (doc.parsed, doc.built):
        if analysis is not None and analysis.spec is not None:
            for block in analysis.spec.blocks:
                if block.name == name:
                    return block
    return index.blocks[name][0] if name in index.blocks else None


def _option_doc(index, occ: Occurrence) -> list[str]:
    layer = None
    for other in index.occurrences:
        if other.kind == "layer" and other.start < occ.start:
            layer = other
        elif other.start >= occ.start:
            break
    if layer is None:
        return []
    spec = lookup(layer.name)
    if spec is None:
        return []
    for option in spec.options:
        if occ.name in (option.name, option.compact):
            default = "" if option.default is None else f" (default {option.default})"
            return [f"`{layer.name}` option `{option.name}`: {option.doc}{default}"]
    return []


def _facts(built, occ: Occurrence, start: int, target, target_start) -> list[str]:
    if occ.kind == "layer":
        nodes = layers_at(built, start)
        return _instances([layer_lines(built, n) for n in nodes])
    if occ.kind == "block" and not occ.definition:
        calls = call_instances(built, start)
        shown = [totals_line(totals(built, nodes, path)) for path, nodes in calls.items()]
        return _summarise(shown, "calls")
    if occ.kind == "label" and target_start is not None and built.spec is not None:
        item = labelled_at(built.spec, target_start)
        if item is None:
            return []
        nodes = within(built, item.span.start, item.span.end)
        if not nodes:
            return []
        t = totals(built, nodes, item.label)
        line = built.lines.line_of(target_start) + 1
        head = [] if occ.definition else [f"defined at line {line}"]
        return head + [totals_line(t)]
    if occ.kind == "param" and occ.scope is None and built.network is not None:
        value = built.network.params.get(occ.name)
        return [] if value is None else [f"= {value}"]
    return []


def _instances(rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    shown = ["  \n".join(r) for r in rows[:MAX_INSTANCES]]
    if len(rows) > MAX_INSTANCES:
        shown.append(f"… {len(rows)} instances in all")
    return shown


def _summarise(rows: list[str], what: str) -> list[str]:
    if len(rows) <= MAX_INSTANCES:
        return rows
    return rows[:MAX_INSTANCES] + [f"… {len(rows)} {what} in all"]
