"""Find references: every use of a block, label or param in the document."""
from __future__ import annotations

from lsprotocol import types as lsp

from .convert import LineMap
from .index import references


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    def find_references(ls, params: lsp.ReferenceParams) -> list[lsp.Location]:
        uri = params.text_document.uri
        text, index = ls.index(uri)
        lines = LineMap(text)
        occ = index.at(lines.offset(params.position))
        if occ is None or occ.kind not in ("block", "label", "param"):
            return []
        found = references(index, occ)
        if not params.context.include_declaration:
            found = [o for o in found if not o.definition]
        return [lsp.Location(uri=uri, range=lines.range(o.start, o.end)) for o in found]
