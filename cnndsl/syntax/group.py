"""Grouping: a line of words becomes a sequence of items.

# NOTE: grouping rules
# "A new layer keyword starts a new layer": `conv k3 p1 64 bn relu` is three layers. A bare
# name starts a new item unless it is a flag of the current layer (`bias`, `dw`, `ceil`) or
# a variable in scope (a block parameter, a `param`, or `in`), which makes it a value:
# `conv k1 c bn` is conv with c output channels, then bn. Values (numbers, expressions,
# variables) fill the current layer's positional option. `name(...)` is a layer with
# options when `name` is a layer, a composite when it is `dense`, a function when it is
# `min`/`max`/..., and otherwise a block call. `X * n` repeats X when X is a layer, a call
# or a group, and multiplies otherwise. A label names everything after it on its line (in
# `< >`, up to the end of its branch).
"""
from __future__ import annotations

from ..errors import CnnNameError, CnnSyntaxError, did_you_mean
from ..ops import layer_names, lookup
from . import ast

COMPOSITES = ("residual", "inception", "concat", "add", "gate", "dense", "aux", "seq",
              "repeat")
FUNCTIONS = ("min", "max", "round", "ceil", "floor", "divisible", "regnet_width",
             "regnet_depth", "regnet_group", "regnet_stages")
_NEED_BODY = tuple(c for c in COMPOSITES if c != "dense")


class Grouper:
    def __init__(self, variables: frozenset[str], blocks: frozenset[str] = frozenset(),
                 uses: bool = False, layer_vars: frozenset[str] = frozenset()) -> None:
        self.variables = (variables | {"in", "input"}) - layer_vars
        self.layer_vars = layer_vars
        # For hints only: the blocks this file defines, and whether it `use`s others.
        self.blocks = blocks
        self.uses = uses
        # Whether a word is a value, by id; without it `((((x))))` is grouped 2**depth times.
        self._values: dict[int, tuple[ast.Expr, bool]] = {}

    def with_variables(self, names: set[str]) -> Grouper:
        return Grouper(self.variables | names, self.blocks, self.uses, self.layer_vars)

    def sequence(self, words: tuple[ast.Word, ...], span, line: bool = False) -> ast.Sequence:
        """The items of `words`; `line`: they are a whole line (outside any brackets), the
        only place a `default` line may stand."""
        items: list[ast.Item] = []
        current: _LayerBuilder | None = None

        def finish() -> None:
            nonlocal current
            if current is not None:
                items.append(current.build())
                current = None

        for index, word in enumerate(words):
            # The commonest words first: an option or a number after a layer (below, the
            # same as the general path does with them).
            kind = type(word)
            if current is not None and (kind is ast.CompactWord or kind is ast.Num):
                if kind is ast.Num:
                    current.value(word, self.variables)
                else:
                    current.option(word)
                continue
            if isinstance(word, ast.LabelWord):
                finish()
                rest = words[index + 1:]
                if not rest:
                    raise CnnSyntaxError(f"label `{word.name}` names nothing",
                                         word.span, "write the layers it names after it")
                body = self.sequence(rest, rest[0].span.to(rest[-1].span))
                items.append(ast.Labelled(word.name, body, word.span.to(body.span),
                                          word.quoted))
                break
            if isinstance(word, ast.DefaultWord):
                if not line or items or current is not None:
                    raise CnnSyntaxError(
                        "`default` stands at the start of a line of its own, outside brackets",
                        word.span, "inside `< >` or `( )` lines do not end, so it would take "
                        "in every layer after it: move it to its own line before them")
                finish()
                items.extend(self.defaults(word, words[index + 1:]))
                break
            if isinstance(word, ast.IfWord):
                finish()
                if not items or isinstance(items[-1], (ast.Labelled, ast.Defaults)):
                    raise CnnSyntaxError("`if` has nothing before it to make conditional",
                                         word.span, "put it after a layer, a call or "
                                         "`( ... )`: `(conv k1 64 bn relu) if t != 1`")
                last = items.pop()
                items.append(ast.Conditional(last, word.cond, last.span.to(word.span)))
                continue
            if isinstance(word, (ast.CompactWord, ast.KeywordWord)):
                if current is None:
                    self._unknown_before_option(items, word)
                    raise CnnSyntaxError(f"option `{word.span.text}` has no layer before it",
                                         word.span, "options follow their layer: `conv k3 64`")
                current.option(word)
            elif isinstance(word, ast.RepeatWord):
                finish()
                if not items or isinstance(items[-1], (ast.Assert, ast.Labelled)):
                    raise CnnSyntaxError(f"`x{word.count}` repeats nothing", word.span,
                                         "put it after a layer, a call or `( ... )`")
                last = items.pop()
                count = ast.Num(word.count, str(word.count), word.span)
                items.append(ast.Repeat(last, count, last.span.to(word.span)))
            elif isinstance(word, ast.Assert):
                finish()
                items.append(word)
            elif isinstance(word, ast.CompositeWord):
                finish()
                items.append(self.composite(word))
            elif current is not None and isinstance(word, ast.Name) \
                    and current.flag(word.id):
                current.value(word, self.variables)
            else:
                item = self.item(word)
                if item is None:
                    if current is None:
                        self._unknown_before_option(items, word)
                        raise CnnSyntaxError(
                            f"value `{word.span.text}` has no layer before it", word.span,
                            "values are options of the layer before them: `conv k3 64`")
                    current.value(word, self.variables)
                else:
                    finish()
                    if isinstance(item, _LayerBuilder):
                        current = item
                    else:
                        items.append(item)
        finish()
        return ast.Sequence(tuple(items), span)

    def defaults(self, word: ast.DefaultWord, rest) -> list[ast.Defaults]:
        if not rest:
            raise CnnSyntaxError("`default` names no layer", word.span,
                                 "e.g. `default bn eps=1e-3 momentum=0.01`")
        body = self.sequence(rest, rest[0].span.to(rest[-1].span))
        out = []
        for item in body.items:
            if not isinstance(item, ast.Layer) or item.op == "id":
                raise CnnSyntaxError("`default` sets options of layers, not of "
                                     f"`{item.span.text}`", item.span,
                                     "e.g. `default bn eps=1e-3 momentum=0.01`")
            out.append(ast.Defaults(item, word.span.to(item.span)))
        return out

    def _unknown_before_option(self, items: list, word) -> None:
        """`cnv k3 64`: the misspelt layer is the error, not the options after it."""
        if items and isinstance(items[-1], ast.Call) and not items[-1].args:
            call = items[-1]
            first = word.span.text if len(word.span.text) <= 20 else "..."
            what = f"block `{call.name}` is called without parentheses" \
                if call.name in self.blocks else f"unknown layer `{call.name}`"
            raise CnnNameError(what, call.span,
                               _unknown_call_hint(call.name, first, self.blocks, self.uses))

    def item(self, word: ast.Expr):
        """The item a word starts, or None when the word is a value."""
        if isinstance(word, ast.BinOp) and word.op == "-" and isinstance(word.left, ast.Name) \
                and word.left.id not in self.variables and lookup(word.left.id) is not None \
                and not lookup(word.left.id).internal:
            # `leaky -0.1` reads as the subtraction `leaky - 0.1`
            raise CnnSyntaxError(f"`{word.span.text}` reads as a subtraction from the layer "
                                 f"`{word.left.id}`", word.span,
                                 "a negative value is written in call form: "
                                 f"`{word.left.id}(-{word.right.span.text})`")
        if isinstance(word, ast.Name) and word.id in self.layer_vars:
            return _LayerBuilder(word.id, word.span, variable=True)
        if isinstance(word, ast.FnCall) and word.name in self.layer_vars:
            builder = _LayerBuilder(word.name, word.span, variable=True)
            for arg in word.args:
                builder.argument(arg, self.variables)
            return builder
        if isinstance(word, ast.Name):
            if word.id in self.variables:  # a variable is a value, even named like a layer
                return None
            if lookup(word.id) is not None and not lookup(word.id).internal:
                return _LayerBuilder(word.id, word.span)
            if word.id == "id":
                return ast.Layer("id", (), word.span)
            if word.id in COMPOSITES:
                return self.composite(ast.CompositeWord(word, (), word.span))
            if word.id in self.variables or word.id in FUNCTIONS:
                return None
            return ast.Call(word.id, (), word.span)
        if isinstance(word, ast.FnCall):
            spec = lookup(word.name)
            if spec is not None and not spec.internal:
                builder = _LayerBuilder(word.name, word.span)
                for arg in word.args:
                    builder.argument(arg, self.variables)
                return builder
            if word.name in COMPOSITES:
                return self.composite(ast.CompositeWord(word, (), word.span))
            if word.name in FUNCTIONS:
                return None
            return ast.Call(word.name, word.args, word.span)
        if isinstance(word, ast.Paren):
            if len(word.words) == 1 and self._is_value(word.words[0]):
                return None
            return ast.Group(self.sequence(word.words, word.span), word.span)
        if isinstance(word, ast.BinOp) and word.op == "*":
            left = self.item(word.left)
            if left is not None:
                if isinstance(left, _LayerBuilder):
                    left = left.build()
                return ast.Repeat(left, word.right, word.span)
        return None

    def _is_value(self, word) -> bool:
        if not isinstance(word, (ast.Name, ast.FnCall, ast.Paren, ast.BinOp, ast.Num,
                                 ast.Neg, ast.SizeLit, ast.Str, ast.ListLit)):
            return False
        known = self._values.get(id(word))
        if known is None:
            known = self._values[id(word)] = (word, self.item(word) is None)
        return known[1]

    def composite(self, word: ast.CompositeWord) -> ast.Composite:
        head = word.head
        kind = head.id if isinstance(head, ast.Name) else head.name
        if kind not in COMPOSITES:
            hint = did_you_mean(kind, COMPOSITES) or \
                "only residual, inception, concat, add, gate, dense and aux take `< >`"
            raise CnnNameError(f"`{kind}` cannot take a body in `< >`", head.span, hint)
        if not word.branches and kind in _NEED_BODY:
            raise CnnSyntaxError(f"`{kind}` needs a body", word.span,
                                 f"write `{kind}< ... >`")
        options = ()
        if isinstance(head, ast.FnCall):
            options = tuple(_argument_option(arg, self.variables) for arg in head.args)
        for index, branch in enumerate(word.branches):
            if branch.ref is None and not branch.words:
                raise _empty_branch(kind, index, len(word.branches), branch.span)
        # In a dense body `k` is the growth rate; `repeat(n, i)` names its index.
        grouper = self
        if kind == "dense":
            grouper = self.with_variables({"k"})
        elif kind == "repeat":
            grouper = self.with_variables({o.name for o in options if o.kind == "flag"})
        branches = tuple(grouper.branch(b) for b in word.branches)
        return ast.Composite(kind, options, branches, word.span)

    def branch(self, words: ast.BranchWords) -> ast.Branch:
        body = self.sequence(words.words, words.span)
        return ast.Branch(words.ref, body, words.span)


def _empty_branch(kind: str, index: int, count: int, span) -> CnnSyntaxError:
    """`residual< >` would add x to itself and `inception< a | | b >` copy x: both are
    almost always a slip, and `id` says it on purpose."""
    if kind == "dense":
        return CnnSyntaxError("`dense< >` has an empty body", span,
                              "leave out `< >` for the default DenseNet-B layer: "
                              "`dense(n=6, k=32)`")
    if kind in ("gate", "aux"):
        example = "gate< gap conv k1 in sigmoid >" if kind == "gate" else \
            "aux< gap flatten fc 10 >"
        return CnnSyntaxError(f"`{kind}< >` has an empty body", span,
                              f"write the layers it runs: `{example}`")
    what = "body" if count == 1 or (kind == "residual" and index == 0) else \
        "shortcut" if kind == "residual" else "branch"
    return CnnSyntaxError(f"`{kind}< >` has an empty {what}", span,
                          f"write `id` for a {what} that passes its input on"
                          + (": `inception< conv k1 64 | id >`" if what == "branch" else ""))


def _unknown_call_hint(name: str, first: str, blocks: frozenset[str], uses: bool) -> str:
    """`frobnicate 2`: a block called without parentheses, a misspelt layer, or neither."""
    call = f"`{name}({first})`"
    if name in blocks:
        return f"blocks take their arguments in parentheses: {call}"
    close = did_you_mean(name, layer_names() + sorted(blocks))
    if close:
        return close
    if uses:
        return (f"`{name}` is not a layer; if it is a block of a used file, call it with "
                f"parentheses: {call}")
    return f"`{name}` is neither a layer nor a block of this file (docs/language.md lists " \
        "the layers)"


def _argument_option(arg: ast.Argument, variables: frozenset[str]) -> ast.Option:
    if arg.name is not None:
        return ast.Option("keyword", arg.name, arg.value, arg.span)
    if isinstance(arg.value, ast.Name) and arg.value.id not in variables:
        return ast.Option("flag", arg.value.id, None, arg.span)
    return ast.Option("positional", None, arg.value, arg.span)


class _LayerBuilder:
    """A layer whose options are still being read."""

    def __init__(self, op: str, span, variable: bool = False) -> None:
        self.op = op
        self.first = span
        self.last = None  # the last option's span: the layer's runs from first to it
        self.options: list[ast.Option] = []
        self.variable = variable  # a layer parameter: the op is known when lowering
        self.spec = None if variable else lookup(op)

    def flag(self, word: str) -> bool:
        return self.spec is not None and self.spec.flag(word) is not None

    def option(self, word) -> None:
        if isinstance(word, ast.CompactWord):
            self.options.append(ast.Option("compact", word.letter, word.values, word.span))
        else:
            self.options.append(ast.Option("keyword", word.name, word.value, word.span))
        self.last = word.span

    def value(self, word: ast.Expr, variables) -> None:
        if isinstance(word, ast.Name) and self.flag(word.id):
            self.options.append(ast.Option("flag", word.id, None, word.span))
        else:
            self.options.append(ast.Option("positional", None, word, word.span))
        self.last = word.span

    def argument(self, arg: ast.Argument, variables) -> None:
        if arg.name is not None:
            self.options.append(ast.Option("keyword", arg.name, arg.value, arg.span))
        elif isinstance(arg.value, ast.Name) and self.flag(arg.value.id):
            self.options.append(ast.Option("flag", arg.value.id, None, arg.span))
        else:
            self.options.append(ast.Option("positional", None, arg.value, arg.span))

    @property
    def span(self):
        # Words come in order, so this is the span from the layer to its furthest option.
        return self.first if self.last is None else self.first.to(self.last)

    def build(self) -> ast.Layer | ast.LayerVar:
        if self.variable:
            return ast.LayerVar(self.op, tuple(self.options), self.span)
        return ast.Layer(self.op, tuple(self.options), self.span)

