"""Formatting: the whole document through `cnndsl.format` (as `cnndsl fmt`). A text that
does not parse is left as it is (no edits)."""
from __future__ import annotations

from lsprotocol import types as lsp

from .. import api
from ..errors import CnnError
from .convert import LineMap


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit]:
        uri = params.text_document.uri
        text, _ = ls.text(uri)
        try:
            result = api.format(text, ls.document(uri).path)
        except CnnError:
            return []
        if result == text:
            return []
        return [lsp.TextEdit(range=LineMap(text).range(0, len(text)), new_text=result)]
