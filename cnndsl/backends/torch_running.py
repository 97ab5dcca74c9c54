"""A running channel count in a constructor, as a hand-written DenseNet keeps one.

# NOTE: running channel count
# A parametric class (torch_params.py) writes each child's input channels as an expression
# over its parameters. Where the channels grow child after child, the expressions nest:
# `DenseBlock(((c0 + n1 * k) // 2 + n2 * k) // 2, n3, k)`. Then the constructor keeps a
# local instead, updated between the children:
#
#     channels = c0
#     self.denseblock1 = DenseBlock(channels, n1, k)
#     channels += n1 * k
#     self.transition1 = Transition(channels)
#     channels //= 2
#
# A run is a sequence of children (those whose text reads their input channels) where each
# one's input channels, parsed as Python, contain the previous one's as a subexpression
# (or equal them). Each update and each child's text are rewritten by replacing that
# subexpression (a whole subtree of the parsed expression, never a piece of text) by the
# local, which holds its value at that point: the rewritten text computes what the nested
# one did, for every value of the parameters. Runs of fewer than three distinct counts
# keep their expressions (one `+ n * k` reads well as it is).
"""
from __future__ import annotations

import ast

from .torch_symbolic import Sym

RUNNING = "channels"
MIN_COUNTS = 3  # distinct channel counts in a run before the local is worth it
_AUGMENTED = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.FloorDiv: "//="}


def running_count(exprs: list[str], channels: list[object],
                  taken: set[str]) -> tuple[list[str], list[list[str]]]:
    """(each child's expression, the statements to write before it): `exprs[i]` is the
    constructor expression of child i, `channels[i]` its input channels (an int, or a Sym
    printing as an expression); `taken`: names the constructor already uses."""
    before: list[list[str]] = [[] for _ in exprs]
    if RUNNING in taken or any(_reads(e, RUNNING) for e in exprs):
        return exprs, before
    exprs = list(exprs)
    for run in _runs(exprs, channels):
        texts = [str(channels[i]) for i in run]
        if len(dict.fromkeys(texts)) < MIN_COUNTS:
            continue
        start = next(k for k, text in enumerate(texts) if text != texts[0]) - 1
        before[run[start]].append(f"{RUNNING} = {texts[start]}")
        for k in range(start, len(run)):
            i = run[k]
            if k > start and texts[k] != texts[k - 1]:
                before[i].append(_update(texts[k - 1], texts[k]))
            exprs[i] = _replace(exprs[i], texts[k])
    return exprs, before


def _runs(exprs: list[str], channels: list[object]) -> list[list[int]]:
    """Runs of children whose input channels grow from each other (see the NOTE)."""
    runs: list[list[int]] = []
    previous = None
    for i, (expr, c) in enumerate(zip(exprs, channels)):
        tree = _parse(str(c)) if isinstance(c, Sym) else None
        if tree is None or not _find(_parse(expr), tree):
            continue  # a child that does not write its input channels (`nn.ReLU()`)
        if previous is not None and _find(tree, previous):
            runs[-1].append(i)
        else:
            runs.append([i])
        previous = tree
    return [run for run in runs if len(run) > 1]


def _update(old: str, new: str) -> str:
    """`channels += n2 * k`: the statement that turns the local's value from `old` to
    `new`."""
    text = _replace(new, old)
    tree = _parse(text)
    if isinstance(tree, ast.BinOp) and type(tree.op) in _AUGMENTED and \
            isinstance(tree.left, ast.Name) and tree.left.id == RUNNING:
        # the right side of an augmented assignment is evaluated whole: no parentheses
        right = _unwrap(ast.get_source_segment(text, tree.right))
        return f"{RUNNING} {_AUGMENTED[type(tree.op)]} {right}"
    return f"{RUNNING} = {text}"


def _replace(text: str, sub: str) -> str:
    """`text` with every occurrence of the expression `sub` (as a parsed subtree) written
    as the running local."""
    target = ast.dump(_parse(sub))
    starts = _line_starts(text)
    spans = []
    for node in ast.walk(ast.parse(text, mode="eval")):
        if isinstance(node, ast.expr) and ast.dump(node) == target:
            spans.append((starts[node.lineno - 1] + node.col_offset,
                          starts[node.end_lineno - 1] + node.end_col_offset))
    for a, b in sorted(_outermost(spans), reverse=True):
        if a > 0 and text[a - 1] == "(" and text[b:b + 1] == ")" and \
                not _ends_callee(text[:a - 1]):
            a, b = a - 1, b + 1  # grouping parentheses around an atom go
        text = text[:a] + RUNNING + text[b:]
    return text


def _unwrap(text: str) -> str:
    """`a + b` for `(a + b)`, where the parentheses enclose the whole text."""
    while text.startswith("(") and text.endswith(")") and _parse(text[1:-1]) is not None:
        text = text[1:-1]
    return text


def _outermost(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1]
                                        for o in spans)]


def _ends_callee(text: str) -> bool:
    """Whether a `(` after `text` opens a call (after a name, `)` or `]`)."""
    last = text.rstrip()[-1:]
    return last.isalnum() or last in "_)]"


def _line_starts(text: str) -> list[int]:
    starts, at = [0], 0
    for line in text.split("\n")[:-1]:
        at += len(line) + 1
        starts.append(at)
    return starts


def _parse(text: str) -> ast.expr | None:
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        return None


def _find(tree: ast.AST | None, sub: ast.expr) -> bool:
    if tree is None:
        return False
    target = ast.dump(sub)
    return any(isinstance(n, ast.expr) and ast.dump(n) == target for n in ast.walk(tree))


def _reads(expr: str, name: str) -> bool:
    tree = _parse(expr)
    return tree is not None and any(isinstance(n, ast.Name) and n.id == name
                                    for n in ast.walk(tree))
