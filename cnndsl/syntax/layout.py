"""The layout post-lexer: turns the token stream's line structure into grammar tokens.

# NOTE: layout rules
# - A newline ends a logical line only outside brackets: inside ( ) [ ] and < > a spec may
#   break lines freely. Blank lines and comment lines never end anything.
# - A block body ends at the first line that is not indented deeper than its `block`
#   keyword; the post-lexer emits _BLOCK_END there (and at the end of the file).
# - `(` directly after a name, with no space, opens an argument list (CALL_OPEN):
#   `stage(64, 3)` is a call, `relu (conv k3 64)` is a layer followed by a group.
# - `<` and `>` are brackets (`residual< ... >`), except right after `assert NAME`, where
#   they compare.
# - `input` starts the `input` statement only at the start of a line; anywhere else it is
#   a name, the network's input size (`assert macs == 4.1G if input == 3x224x224`).
# - Brackets nest at most MAX_NESTING deep, and a chain of operators (`1+1+...`, `--1`,
#   counted over the brackets it sits in) is at most MAX_OPERATORS long, so that no later
#   recursion (evaluation, lowering, grouping) can overflow Python's stack.
#   Together with MAX_FILE_BYTES (parser.py), MAX_NUMBER_CHARS (transform.py), MAX_LAYERS
#   and MAX_CALL_DEPTH (ir/lower.py) and MAX_ELEMENTS (ops/registry.py) these are
#   the limits that turn hostile input into located errors instead of exhaustion.
"""
from __future__ import annotations

from collections.abc import Iterator

from .lalr import Token

from ..errors import CnnLimitError, CnnSyntaxError
from .source import Source

MAX_NESTING = 100
MAX_OPERATORS = 100

_OPERATOR_TEXT = frozenset(("+", "-", "*", "/", "//"))

_OPENERS = {"LPAR": ")", "CALL_OPEN": ")", "LSQB": "]", "LANGLE": ">"}
_CLOSERS = {"RPAR": ")", "RSQB": "]", "RANGLE": ">"}
# Token types `process` treats specially: everything else is an operand or an operator.
_SPECIAL = frozenset(("NL", "BLOCK", "LESS", "MORE", *_OPENERS, *_CLOSERS))


class Layout:
    """A post-lexer; one instance serves one parse (it holds the source)."""

    always_accept = ("NL", "LESS", "MORE", "LPAR")

    def __init__(self, source: Source) -> None:
        self.source = source

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        stack: list[Token] = []
        block_indent: int | None = None   # column of the open `block` keyword, 0-based
        at_line_start = True
        prev: Token | None = None
        prev2: Token | None = None
        last: Token | None = None          # the last token handed to the parser
        runs = [0]                         # operators in the current chain, per bracket
        for tok in stream:
            if tok.type not in _SPECIAL and tok.value not in _OPERATOR_TEXT:
                # An operand (most tokens): what the general path below does to one, faster.
                if tok.type == "INPUT" and not at_line_start:
                    tok = tok.retyped("NAME")  # the value `input` (see NOTE: layout rules)
                if prev is None or not _is_operator(prev) and prev.type not in _OPENERS:
                    runs[-1] = 0
                at_line_start = False
                prev2, prev = prev, tok
                yield (last := tok)
                continue
            if tok.type == "NL":
                if stack:
                    continue
                if last is not None and last.type not in ("_NL", "_BLOCK_END"):
                    yield (last := self._token("_NL", tok, tok))
                at_line_start = True
                indent = _indent_after(tok.value)
                if block_indent is not None and indent is not None and indent <= block_indent:
                    yield (last := self._token("_BLOCK_END", tok, tok))
                    block_indent = None
                continue
            if at_line_start and not stack and tok.type == "BLOCK":
                if block_indent is not None:
                    raise CnnSyntaxError(
                        "a block cannot be defined inside another block's body",
                        self.source.span(tok.start_pos, tok.end_pos),
                        "start the new `block` at the same indentation as the one before")
                block_indent = self._column(tok)
            at_line_start = False
            tok = self._retype(tok, prev, prev2)
            self._count_operators(runs, tok, prev)
            if tok.type in _OPENERS:
                runs.append(0)
                stack.append(tok)
                if len(stack) > MAX_NESTING:
                    raise CnnLimitError(
                        f"brackets nest more than {MAX_NESTING} levels deep",
                        self.source.span(tok.start_pos, tok.end_pos),
                        "split the network into blocks")
            elif tok.type in _CLOSERS:
                self._close(stack, tok)
                runs.pop()
            prev2, prev = prev, tok
            yield (last := tok)
        if stack:
            opener = stack[-1]
            raise CnnSyntaxError(
                f"`{opener.value}` is never closed",
                self.source.span(opener.start_pos, opener.end_pos),
                f"add `{_OPENERS[opener.type]}` where it ends")
        end = Token("_NL", "", len(self.source.text), len(self.source.text))
        if last is not None and last.type not in ("_NL", "_BLOCK_END"):
            yield self._token("_NL", end, end)
        if block_indent is not None:
            yield self._token("_BLOCK_END", end, end)

    def _retype(self, tok: Token, prev: Token | None, prev2: Token | None) -> Token:
        if tok.type in ("LESS", "MORE"):
            if prev2 is not None and prev2.type == "ASSERT" and prev is not None \
                    and prev.type == "NAME":
                return tok.retyped("LT" if tok.type == "LESS" else "GT")
            return tok.retyped("LANGLE" if tok.type == "LESS" else "RANGLE")
        if tok.type == "LPAR" and prev is not None and prev.type == "NAME" \
                and prev.end_pos == tok.start_pos:
            return tok.retyped("CALL_OPEN")
        return tok

    def _count_operators(self, runs: list[int], tok: Token, prev: Token | None) -> None:
        if _is_operator(tok):
            runs[-1] += 1
            if sum(runs) > MAX_OPERATORS:
                raise CnnLimitError(
                    f"an expression chains more than {MAX_OPERATORS} operators",
                    self.source.span(tok.start_pos, tok.end_pos),
                    "compute it in fewer steps, or use a repeat `* n`")
        elif tok.type not in _CLOSERS and (prev is None or not _is_operator(prev)
                                           and prev.type not in _OPENERS):
            runs[-1] = 0  # two operands in a row: a new word starts

    def _close(self, stack: list[Token], tok: Token) -> None:
        span = self.source.span(tok.start_pos, tok.end_pos)
        if not stack:
            raise CnnSyntaxError(f"`{tok.value}` has no matching opening bracket", span,
                                 "remove it, or open the bracket earlier")
        opener = stack.pop()
        if _OPENERS[opener.type] != _CLOSERS[tok.type]:
            line, col = self.source.position(opener.start_pos)
            raise CnnSyntaxError(
                f"`{tok.value}` closes `{opener.value}` opened at line {line}, column {col}",
                span, f"close it with `{_OPENERS[opener.type]}` first")

    def _column(self, tok: Token) -> int:
        """0-based: characters between the start of the token's line and the token."""
        return tok.start_pos - (self.source.text.rfind("\n", 0, tok.start_pos) + 1)

    @staticmethod
    def _token(kind: str, where: Token, end: Token) -> Token:
        return Token(kind, "", where.start_pos, where.end_pos)


def _is_operator(tok: Token) -> bool:
    return tok.value in _OPERATOR_TEXT and tok.type != "STRING"


def _indent_after(newlines: str) -> int | None:
    """The indentation of the line that follows a run of newlines (None at end of file)."""
    if newlines[-1] == "\n":  # the next line starts at its first column: most lines
        return 0
    tail = newlines.rsplit("\n", 1)[-1]
    if tail.lstrip(" \t\f").startswith("#"):
        return None  # a trailing comment line at the end of the file
    return len(tail.expandtabs(8))
