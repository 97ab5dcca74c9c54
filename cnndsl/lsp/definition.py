"""Go to definition: of a block (also one defined in a used file), a label (from `@ref`),
a param, and the file a `use` names."""
from __future__ import annotations

from lsprotocol import types as lsp

from .convert import LineMap
from .index import Target, definition


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def goto_definition(ls, params: lsp.DefinitionParams) -> lsp.Location | None:
        return locate(ls, params.text_document.uri, params.position)


def locate(ls, uri: str, position: lsp.Position) -> lsp.Location | None:
    text, index = ls.index(uri)
    lines = LineMap(text)
    occ = index.at(lines.offset(position))
    if occ is None:
        return None
    doc = ls.document(uri)
    target = definition(doc.latest, index, occ) if doc.latest is not None else None
    if target is None and occ.kind != "file":
        target = definition(None, index, occ)
    return location(uri, lines, target) if target is not None else None


def location(uri: str, lines: LineMap, target: Target) -> lsp.Location:
    if target.path is None:
        return lsp.Location(uri=uri, range=lines.range(target.start, target.end))
    try:
        other = LineMap(target.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        other = LineMap("")
    return lsp.Location(uri=target.path.as_uri(), range=other.range(target.start, target.end))
