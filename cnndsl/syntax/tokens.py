"""The spec's tokens as written, comments and whitespace included: the formatter's and the
language server's view of the text (the grammar's own lexer, without the parser)."""
from __future__ import annotations

import functools

from lark import Lark, Token
from lark.exceptions import UnexpectedInput

from .layout import Layout
from .parser import grammar_text

STATEMENT_KEYWORDS = frozenset(("NETWORK", "INPUT", "PARAM", "USE", "BLOCK", "ASSERT", "OUTPUT",
                                "INIT", "DEFAULT", "IF", "ELSE", "AND", "OR", "NOT"))


_KEPT = ("WS", "COMMENT")


class _KeepLayout:
    """A post-lexer that changes nothing: it only makes lark keep the layout's terminals,
    and whitespace and comments."""

    always_accept = (*Layout.always_accept, *_KEPT)

    def process(self, stream):
        return stream


@functools.lru_cache(maxsize=1)
def lexer() -> Lark:
    # The grammar without its `%ignore`s: whitespace and comments come out as tokens. (lark's
    # `lex(text, dont_ignore=True)` would do the same but builds a new lexer each call.)
    text = grammar_text()
    for name in _KEPT:
        text = text.replace(f"%ignore {name}\n", "")
    return Lark(text, parser=None, lexer="basic", postlex=_KeepLayout())  # a lexer alone


def raw_tokens(text: str):
    """Every token of `text` (WS, COMMENT and NL included); raises lark's
    UnexpectedCharacters where no terminal matches."""
    return lexer().lex(text)


def code_tokens(text: str) -> list[Token]:
    """The tokens that carry meaning, as the parser sees them: comments, whitespace and
    newlines dropped; `<` `>` as LANGLE/RANGLE or LT/GT and a call's `(` as CALL_OPEN (the
    layout post-lexer's rules, see its NOTE). Stops quietly at text no terminal matches."""
    out: list[Token] = []
    stream = raw_tokens(text)
    line_start = True  # `input` is the statement only there (the layout's NOTE)
    try:
        for tok in stream:
            if tok.type in ("WS", "NL", "COMMENT"):
                line_start = line_start or tok.type == "NL"
                continue
            if tok.type == "INPUT" and not line_start:
                tok = Token.new_borrow_pos("NAME", tok.value, tok)
            line_start = False
            out.append(_retype(tok, out))
    except UnexpectedInput:  # a half-typed spec: what lexed so far is kept
        pass
    return out


def comments(text: str) -> list[Token]:
    """The comments of `text` (also those inside newline runs), as COMMENT tokens."""
    found: list[Token] = []
    try:
        for tok in raw_tokens(text):
            if tok.type == "COMMENT":
                found.append(tok)
            elif tok.type == "NL" and "#" in tok.value:
                offset = tok.start_pos
                for line in tok.value.split("\n"):
                    at = line.find("#")
                    if at >= 0:
                        found.append(Token("COMMENT", line[at:].rstrip(),
                                           start_pos=offset + at, end_pos=offset + len(line)))
                    offset += len(line) + 1
    except UnexpectedInput:
        pass
    return found


def _retype(tok: Token, before: list[Token]) -> Token:
    prev = before[-1] if before else None
    prev2 = before[-2] if len(before) > 1 else None
    if tok.type in ("LESS", "MORE"):
        compare = prev2 is not None and prev2.type == "ASSERT" and prev is not None \
            and prev.type == "NAME"
        kind = ("LT" if tok.type == "LESS" else "GT") if compare else \
            ("LANGLE" if tok.type == "LESS" else "RANGLE")
        return Token.new_borrow_pos(kind, tok.value, tok)
    if tok.type == "LPAR" and prev is not None and prev.type == "NAME" \
            and prev.end_pos == tok.start_pos:
        return Token.new_borrow_pos("CALL_OPEN", tok.value, tok)
    return tok
