"""The transformer: one method per grammar alias, producing words and statements.

# NOTE: an inline transformer
# The parser calls these methods as it reduces (see cnndsl/syntax/lalr.py), so no parse
# tree is built and then walked: on a 10,000-layer spec that tree cost most of the parse.
# Inline callbacks get no `meta`, so a node's span comes from its first and last child
# (a token, or an AST node with its span). Where a rule starts or ends with punctuation or
# a keyword, the grammar names that terminal (`LPAR word+ RPAR`, `ASSERT NAME ...`) so that
# it stays among the children and the span covers it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..errors import CnnValueError
from . import ast
from .lalr import Token
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


@dataclass(frozen=True, slots=True)
class RawLine:
    words: tuple[ast.Word, ...]
    span: Span


def number_value(text: str) -> int | float:
    """`64` -> 64, `0.5`, `1e-3`, `30M` -> 30_000_000, `1.5G` -> 1_500_000_000."""
    if text.isdigit():  # most numbers in a spec
        return int(text)
    scale = _SUFFIX.get(text[-1], 1)
    digits = text[:-1] if scale != 1 else text
    if any(ch in digits for ch in ".eE"):
        value = float(digits) * scale
        return int(value) if scale != 1 and value.is_integer() else value
    return int(digits) * scale


class ToAst:
    """Built once with the parser; `source` is set to the spec being parsed (see parser.py)."""

    source: Source

    def begin(self, source: Source) -> None:
        """Start on a new spec. Repeated names, numbers and option values share one object
        each (`_shared`): a long spec repeats a few of them on every line."""
        self.source = source
        self._common: dict = {}
        self._compact: dict = {}  # `k3` -> ("k", (3,)): see compact_option
        self._numbers: dict = {}  # `64` -> ("64", 64): see number

    def _shared(self, value):
        common = self._common
        return common.setdefault(value, value) if len(common) < 10_000 else value

    def _span(self, first, last) -> Span:
        """From the start of `first` to the end of `last`: tokens or AST nodes."""
        return self.source.span(_start(first), _end(last))

    def _tok_span(self, tok: Token) -> Span:
        return Span(self.source, tok.start_pos, tok.end_pos)  # a token is never empty

    def _int(self, digits: str, tok: Token) -> int:
        if len(digits) > MAX_NUMBER_CHARS:
            raise self._too_long(tok)
        return int(digits)

    def _too_long(self, tok: Token) -> CnnValueError:
        return CnnValueError(f"a number of more than {MAX_NUMBER_CHARS} digits",
                             self._tok_span(tok), "no size in a network is that large")

    # statements
    def start(self, children):
        return [c for c in children if c is not None]

    def network(self, children):
        return ("network", ast.Name(self._shared(children[0].value), self._tok_span(children[0])))

    def input_shape(self, children):
        return ("input", self._size(children[0]))

    def input_flat(self, children):
        """`input 784`: a flat input of that many features."""
        tok = children[0]
        if not tok.value.isdigit():
            raise CnnValueError(f"a flat input size is a whole number of features, not "
                                f"`{tok.value}`", self._tok_span(tok), "e.g. `input 784`")
        return ("input", self._size(tok))

    def param(self, children):
        keyword, name_tok, value = children
        return ("param", ast.Param(_kwname(name_tok), value, self._span(keyword, value)))

    def outputs(self, children):
        _keyword, *refs = children
        return ("output", tuple(ast.Name(r.value[1:], self._tok_span(r)) for r in refs))

    def init_rule(self, children):
        _keyword, name = children
        return ("init", ast.Name(str(name), self._tok_span(name)))

    def use(self, children):
        tok = children[0]
        return ("use", ast.Use(tok.value[1:-1], self._tok_span(tok)))

    def block(self, children):
        keyword, (name, params), lines = children
        span = self.source.span(keyword.start_pos, lines[-1][1].end)
        return ("block", RawBlock(name, params, lines, span))

    def block_head_bare(self, children):
        return (children[0].value.rstrip(": \t"), ())

    def block_head_params(self, children):
        name, _open, *params = children
        return (str(name), tuple(p for p in params if p is not None))

    def required_param(self, children):
        return ast.Param(str(children[0]), None, self._tok_span(children[0]))

    def default_param(self, children):
        name_tok, value = children
        return ast.Param(_kwname(name_tok), value, self._span(name_tok, value))

    def block_body(self, children):
        return tuple((line.words, line.span) for line in children)

    def body_line(self, children):
        return ("line", children[0])

    def sequence(self, children):
        return RawLine(tuple(children), self.source.span(_start(children[0]),
                                                         _end(children[-1])))

    # words
    def compact_option(self, children):
        tok = children[0]
        known = self._compact.get(tok.value)  # a long spec writes the same few many times
        if known is None:
            letter = "op" if tok.value.startswith("op") else tok.value[0]
            digits = tok.value[len(letter):].split("x")
            values = self._shared(tuple([self._int(v, tok) for v in digits]))
            known = (letter, values)
            if len(self._compact) < 10_000:
                self._compact[tok.value] = known
        return ast.CompactWord(known[0], known[1], Span(self.source, tok.start_pos,
                                                        tok.end_pos))

    def repeat_literal(self, children):
        tok = children[0]
        return ast.RepeatWord(self._int(tok.value[1:], tok), self._tok_span(tok))

    def label(self, children):
        tok = children[0]
        return ast.LabelWord(tok.value.rstrip(": \t"), self._tok_span(tok))

    def quoted_label(self, children):
        tok = children[0]
        text = tok.value.rstrip(": \t")[1:-1]
        return ast.LabelWord(text, self._tok_span(tok), quoted=True)

    def if_word(self, children):
        keyword, cond = children
        return ast.IfWord(cond, self._span(keyword, cond))

    def default_word(self, children):
        return ast.DefaultWord(self._tok_span(children[0]))

    def keyword_option(self, children):
        name_tok, value = children
        return ast.KeywordWord(_kwname(name_tok), value, self._span(name_tok, value))

    def composite(self, children):
        head, opener, *rest = children
        written = [c for c in rest if isinstance(c, ast.BranchWords)]
        branches, after = [], opener.start_pos
        for branch in written:
            if branch.span is None:
                branch = replace(branch, span=self._between_separators(after))
            branches.append(branch)
            after = branch.span.end
        return ast.CompositeWord(head, tuple(branches), self._span(head, rest[-1]))

    def _between_separators(self, after: int) -> Span:
        """An empty branch has no position of its own: it is the stretch from the `<` or
        `|` at `after` to the next `|` or `>`, both included (`< >`, `| |`)."""
        text = self.source.text
        opening = min((i for i in (text.find("|", after), text.find("<", after)) if i >= 0),
                      default=after)
        closing = min((i for i in (text.find("|", opening + 1), text.find(">", opening + 1))
                       if i >= 0), default=opening)
        return self.source.span(opening, closing + 1)

    def head(self, children):
        return ast.Name(self._shared(children[0].value), self._tok_span(children[0]))

    def head_call(self, children):
        return children[0]

    def branch(self, children):
        ref, words = None, ()
        for child in children:
            if isinstance(child, Token):
                ref = ast.Name(child.value[1:], self._tok_span(child))
            elif isinstance(child, RawLine):
                words = child.words
        # An empty branch has no position of its own; `composite` gives it one.
        span = self._span(children[0], children[-1]) if children else None
        return ast.BranchWords(ref, words, span)

    def assertion(self, children):
        keyword, name, comparison, value = children
        return ast.Assert(ast.Name(str(name), self._tok_span(name)), comparison, value,
                          self._span(keyword, value))

    def comparison(self, children):
        return str(children[0])

    # conditions
    def compare(self, children):
        left, op, right = children
        return ast.Compare(str(op), left, right, self._span(left, right))

    def _boolop(op):
        def method(self, children):
            left, _keyword, right = children
            return ast.BoolOp(op, (left, right), self._span(left, right))
        return method

    or_ = _boolop("or")
    and_ = _boolop("and")

    def not_(self, children):
        keyword, operand = children
        return ast.BoolOp("not", (operand,), self._span(keyword, operand))

    def if_else(self, children):
        then, _if, cond, _else, orelse = children
        return ast.IfElse(cond, then, orelse, self._span(then, orelse))

    # expressions
    def _binop(op):
        def method(self, children):
            left, right = children
            return ast.BinOp(op, left, right, self._span(left, right))
        return method

    add = _binop("+")
    sub = _binop("-")
    mul = _binop("*")
    div = _binop("/")
    floordiv = _binop("//")

    def neg(self, children):
        minus, operand = children
        return ast.Neg(operand, self._span(minus, operand))

    def number(self, children):
        tok = children[0]
        known = self._numbers.get(tok.value)  # a long spec writes the same few many times
        if known is None:
            if len(tok.value) > MAX_NUMBER_CHARS:
                raise self._too_long(tok)
            text = self._shared(tok.value)
            value = number_value(text)
            if not math.isfinite(value):  # `1e400` is inf as a float
                raise CnnValueError(f"`{tok.value}` is too large to be a number",
                                    self._tok_span(tok), "no value in a network is that large")
            known = (text, value)
            if len(self._numbers) < 10_000:
                self._numbers[text] = known
        return ast.Num(known[1], known[0], Span(self.source, tok.start_pos, tok.end_pos))

    def size(self, children):
        return self._size(children[0])

    def _size(self, tok: Token) -> ast.SizeLit:
        dims = tuple(self._int(v, tok) for v in tok.value.split("x"))
        if any(d <= 0 for d in dims):
            raise CnnValueError(f"sizes must be positive, got `{tok.value}`",
                                self._tok_span(tok))
        return ast.SizeLit(dims, self._tok_span(tok))

    def string(self, children):
        tok = children[0]
        return ast.Str(tok.value[1:-1], self._tok_span(tok))

    def name(self, children):
        tok = children[0]
        return ast.Name(self._shared(tok.value), Span(self.source, tok.start_pos, tok.end_pos))

    def paren(self, children):
        opener, *words, closer = children
        return ast.Paren(tuple(words), self._span(opener, closer))

    def paren_condition(self, children):
        return children[1]

    def list(self, children):
        opener, *items, closer = children
        return ast.ListLit(tuple(c for c in items if c is not None), self._span(opener, closer))

    def call(self, children):
        name, _open, *args, closer = children
        args = tuple(a if isinstance(a, ast.Argument) else ast.Argument(None, a, _expr_span(a))
                     for a in args if a is not None)
        return ast.FnCall(str(name), args, self._span(name, closer))

    def ref_argument(self, children):
        tok = children[0]
        ref = ast.Ref(tok.value[1:], self._tok_span(tok))
        return ast.Argument(None, ref, ref.span)

    def keyword_argument(self, children):
        name_tok, value = children
        return ast.Argument(_kwname(name_tok), value, self._span(name_tok, value))


def _start(thing) -> int:
    return thing.start_pos if isinstance(thing, Token) else thing.span.start


def _end(thing) -> int:
    return thing.end_pos if isinstance(thing, Token) else thing.span.end


def _kwname(tok: Token) -> str:
    return tok.value.rstrip("= \t")


def _expr_span(expr) -> Span:
    return expr.span
