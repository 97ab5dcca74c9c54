"""Semantic tokens: keywords, layers, blocks, params, labels, options, numbers, strings,
comments and operators, from the document's tokens and its name index."""
from __future__ import annotations

from lsprotocol import types as lsp

from .convert import LineMap
from .index import document_tokens

TYPES = ["keyword", "class", "function", "parameter", "variable", "label", "property",
         "number", "string", "comment", "operator"]
LEGEND = lsp.SemanticTokensLegend(token_types=TYPES, token_modifiers=["declaration"])
_KIND = {"layer": "class", "block": "function", "label": "label", "option": "property",
         "file": "string"}
_BY_TOKEN = {"NETWORK": "keyword", "INPUT": "keyword", "PARAM": "keyword", "USE": "keyword",
             "BLOCK": "keyword", "ASSERT": "keyword", "NUMBER": "number", "SIZE": "number",
             "REPEAT_LIT": "number", "STRING": "string", "COMPACT": "property",
             "KWNAME": "property"}
_OPERATORS = frozenset(("+", "-", "*", "/", "//", "|", "==", "!=", "<=", ">=", "=", "<", ">"))


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, LEGEND)
    def semantic_tokens(ls, params: lsp.SemanticTokensParams) -> lsp.SemanticTokens:
        return lsp.SemanticTokens(data=encode(ls, params.text_document.uri))


def classify(ls, uri: str) -> list[tuple[int, int, str, bool]]:
    """(start, end, type, is a declaration) of each token worth colouring."""
    text, index = ls.index(uri)
    found: dict[int, tuple[int, int, str, bool]] = {}
    for tok in index.tokens:
        kind = _BY_TOKEN.get(tok.type)
        if kind is None and tok.value in _OPERATORS and tok.type != "STRING":
            kind = "operator"
        if kind is not None:
            found[tok.start_pos] = (tok.start_pos, tok.end_pos, kind, False)
    for occ in index.occurrences:
        kind = "parameter" if occ.kind == "param" and occ.scope is not None else \
            "variable" if occ.kind == "param" else _KIND.get(occ.kind)
        if kind is not None:
            found[occ.start] = (occ.start, occ.end, kind, occ.definition)
    for tok in document_tokens(text, comment_tokens=True):
        found[tok.start_pos] = (tok.start_pos, tok.end_pos, "comment", False)
    return [found[k] for k in sorted(found)]


def encode(ls, uri: str) -> list[int]:
    """The LSP's relative encoding: line delta, start delta, length, type, modifiers."""
    text, _ = ls.text(uri)
    lines = LineMap(text)
    data: list[int] = []
    last_line = last_col = 0
    for start, end, kind, declaration in classify(ls, uri):
        begin, finish = lines.position(start), lines.position(end)
        if finish.line != begin.line:
            continue  # tokens never span lines; a guard for odd input
        delta_line = begin.line - last_line
        delta_col = begin.character - (last_col if delta_line == 0 else 0)
        data += [delta_line, delta_col, finish.character - begin.character, TYPES.index(kind),
                 1 if declaration else 0]
        last_line, last_col = begin.line, begin.character
    return data
