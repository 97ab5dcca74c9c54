"""Where names are defined and used in one document: blocks, labels, params, used files,
layers. Read from the tokens (exact positions, also for a text that no longer parses) and
the AST (which blocks exist, where block bodies end, what used files define)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from lark import Token

from ..ops import layer_names
from ..syntax import ast
from ..syntax.tokens import code_tokens, comments
from .analysis import Analysis, use_base

FUNCTIONS = frozenset(("min", "max", "round", "ceil", "floor", "divisible"))
COMPOSITES = frozenset(("residual", "inception", "concat", "add", "gate", "dense", "aux"))


class Occurrence(NamedTuple):
    """A name at `start:end` of the document. `kind` is block, label, param, layer, file or
    option; `scope` is the (start, end) of the block body it is in, or None."""

    kind: str
    name: str
    start: int
    end: int
    definition: bool = False
    scope: tuple[int, int] | None = None


# Tokens that never name anything (the index skips them unless in a block head).
_PLAIN = frozenset(("NUMBER", "SIZE", "COMMA", "LPAR", "RPAR", "LSQB", "RSQB", "LANGLE",
                    "RANGLE", "VBAR", "MINUS", "STAR", "SLASH", "PLUS", "REPEAT_LIT"))


class Tok(NamedTuple):
    """A token of the document (the fields of lark's Token that the index reads)."""

    type: str
    value: str
    start_pos: int
    end_pos: int
    line: int
    column: int

    @property
    def end_line(self) -> int:
        return self.line


# NOTE: tokens by line
# Lexing a 10,000-layer spec takes half a second, and an editor asks for the index after
# every keystroke. No token spans lines (strings and comments end at the line's end), so
# each line is lexed alone and remembered by its text: a keystroke re-lexes one line.
_LINE_TOKENS: dict[str, tuple[tuple, tuple]] = {}
MAX_REMEMBERED_LINES = 100_000


def document_tokens(text: str, *, comment_tokens: bool = False) -> list[Tok]:
    """The code tokens of `text` (as `code_tokens` gives them), lexed line by line; or, with
    `comment_tokens`, its comments."""
    found: list[Tok] = []
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        known = _LINE_TOKENS.get(line)
        if known is None:
            known = (tuple((t.type, t.value, t.start_pos, t.end_pos) for t in code_tokens(line)),
                     tuple((t.type, t.value, t.start_pos, t.end_pos) for t in comments(line)))
            if len(_LINE_TOKENS) >= MAX_REMEMBERED_LINES:
                _LINE_TOKENS.clear()
            _LINE_TOKENS[line] = known
        found.extend(Tok(kind, value, offset + start, offset + end, number, start + 1)
                     for kind, value, start, end in known[comment_tokens])
        offset += len(line) + 1
    return found


@dataclass(frozen=True)
class Target:
    """Where a name is defined: in this document (`path` None) or in a used file."""

    kind: str
    name: str
    path: Path | None
    start: int
    end: int
    text: str = ""


@dataclass
class Index:
    occurrences: list[Occurrence] = field(default_factory=list)
    blocks: dict[str, tuple[ast.BlockDef, Path | None]] = field(default_factory=dict)
    local_blocks: set[str] = field(default_factory=set)
    scopes: list[tuple[int, int]] = field(default_factory=list)
    tokens: list = field(default_factory=list)

    def at(self, offset: int) -> Occurrence | None:
        best = None
        for occ in self.occurrences:
            if occ.start <= offset <= occ.end and (best is None or occ.start > best.start):
                best = occ
        return best

    def named(self, kind: str, name: str) -> list[Occurrence]:
        return [o for o in self.occurrences if o.kind == kind and o.name == name]


def build_index(tokens: list[Token], used: dict[Path, ast.Spec]) -> Index:
    """The index of a document from its tokens and the specs it uses."""
    index = Index()
    for used_path, used_spec in used.items():
        for block in used_spec.blocks:
            index.blocks.setdefault(block.name, (block, used_path))
    block_scopes = block_extents(tokens)
    block_params: dict[tuple[int, int], set[str]] = {scope: set() for scope in block_scopes}
    spec_params: set[str] = set()
    for i, tok in enumerate(tokens):
        if tok.type == "KWNAME" and i and tokens[i - 1].type == "PARAM":
            spec_params.add(tok.value.rstrip("=").rstrip())
    for scope, names in block_params.items():
        names.update(_head_params(tokens, scope))
    local_blocks = _local_blocks(tokens)
    layers = set(layer_names()) | COMPOSITES

    upcoming = list(reversed(block_scopes))  # tokens come in order: a moving window

    def scope_of(offset: int) -> tuple[int, int] | None:
        while upcoming and upcoming[-1][1] < offset:
            upcoming.pop()
        if upcoming and upcoming[-1][0] <= offset:
            return upcoming[-1]
        return None

    add = index.occurrences.append
    head_depth = 0  # inside a block head's parameter list
    for i, tok in enumerate(tokens):
        if tok.type in _PLAIN and not head_depth:
            continue
        prev = tokens[i - 1] if i else None
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        start = tok.start_pos
        if head_depth:
            if tok.type in ("CALL_OPEN", "LPAR", "LSQB"):
                head_depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                head_depth -= 1
            elif head_depth == 1 and tok.type in ("NAME", "KWNAME") and prev is not None \
                    and prev.type in ("CALL_OPEN", "COMMA"):
                name = tok.value.rstrip("=").rstrip()
                add(Occurrence("param", name, start, start + len(name), True, scope_of(start)))
                continue
        if tok.type == "BLOCK" and nxt is not None and nxt.type in ("NAME", "LABEL"):
            continue
        if prev is not None and prev.type == "BLOCK" and tok.type in ("NAME", "LABEL"):
            name = tok.value.rstrip(":").rstrip()
            add(Occurrence("block", name, start, start + len(name), True))
            if nxt is not None and nxt.type == "CALL_OPEN":
                head_depth = 0  # the CALL_OPEN below opens it
            continue
        if tok.type == "CALL_OPEN" and prev is not None and i >= 2 \
                and tokens[i - 2].type == "BLOCK":
            head_depth = 1
            continue
        scope = scope_of(start)
        if tok.type == "KWNAME" and prev is not None and prev.type == "PARAM":
            name = tok.value.rstrip("=").rstrip()
            add(Occurrence("param", name, start, start + len(name), True))
        elif tok.type == "LABEL":
            name = tok.value.rstrip(":").rstrip()
            add(Occurrence("label", name, start, start + len(name), True, scope))
        elif tok.type == "REF":
            add(Occurrence("label", tok.value[1:], start + 1, tok.end_pos, False, scope))
        elif tok.type == "STRING" and prev is not None and prev.type == "USE":
            add(Occurrence("file", tok.value.strip('"'), start, tok.end_pos, False))
        elif tok.type in ("COMPACT", "KWNAME"):
            name = tok.value.rstrip("=").rstrip() if tok.type == "KWNAME" else \
                ("op" if tok.value.startswith("op") else tok.value[0])
            add(Occurrence("option", name, start, start + len(name), False, scope))
        elif tok.type == "NAME":
            name = tok.value
            if name in spec_params or (scope is not None and name in block_params[scope]):
                add(Occurrence("param", name, start, tok.end_pos, False, scope))
            elif name in index.blocks or name in local_blocks:
                add(Occurrence("block", name, start, tok.end_pos, False, scope))
            elif name in layers:
                add(Occurrence("layer", name, start, tok.end_pos, False, scope))
            elif name not in FUNCTIONS and name != "in" and nxt is not None \
                    and nxt.type == "CALL_OPEN":
                add(Occurrence("block", name, start, tok.end_pos, False, scope))
    index.local_blocks = local_blocks
    index.scopes = block_scopes
    index.tokens = tokens
    return index


def block_extents(tokens: list[Token]) -> list[tuple[int, int]]:
    """(start, end) of each block definition: from `block` to the last token before the
    first line, outside brackets, that is not indented deeper than `block` (the layout's
    rule, see syntax/layout.py)."""
    extents = []
    depth = 0
    open_at: Token | None = None
    last: Token | None = None
    for tok in tokens:
        starts_line = last is None or tok.line > last.end_line
        if open_at is not None and depth == 0 and starts_line \
                and tok.column <= open_at.column:
            extents.append((open_at.start_pos, last.end_pos))
            open_at = None
        if tok.type == "BLOCK" and depth == 0 and starts_line:
            open_at = tok
        if tok.type in ("LPAR", "CALL_OPEN", "LSQB", "LANGLE"):
            depth += 1
        elif tok.type in ("RPAR", "RSQB", "RANGLE"):
            depth = max(0, depth - 1)
        last = tok
    if open_at is not None and last is not None:
        extents.append((open_at.start_pos, last.end_pos))
    return extents


def _head_params(tokens: list[Token], scope: tuple[int, int]) -> set[str]:
    names: set[str] = set()
    inside = [t for t in tokens if scope[0] <= t.start_pos <= scope[1]]
    if len(inside) < 3 or inside[2].type != "CALL_OPEN":
        return names
    depth = 0
    for prev, tok in zip(inside[2:], inside[3:]):
        if tok.type in ("CALL_OPEN", "LPAR", "LSQB"):
            depth += 1
        elif tok.type in ("RPAR", "RSQB"):
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and tok.type in ("NAME", "KWNAME") and prev.type in ("CALL_OPEN",
                                                                             "COMMA"):
            names.add(tok.value.rstrip("=").rstrip())
    return names


def _local_blocks(tokens: list[Token]) -> set[str]:
    return {tok.value.rstrip(":").rstrip() for prev, tok in zip(tokens, tokens[1:])
            if prev.type == "BLOCK" and tok.type in ("NAME", "LABEL")}


def definition(analysis: Analysis, index: Index, occ: Occurrence) -> Target | None:
    """Where the name at `occ` is defined."""
    if occ.kind == "block":
        local = [o for o in index.named("block", occ.name) if o.definition]
        if local:
            return Target("block", occ.name, None, local[0].start, local[0].end)
        if occ.name not in index.blocks:
            return None
        block, path = index.blocks[occ.name]
        text = block.span.source.text
        start = text.find(occ.name, block.span.start + len("block"))
        return Target("block", occ.name, path, start, start + len(occ.name),
                      signature(block))
    if occ.kind == "label":
        defs = [o for o in index.named("label", occ.name) if o.definition and o.scope == occ.scope]
        if not defs:
            return None
        before = [o for o in defs if o.start <= occ.start]
        chosen = before[-1] if before else defs[0]
        return Target("label", occ.name, None, chosen.start, chosen.end)
    if occ.kind == "param":
        defs = [o for o in index.named("param", occ.name) if o.definition]
        local = [o for o in defs if o.scope is not None and o.scope == occ.scope]
        spec_level = [o for o in defs if o.scope is None]
        chosen = (local or spec_level or [None])[0]
        if chosen is None:
            return None
        return Target("param", occ.name, None, chosen.start, chosen.end)
    if occ.kind == "file" and analysis.spec is not None:
        target = (use_base(analysis.spec) / occ.name).resolve()
        return Target("file", occ.name, target, 0, 0) if target.is_file() else None
    return None


def references(index: Index, occ: Occurrence) -> list[Occurrence]:
    """Every occurrence of the same thing as `occ` in this document."""
    same = index.named(occ.kind, occ.name)
    if occ.kind in ("label", "param") and occ.scope is not None:
        same = [o for o in same if o.scope == occ.scope]
    elif occ.kind == "label":
        same = [o for o in same if o.scope is None]
    return same


def signature(block: ast.BlockDef) -> str:
    params = ", ".join(p.name if p.default is None else f"{p.name}={p.default.span.text}"
                       for p in block.params)
    return f"block {block.name}({params})" if block.params else f"block {block.name}"
