"""The lark Transformer: one method per grammar alias, producing words and statements."""
from __future__ import annotations

from dataclasses import dataclass, replace

from lark import Token, Transformer, v_args

from ..errors import CnnValueError
from . import ast
from .source import Source, Span

# Longer literals are typos or junk; Python refuses to convert ~4300+ digits anyway.
MAX_NUMBER_CHARS = 40

_SUFFIX = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


@dataclass(frozen=True)
class RawBlock:
    """A block definition whose body lines are still words."""

    name: str
    params: tuple[ast.Param, ...]
    lines: tuple[tuple[tuple[ast.Word, ...], Span], ...]
    span: Span


@dataclass(frozen=True)
class RawLine:
    words: tuple[ast.Word, ...]
    span: Span


def number_value(text: str) -> int | float:
    """`64` -> 64, `0.5`, `1e-3`, `30M` -> 30_000_000, `1.5G` -> 1_500_000_000."""
    scale = _SUFFIX.get(text[-1], 1)
    digits = text[:-1] if scale != 1 else text
    if any(ch in digits for ch in ".eE"):
        value = float(digits) * scale
        return int(value) if scale != 1 and value.is_integer() else value
    return int(digits) * scale


@v_args(meta=True)
class ToAst(Transformer):
    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source

    def _span(self, meta) -> Span:
        return self.source.span(meta.start_pos, meta.end_pos)

    def _tok_span(self, tok: Token) -> Span:
        return self.source.span(tok.start_pos, tok.end_pos)

    def _int(self, digits: str, tok: Token) -> int:
        if len(digits) > MAX_NUMBER_CHARS:
            raise self._too_long(tok)
        return int(digits)

    def _too_long(self, tok: Token) -> CnnValueError:
        return CnnValueError(f"a number of more than {MAX_NUMBER_CHARS} digits",
                             self._tok_span(tok), "no size in a network is that large")

    # statements
    def start(self, meta, children):
        return [c for c in children if c is not None]

    def network(self, meta, children):
        return ("network", ast.Name(str(children[0]), self._tok_span(children[0])))

    def input_shape(self, meta, children):
        return ("input", self._size(children[0]))

    def input_flat(self, meta, children):
        """`input 784`: a flat input of that many features."""
        tok = children[0]
        if not tok.value.isdigit():
            raise CnnValueError(f"a flat input size is a whole number of features, not "
                                f"`{tok.value}`", self._tok_span(tok), "e.g. `input 784`")
        return ("input", self._size(tok))

    def param(self, meta, children):
        name_tok, value = children
        return ("param", ast.Param(_kwname(name_tok), value, self._span(meta)))

    def use(self, meta, children):
        tok = children[0]
        return ("use", ast.Use(tok.value[1:-1], self._tok_span(tok)))

    def block(self, meta, children):
        (name, params), lines = children
        return ("block", RawBlock(name, params, lines, self._span(meta)))

    def block_head_bare(self, meta, children):
        return (children[0].value.rstrip(": \t"), ())

    def block_head_params(self, meta, children):
        name, _open, *params = children
        return (str(name), tuple(p for p in params if p is not None))

    def required_param(self, meta, children):
        return ast.Param(str(children[0]), None, self._span(meta))

    def default_param(self, meta, children):
        return ast.Param(_kwname(children[0]), children[1], self._span(meta))

    def block_body(self, meta, children):
        return tuple((line.words, line.span) for line in children)

    def body_line(self, meta, children):
        return ("line", children[0])

    def sequence(self, meta, children):
        return RawLine(tuple(children), self._span(meta))

    # words
    def compact_option(self, meta, children):
        tok = children[0]
        letter = "op" if tok.value.startswith("op") else tok.value[0]
        values = tuple(self._int(v, tok) for v in tok.value[len(letter):].split("x"))
        return ast.CompactWord(letter, values, self._tok_span(tok))

    def repeat_literal(self, meta, children):
        tok = children[0]
        return ast.RepeatWord(self._int(tok.value[1:], tok), self._tok_span(tok))

    def label(self, meta, children):
        tok = children[0]
        return ast.LabelWord(tok.value.rstrip(": \t"), self._tok_span(tok))

    def keyword_option(self, meta, children):
        return ast.KeywordWord(_kwname(children[0]), children[1], self._span(meta))

    def composite(self, meta, children):
        head, opener, *rest = children
        at_open = self._tok_span(opener)
        branches = tuple(c if c.span is not None else replace(c, span=at_open)
                         for c in rest if isinstance(c, ast.BranchWords))
        return ast.CompositeWord(head, branches, self._span(meta))

    def head(self, meta, children):
        return ast.Name(str(children[0]), self._tok_span(children[0]))

    def head_call(self, meta, children):
        return children[0]

    def branch(self, meta, children):
        ref, words = None, ()
        for child in children:
            if isinstance(child, Token):
                ref = ast.Name(child.value[1:], self._tok_span(child))
            elif isinstance(child, RawLine):
                words = child.words
        # An empty branch has no position of its own; `composite` gives it one.
        span = None if meta.empty else self._span(meta)
        return ast.BranchWords(ref, words, span)

    def assertion(self, meta, children):
        name, comparison, value = children
        return ast.Assert(ast.Name(str(name), self._tok_span(name)), comparison, value,
                          self._span(meta))

    def comparison(self, meta, children):
        return str(children[0])

    # expressions
    def _binop(op):
        def method(self, meta, children):
            return ast.BinOp(op, children[0], children[1], self._span(meta))
        return method

    add = _binop("+")
    sub = _binop("-")
    mul = _binop("*")
    div = _binop("/")
    floordiv = _binop("//")

    def neg(self, meta, children):
        return ast.Neg(children[0], self._span(meta))

    def number(self, meta, children):
        tok = children[0]
        if len(tok.value) > MAX_NUMBER_CHARS:
            raise self._too_long(tok)
        return ast.Num(number_value(tok.value), tok.value, self._tok_span(tok))

    def size(self, meta, children):
        return self._size(children[0])

    def _size(self, tok: Token) -> ast.SizeLit:
        dims = tuple(self._int(v, tok) for v in tok.value.split("x"))
        if any(d <= 0 for d in dims):
            raise CnnValueError(f"sizes must be positive, got `{tok.value}`",
                                self._tok_span(tok))
        return ast.SizeLit(dims, self._tok_span(tok))

    def string(self, meta, children):
        tok = children[0]
        return ast.Str(tok.value[1:-1], self._tok_span(tok))

    def name(self, meta, children):
        return ast.Name(str(children[0]), self._tok_span(children[0]))

    def paren(self, meta, children):
        return ast.Paren(tuple(children), self._span(meta))

    def list(self, meta, children):
        return ast.ListLit(tuple(c for c in children if c is not None), self._span(meta))

    def call(self, meta, children):
        name, _open, *args = children
        args = tuple(a if isinstance(a, ast.Argument) else ast.Argument(None, a, _expr_span(a))
                     for a in args if a is not None)
        return ast.FnCall(str(name), args, self._span(meta))

    def keyword_argument(self, meta, children):
        return ast.Argument(_kwname(children[0]), children[1], self._span(meta))


def _kwname(tok: Token) -> str:
    return tok.value.rstrip("= \t")


def _expr_span(expr) -> Span:
    return expr.span
