"""The AST: frozen dataclasses, every node with the span it was written at. They have slots:
a long spec has a dozen nodes a layer (see the memory figures in docs/benchmarks.md).

Two layers of nodes: *expressions* (values: `4*c`, `in//2`, `3x224x224`), and *items*
(what a sequence is made of: layers, block calls, composites, groups, repeats, labels,
asserts). Between them, the parser produces *words*; cnndsl.syntax.group turns a line of
words into items.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .source import Span

# --- expressions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Num:
    value: int | float
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class SizeLit:
    dims: tuple[int, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # + - * / //
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class FnCall:
    """`name(args)`: a function in an expression, a block call, or a layer with options."""

    name: str
    args: tuple[Argument, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Argument:
    name: str | None  # None for a positional argument
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Paren:
    """`( ... )`: a parenthesised expression or a group of layers, decided by grouping."""

    words: tuple[Word, ...]
    span: Span


@dataclass(frozen=True)
class Compare:
    """`a == b`, `a != b`, `a <= b`, `a >= b`: a condition."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True)
class BoolOp:
    """`a and b`, `a or b`, `not a` (`op` is and, or, not; `not` has one operand)."""

    op: str
    operands: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True)
class IfElse:
    """`a if cond else b`."""

    cond: Expr
    then: Expr
    orelse: Expr
    span: Span


@dataclass(frozen=True)
class Ref:
    """`@label` as a call argument: a tensor passed to a block."""

    id: str
    span: Span


Expr = Num | Name | SizeLit | Str | BinOp | Neg | FnCall | ListLit | Paren | Compare | BoolOp \
    | IfElse | Ref

# --- words: the parser's view of a sequence ---------------------------------------------


@dataclass(frozen=True, slots=True)
class CompactWord:
    """`k3`, `k1x7`, `s2`, `op1`: an option letter and its integer values."""

    letter: str
    values: tuple[int, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class KeywordWord:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class RepeatWord:
    count: int
    span: Span


@dataclass(frozen=True, slots=True)
class LabelWord:
    name: str
    span: Span
    quoted: bool = False  # `"block{i}-0":`: any module name, `{var}` filled in


@dataclass(frozen=True)
class IfWord:
    """`if COND` after an item: the item is there only when COND holds."""

    cond: Expr
    span: Span


@dataclass(frozen=True)
class DefaultWord:
    """`default`: the layer after it states option defaults, it is not a layer."""

    span: Span


@dataclass(frozen=True, slots=True)
class BranchWords:
    ref: Name | None
    words: tuple[Word, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class CompositeWord:
    head: Name | FnCall
    branches: tuple[BranchWords, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Assert:
    metric: Name
    comparison: str
    value: Expr
    span: Span


Word = Expr | CompactWord | KeywordWord | RepeatWord | LabelWord | CompositeWord | Assert \
    | IfWord | DefaultWord

# --- items: what the lowering sees ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a layer. `kind` is compact, keyword, flag or positional."""

    kind: str
    name: str | None
    value: Expr | tuple[int, ...] | None
    span: Span


@dataclass(frozen=True, slots=True)
class Layer:
    op: str
    options: tuple[Option, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """A call of a block defined with `block`."""

    name: str
    args: tuple[Argument, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Branch:
    ref: Name | None
    body: Sequence
    span: Span


@dataclass(frozen=True, slots=True)
class Composite:
    """`residual< >`, `inception< >`/`concat< >`, `add< >`, `gate< >`, `dense()< >`, `aux< >`."""

    kind: str
    options: tuple[Option, ...]
    branches: tuple[Branch, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Group:
    body: Sequence
    span: Span


@dataclass(frozen=True, slots=True)
class Repeat:
    item: Item
    count: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Labelled:
    label: str
    body: Sequence
    span: Span
    quoted: bool = False


@dataclass(frozen=True)
class LayerVar:
    """A layer given by a layer-valued parameter (`act` in `block b(c, act=relu)`)."""

    name: str
    options: tuple[Option, ...]
    span: Span


@dataclass(frozen=True)
class Conditional:
    """`X if COND`: X where COND holds, else nothing (the identity)."""

    item: Item
    cond: Expr
    span: Span


@dataclass(frozen=True)
class Defaults:
    """`default bn eps=1e-3`: options for the later layers of that op in this sequence and
    the blocks it calls."""

    layer: Layer
    span: Span


Item = Layer | Call | Composite | Group | Repeat | Labelled | Assert | LayerVar | Conditional \
    | Defaults


@dataclass(frozen=True, slots=True)
class Sequence:
    items: tuple[Item, ...]
    span: Span


# --- statements and the spec ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Expr | None  # None: a required block parameter
    span: Span


@dataclass(frozen=True, slots=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: Sequence
    span: Span


@dataclass(frozen=True, slots=True)
class Use:
    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class Spec:
    """One parsed .cnn file. `body` is None for a file that only defines blocks."""

    source: object  # cnndsl.syntax.source.Source
    network: str | None
    input_shape: SizeLit | None
    params: tuple[Param, ...]
    uses: tuple[Use, ...]
    blocks: tuple[BlockDef, ...]
    body: Sequence | None
    span: Span
    outputs: tuple[Name, ...] = ()  # `output @a @b`: the tensors the network returns
    init: Name | None = None  # `init resnet`: whose weight initialisation to use


def walk(node):
    """`node` and every AST node inside it (in tuples too), spans left out."""
    yield node
    if dataclasses.is_dataclass(node):
        for field in dataclasses.fields(node):
            if field.name != "span":
                yield from walk(getattr(node, field.name))
    elif isinstance(node, tuple):
        for part in node:
            yield from walk(part)
