"""The formatter: one canonical layout for a spec, keeping every comment where it was written.

It is a syntax-level backend driven by the token stream of the spec's own lexer (the
grammar's terminals, with whitespace and comments kept), so a new construct in the grammar
needs no change here. `format_text` refuses a spec that does not parse, and checks that what
it writes parses to the same AST (spans aside) before returning it.

# NOTE: canonical layout
# - Statements (`network`, `input`, `param`, `use`, `block`) start at column 0; block body
#   lines are indented 4 spaces a level. Indentation levels inside a body are kept as
#   levels (a line indented deeper than the one before it is one level deeper), so a
#   construct whose meaning rests on indentation keeps it.
# - Line breaks are the author's: the formatter never joins or splits lines. Blank lines
#   collapse to one; none at the start or the end of the file.
# - Within a line, tokens are one space apart, except: none after `(` `[` and a keyword
#   option's `=`, none before `)` `]` `,` and a body's `<`; one after `,`. Where the author
#   wrote two tokens touching (`stage(`, `4*c`, `-1`) they stay touching: a name touching
#   `(` is a call, and `*` next to its operands reads as a product.
# - Labels at the start of lines: in a run of consecutive lines (no blank line between) at
#   the same level, what follows the labels starts at one column, and unlabelled lines of
#   the run start there too (`conv1:  conv ...` / `layer1: stage(...)` / `        gap`).
#   The first line after a block body starts at column 0, where the body ends.
# - A line that continues inside brackets is aligned to its bracket: inside `< >`, `|` and
#   `>` under the `<` and layers two columns right of it; inside `( )` `[ ]`, one column
#   right of the bracket. A bracket that ends its line indents what follows by 4.
# - A comment on a line of its own takes the indentation of the next line of code; the
#   trailing comments of consecutive lines line up, two spaces after the longest line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, is_dataclass

from lark import Token

from ..errors import CnnError
from .parser import make_source, parse
from .source import Source
from .tokens import raw_tokens

INDENT = 4
_STATEMENTS = frozenset(("NETWORK", "INPUT", "PARAM", "USE", "OUTPUT", "INIT"))
_OPEN = {"(": ")", "[": "]", "<": ">"}
_CLOSE = frozenset((")", "]", ">"))
_COMPARISONS = frozenset(("==", "!=", "<=", ">=", "<", ">"))


class FormatError(CnnError):
    """The formatter could not keep the spec's meaning (a bug in cnndsl, never the spec's)."""


def format_text(text: str | bytes, path=None) -> str:
    """`text` in the canonical layout (see the NOTE above). Raises the spec's `CnnError`
    if it does not parse; the result parses to the same AST."""
    before = parse(text, path)
    source = make_source(text, path)
    result = _print(_physical_lines(source))
    try:
        after = parse(result, path)
    except CnnError as exc:
        raise FormatError("the formatted spec does not parse; the file is left as it was",
                          before.span.source.span(0, 0),
                          f"please report this bug in cnndsl ({exc.message})") from None
    if ast_key(before) != ast_key(after):
        raise FormatError("formatting would change the spec's meaning; the file is left as "
                          "it was", before.span.source.span(0, 0),
                          "please report this bug in cnndsl")
    return result


def ast_key(node):
    """An AST as plain tuples without spans: equal keys, the same spec."""
    if is_dataclass(node):
        return (type(node).__name__,) + tuple(
            ast_key(getattr(node, f.name)) for f in fields(node)
            if f.name != "span" and f.name != "source")
    if isinstance(node, (tuple, list)):
        return tuple(ast_key(v) for v in node)
    return node


# --- physical lines ------------------------------------------------------------------------

@dataclass
class _Line:
    """One physical line: its tokens (with whether whitespace came before each), its
    trailing comment, and its indentation as written."""

    indent: int = 0
    tokens: list[Token] = field(default_factory=list)
    spaced: list[bool] = field(default_factory=list)
    comment: str | None = None

    @property
    def blank(self) -> bool:
        return not self.tokens and self.comment is None


def _physical_lines(source: Source) -> list[_Line]:
    lines = [_Line()]
    spaced = False
    for tok in raw_tokens(source.text):
        line = lines[-1]
        if tok.type == "WS":
            if not line.tokens and line.comment is None:
                line.indent = len(tok.value.expandtabs(8))
            spaced = True
        elif tok.type == "COMMENT":
            line.comment = tok.value.rstrip()
        elif tok.type == "NL":
            *middle, last = tok.value.replace("\r", "").split("\n")[1:]
            for seg in middle:
                body = seg.strip(" \t\f")
                lines.append(_Line(comment=body if body else None))
            body = last.lstrip(" \t\f")
            lines.append(_Line(indent=len(last[:len(last) - len(body)].expandtabs(8)),
                               comment=body or None))
            spaced = False
        else:
            line.tokens.append(tok)
            line.spaced.append(spaced)
            spaced = False
    return lines


# --- the canonical layout ------------------------------------------------------------------

@dataclass
class _Code:
    """A line of code placed in the layout: its kind, level and label."""

    line: _Line
    kind: str          # statement, header, top, body, continuation
    level: int = 0
    label: str | None = None
    after_body: bool = False
    width: int = 0     # the label column of its run


def _classify(lines: list[_Line]) -> list[_Code | _Line]:
    placed: list[_Code | _Line] = []
    depth = 0
    block_levels: list[int] | None = None
    previous_kind = None
    for line in lines:
        if not line.tokens:
            placed.append(line)
            continue
        first = line.tokens[0]
        if depth:
            code = _Code(line, "continuation")
        elif first.type == "BLOCK":
            code = _Code(line, "header")
            block_levels = [line.indent]
        elif block_levels is not None and line.indent > block_levels[0]:
            while len(block_levels) > 1 and block_levels[-1] > line.indent:
                block_levels.pop()
            if block_levels[-1] < line.indent:
                block_levels.append(line.indent)
            code = _Code(line, "body", level=len(block_levels) - 1)
        else:
            block_levels = None
            kind = "statement" if first.type in _STATEMENTS else "top"
            code = _Code(line, kind, after_body=previous_kind in ("header", "body"))
        if code.kind in ("top", "body") and first.type == "LABEL":
            code.label = _label_text(first.value)
        placed.append(code)
        if code.kind != "continuation":
            previous_kind = code.kind
        depth = _depth_after(line, depth)
    _align_labels(placed)
    return placed


def _depth_after(line: _Line, depth: int) -> int:
    for i, tok in enumerate(line.tokens):
        if tok.value in ("(", "[") or (tok.value == "<" and not _is_comparison(line, i)):
            depth += 1
        elif tok.value in (")", "]") or (tok.value == ">" and not _is_comparison(line, i)):
            depth = max(0, depth - 1)
    return depth


def _is_comparison(line: _Line, i: int) -> bool:
    """`<` `>` compare right after `assert NAME` (as the layout post-lexer decides)."""
    return i >= 2 and line.tokens[i - 2].type == "ASSERT" and line.tokens[i - 1].type == "NAME"


def _align_labels(placed: list) -> None:
    run: list[_Code] = []

    def close() -> None:
        width = max((len(c.label) + 1 for c in run if c.label), default=0)
        for c in run:
            c.width = width
        for c in reversed(run):  # the asserts that end a run stand at its margin
            if c.line.tokens[0].type != "ASSERT":
                break
            c.width = 0
        run.clear()

    for item in placed:
        if isinstance(item, _Line):
            if item.blank:
                close()
            continue
        if item.kind == "continuation":
            continue
        if item.kind not in ("top", "body") or (run and (run[0].kind, run[0].level) !=
                                                 (item.kind, item.level)):
            close()
        if item.kind in ("top", "body"):
            run.append(item)
    close()


@dataclass
class _Open:
    char: str
    col: int
    line_col: int
    hanging: bool = False


def _print(lines: list[_Line]) -> str:
    placed = _classify(lines)
    out: list[tuple[str, str | None] | None] = []  # (code, comment); None for a blank line
    pending_comments: list[int] = []               # comment-only lines awaiting a column
    stack: list[_Open] = []
    is_param = False
    for item in placed:
        if isinstance(item, _Line):
            if item.blank:
                if out and out[-1] is not None:
                    out.append(None)
            else:
                pending_comments.append(len(out))
                out.append(("", item.comment))
            continue
        start = _start_column(item, stack)
        for i in pending_comments:
            out[i] = (" " * start + out[i][1], None)
        pending_comments.clear()
        line = item.line
        is_param = line.tokens[0].type == "PARAM" if item.kind == "statement" else is_param
        pieces = [" " * start]
        col = start
        opened_here: list[_Open] = []
        for i, tok in enumerate(line.tokens):
            word = _token_text(tok, is_param and item.kind == "statement")
            if i == 0 and item.label is not None and item.width:
                word = word.ljust(item.width - 1)
            elif i > 0:
                gap = _gap(line, i, is_param and item.kind == "statement")
                pieces.append(" " * gap)
                col += gap
            if tok.value in _OPEN and not (tok.value == "<" and _is_comparison(line, i)):
                stack.append(_Open(tok.value, col, start))
                opened_here.append(stack[-1])
            elif tok.value in _CLOSE and stack and not (tok.value == ">"
                                                         and _is_comparison(line, i)):
                stack.pop()
            pieces.append(word)
            col += len(word)
        if opened_here and opened_here[-1] is (stack[-1] if stack else None) \
                and opened_here[-1].col + 1 == col:
            opened_here[-1].hanging = True  # the bracket ends the line
        out.append(("".join(pieces).rstrip(), line.comment))
    for i in pending_comments:
        out[i] = (out[i][1], None)
    while out and out[-1] is None:
        out.pop()
    return _join(out)


def _start_column(item: _Code, stack: list[_Open]) -> int:
    line = item.line
    if item.kind == "continuation" and stack:
        opened = stack[-1]
        first = line.tokens[0].value
        closes = first == _OPEN[opened.char] or (opened.char == "<" and first == "|")
        if opened.hanging:
            if closes:
                return opened.line_col + (INDENT // 2 if opened.char == "<" else 0)
            return opened.line_col + INDENT
        if opened.char == "<":
            return opened.col + (0 if closes else 2)
        return opened.col + (0 if closes else 1)
    if item.kind == "body":
        return INDENT * item.level
    if item.kind == "top" and item.label is None and item.width and not item.after_body:
        return item.width
    return 0


def _token_text(tok: Token, in_param: bool) -> str:
    if tok.type == "LABEL":
        return _label_text(tok.value)
    if tok.type == "KWNAME":
        name = tok.value[:-1].rstrip()
        return f"{name} =" if in_param else f"{name}="
    return tok.value


def _label_text(value: str) -> str:
    return re.sub(r"[ \t]*:$", ":", value)


def _gap(line: _Line, i: int, in_param: bool) -> int:
    prev, tok = line.tokens[i - 1], line.tokens[i]
    p, t = prev.value, tok.value
    if p in ("(", "[") or t in (")", "]", ","):
        return 0
    if prev.type == "KWNAME":
        return 1 if in_param else 0
    if p == "," or t == "|" or p == "|" or prev.type == "LABEL":
        return 1
    if t == ":":
        return 0
    if t == "<":
        return 1 if _is_comparison(line, i) else 0
    if t in _COMPARISONS or p in _COMPARISONS:
        return 1
    return 1 if line.spaced[i] else 0


def _join(out: list) -> str:
    """The lines with their trailing comments, lined up within each paragraph."""
    rows: list[str] = []
    i = 0
    while i < len(out):
        if out[i] is None:
            rows.append("")
            i += 1
            continue
        j = i
        while j < len(out) and out[j] is not None:
            j += 1
        commented = [out[k][0] for k in range(i, j) if out[k][1] is not None]
        column = max(map(len, commented), default=0) + 2
        rows.extend(out[k][0] if out[k][1] is None else out[k][0].ljust(column) + out[k][1]
                    for k in range(i, j))
        i = j
    return "\n".join(rows).rstrip("\n") + "\n" if rows else ""
