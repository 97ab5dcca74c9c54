"""Rename a label or a block: its definition and every use in the document (and the
definition in a used file, for a block defined there)."""
from __future__ import annotations

import re

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams

from .convert import LineMap
from .index import references

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPTION_LIKE = re.compile(r"(?:op|[kspdg])[0-9]+(?:x[0-9]+)?|x[0-9]+")


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    def prepare_rename(ls, params: lsp.PrepareRenameParams):
        uri = params.text_document.uri
        text, index = ls.index(uri)
        lines = LineMap(text)
        occ = index.at(lines.offset(params.position))
        if occ is None or occ.kind not in ("label", "block"):
            return None
        return lsp.PrepareRenamePlaceholder(range=lines.range(occ.start, occ.end),
                                            placeholder=occ.name)

    @server.feature(lsp.TEXT_DOCUMENT_RENAME)
    def rename(ls, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
        return rename_edit(ls, params.text_document.uri, params.position, params.new_name)


def rename_edit(ls, uri: str, position: lsp.Position, new_name: str) -> lsp.WorkspaceEdit | None:
    if not _IDENTIFIER.fullmatch(new_name) or _OPTION_LIKE.fullmatch(new_name):
        raise JsonRpcInvalidParams(f"`{new_name}` cannot name a label or block: use an "
                                   "identifier that does not look like an option (`k3`)")
    text, index = ls.index(uri)
    lines = LineMap(text)
    occ = index.at(lines.offset(position))
    if occ is None or occ.kind not in ("label", "block"):
        return None
    edits = {uri: [lsp.TextEdit(range=lines.range(o.start, o.end), new_text=new_name)
                   for o in references(index, occ)]}
    if occ.kind == "block" and occ.name in index.blocks \
            and occ.name not in index.local_blocks:
        block, path = index.blocks[occ.name]
        other = LineMap(block.span.source.text)
        start = block.span.source.text.find(occ.name, block.span.start + len("block"))
        edits.setdefault(path.as_uri(), []).append(
            lsp.TextEdit(range=other.range(start, start + len(occ.name)), new_text=new_name))
    return lsp.WorkspaceEdit(changes=edits)
