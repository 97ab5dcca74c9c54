"""Document symbols: the network, its params, its blocks (with their parameters and
labels) and the labels of the network body."""
from __future__ import annotations

from lsprotocol import types as lsp

from .convert import LineMap


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbols(ls, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        return symbols(ls, params.text_document.uri)


def symbols(ls, uri: str) -> list[lsp.DocumentSymbol]:
    text, index = ls.index(uri)
    lines = LineMap(text)

    def symbol(name, kind, start, end, detail=None, children=None) -> lsp.DocumentSymbol:
        where = lines.range(start, end)
        return lsp.DocumentSymbol(name=name, kind=kind, range=where, selection_range=where,
                                  detail=detail, children=children or None)

    found: list[lsp.DocumentSymbol] = []
    tokens = index.tokens
    for prev, tok in zip(tokens, tokens[1:]):
        if prev.type == "NETWORK" and tok.type == "NAME":
            found.append(symbol(tok.value, lsp.SymbolKind.Module, prev.start_pos, tok.end_pos,
                                "network"))
    for occ in index.occurrences:
        if not occ.definition:
            continue
        if occ.kind == "param" and occ.scope is None:
            found.append(symbol(occ.name, lsp.SymbolKind.Variable, occ.start, occ.end, "param"))
        elif occ.kind == "label" and occ.scope is None:
            found.append(symbol(occ.name, lsp.SymbolKind.Field, occ.start, occ.end, "label"))
    for start, end in index.scopes:
        head = next((o for o in index.occurrences if o.kind == "block" and o.definition
                     and start <= o.start <= end), None)
        if head is None:
            continue
        inner = [symbol(o.name, lsp.SymbolKind.Variable if o.kind == "param" else
                        lsp.SymbolKind.Field, o.start, o.end, o.kind)
                 for o in index.occurrences
                 if o.definition and o.scope == (start, end) and o.kind in ("param", "label")]
        found.append(lsp.DocumentSymbol(
            name=head.name, kind=lsp.SymbolKind.Function, detail="block",
            range=lines.range(start, end), selection_range=lines.range(head.start, head.end),
            children=inner or None))
    found.sort(key=lambda s: (s.range.start.line, s.range.start.character))
    return found
