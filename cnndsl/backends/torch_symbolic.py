"""Symbolic integers: numbers that remember the Python expression they were computed by.

A `Sym` is an `int` (its value, for every comparison, shape rule and count) that also
carries an expression over a block's constructor parameters (`c * width // 64 * g`).
Printing it gives the expression, so the ops table's `torch` rules, which format their
options into f-strings, write `nn.Conv2d(in_channels, 4 * c, 1)` instead of numbers without
knowing about it. Arithmetic with ints or Syms gives a Sym whose expression evaluates to
the value at the parameters it came from (correctly parenthesised; sums and multiples are
kept as a linear form, so `in_channels + k + k` prints `in_channels + 2 * k`; a division
exact term by term divides the terms: `(2 * c + 4) // 2` prints `c + 2`). Anything else
(`max`, `divisible`, `int()`) gives a plain number, which prints as a literal: still
right for the instance it came from (see the NOTE in torch_params.py).

A `SymLayer` is a layer-valued parameter (`act=silu`): the layer, and the name of the
constructor argument that holds its module class (`act=nn.SiLU`), which the class calls
where the layer is used (`act(inplace=True)`).

A `SymFloat` is the same for floats (a block's `sd`, stochastic depth's p): true division,
and arithmetic where one side is a float, give a SymFloat whose expression is the tree of
operations as the spec wrote them, never rearranged (float arithmetic is not associative),
so Python evaluating the text at the same parameters gets the same float, bit for bit.
"""
from __future__ import annotations

import re

from ..ir.evaluate import LayerValue

# Precedence of what an expression's top operator binds: atoms, unary minus, * //, + -.
_ATOM, _UNARY, _MUL, _ADD = 4, 3, 2, 1
# A longer expression is written as its value: generated lines stay short and readable.
MAX_EXPRESSION = 72


class Sym(int):
    """An int with an expression; `Sym("c", 64)` is the parameter `c`, now 64.

    The expression is kept as a linear form {term: coefficient}: a term is a name, a
    product or quotient that is not linear (`c * width // 64`), or "" for the constant.
    """

    expr: str
    prec: int
    linear: dict[str, int]

    def __new__(cls, name: str, value: int, linear: dict[str, int] | None = None) -> Sym:
        self = super().__new__(cls, value)
        self.linear = dict(linear) if linear is not None else {name: 1}
        self.expr, self.prec = _linear_text(self.linear)
        return self

    # --- printing -----------------------------------------------------------------------
    def __str__(self) -> str:
        return self.expr

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return self.expr if not spec else format(int(self), spec)

    def names(self) -> set[str]:
        """The identifiers the expression reads."""
        return {word for word in _words(self.expr) if not word[0].isdigit()}

    # --- arithmetic ---------------------------------------------------------------------
    def __add__(self, other):
        return _binary(self, other, "+")

    def __radd__(self, other):
        return _binary(other, self, "+")

    def __sub__(self, other):
        return _binary(self, other, "-")

    def __rsub__(self, other):
        return _binary(other, self, "-")

    def __mul__(self, other):
        return _binary(self, other, "*")

    def __rmul__(self, other):
        return _binary(other, self, "*")

    def __floordiv__(self, other):
        return _binary(self, other, "//")

    def __rfloordiv__(self, other):
        return _binary(other, self, "//")

    def __neg__(self):
        return _binary(0, self, "-")

    def __pos__(self):
        return self

    def __abs__(self):
        return abs(int(self))

    def __truediv__(self, other):
        return _float_binary(self, other, "/")

    def __rtruediv__(self, other):
        return _float_binary(other, self, "/")

    def __hash__(self) -> int:
        return int.__hash__(self)

    def symbolic_call(self, name: str, args: list, value):
        return _symbolic_call(name, args, value)

    def __reduce__(self):  # copies and pickles keep the value and the expression
        return (Sym, ("", int(self), self.linear))


class SymFloat(float):
    """A float with an expression; `SymFloat("sd", 0.025)` is the parameter `sd`."""

    expr: str
    prec: int

    def __new__(cls, expr: str, value: float, prec: int = _ATOM) -> SymFloat:
        self = super().__new__(cls, value)
        self.expr, self.prec = expr, prec
        return self

    def __str__(self) -> str:
        return self.expr

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return self.expr if not spec else format(float(self), spec)

    def __add__(self, other):
        return _float_binary(self, other, "+")

    def __radd__(self, other):
        return _float_binary(other, self, "+")

    def __sub__(self, other):
        return _float_binary(self, other, "-")

    def __rsub__(self, other):
        return _float_binary(other, self, "-")

    def __mul__(self, other):
        return _float_binary(self, other, "*")

    def __rmul__(self, other):
        return _float_binary(other, self, "*")

    def __truediv__(self, other):
        return _float_binary(self, other, "/")

    def __rtruediv__(self, other):
        return _float_binary(other, self, "/")

    def __floordiv__(self, other):
        return _float_binary(self, other, "//")

    def __rfloordiv__(self, other):
        return _float_binary(other, self, "//")

    def __neg__(self):
        return _symbolic_float(f"-{_wrap(self, _UNARY)}", -float(self), _UNARY)

    def __pos__(self):
        return self

    def __hash__(self) -> int:
        return float.__hash__(self)

    def symbolic_call(self, name: str, args: list, value):
        return _symbolic_call(name, args, value)

    def __reduce__(self):
        return (SymFloat, (self.expr, float(self), self.prec))


def _float_binary(left, right, op: str):
    """`left op right` where one side is a float or the operation is true division: a
    SymFloat where a side is symbolic, else the plain result."""
    if not _number(left) or not _number(right):
        return NotImplemented
    a, b = _plain_number(left), _plain_number(right)
    if op == "/":
        value = a / b
    elif op == "//":
        value = a // b
    else:
        value = _apply(a, b, op)
    if not isinstance(left, (Sym, SymFloat)) and not isinstance(right, (Sym, SymFloat)):
        return value
    prec = _ADD if op in "+-" else _MUL
    text = f"{_wrap(left, prec)} {op} {_wrap(right, prec + 1)}"
    return _symbolic_float(text, value, prec)


def _symbolic_float(text: str, value, prec: int):
    if not isinstance(value, float):  # `//` of ints
        return value
    return SymFloat(text, value, prec) if len(text) <= MAX_EXPRESSION else value


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain_number(value):
    if isinstance(value, Sym):
        return int(value)
    if isinstance(value, SymFloat):
        return float(value)
    return value


# Spec functions written as Python calls where an argument is symbolic: `max`, `min` and
# `round` are Python's (the spec's are those); `divisible` is a helper the file defines (the
# same code as cnndsl.ir.evaluate's). Others (`ceil`, `floor`, ...) give plain numbers.
SYMBOLIC_FUNCTIONS = ("max", "min", "round", "divisible")
DIVISIBLE_SOURCE = '''
def divisible(v, d=8, min_value=None):
    """Round v to a multiple of d, never below min_value (d by default) and never more
    than 10% down, as MobileNet's width multipliers do (cnndsl's `divisible`)."""
    floor = d if min_value is None else min_value
    out = max(floor, int(v + d / 2) // d * d)
    if out < 0.9 * v:
        out += d
    return int(out)
'''


def _symbolic_call(name: str, args: list, value):
    if name not in SYMBOLIC_FUNCTIONS or isinstance(value, bool) or \
            not isinstance(value, (int, float)):
        return value
    text = f"{name}({', '.join(_argument_text(a) for a in args)})"
    if len(text) > MAX_EXPRESSION:
        return plain(value)
    if isinstance(value, float):
        return SymFloat(text, float(value))
    return Sym("", int(value), linear={text: 1})


def _argument_text(value) -> str:
    if isinstance(value, (Sym, SymFloat)):
        return value.expr
    return repr(value) if isinstance(value, float) else str(value)


def _is_call(term: str) -> bool:
    """`max(1, c // 4)`: a name called, the parentheses closing at the end."""
    head, paren, _ = term.partition("(")
    if not paren or not head.isidentifier() or not term.endswith(")"):
        return False
    depth = 0
    for i, ch in enumerate(term[len(head):], len(head)):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return i == len(term) - 1
    return False


def plain(value):
    """`value` with every Sym in it (also inside tuples and lists) replaced by its int."""
    if isinstance(value, Sym):
        return int(value)
    if isinstance(value, SymFloat):
        return float(value)
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _binary(left, right, op: str):
    if isinstance(left, float) or isinstance(right, float):
        return _float_binary(left, right, op)
    if not _operand(left) or not _operand(right):
        return NotImplemented
    value = _apply(int(left), int(right), op)
    lf, rf = _linear_of(left), _linear_of(right)
    if op in "+-":
        return _from_linear(_combine(lf, rf, 1 if op == "+" else -1), value)
    if op == "*" and (_const(lf) or _const(rf)):
        factor, form = (lf, rf) if _const(lf) else (rf, lf)
        k = factor.get("", 0)
        return _from_linear({term: coef * k for term, coef in form.items()}, value)
    if op == "//" and _const(rf) and rf.get("", 0) == 1:
        return left
    if op == "//" and _const(rf) and rf.get("", 0) and \
            all(coef % rf[""] == 0 for coef in lf.values()):
        # an exact division: `2 * (c // 2) // 2` is `c // 2` for every c
        return _from_linear({term: coef // rf[""] for term, coef in lf.items()}, value)
    # Not linear: one term. Left-associative, so the right operand needs parentheses at
    # equal precedence.
    text = f"{_wrap(left, _MUL)} {op} {_wrap(right, _UNARY)}"
    return _from_linear({text: 1}, value)


def _operand(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _apply(a: int, b: int, op: str) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a // b


def _linear_of(value) -> dict[str, int]:
    if isinstance(value, Sym):
        return value.linear
    return {"": int(value)} if int(value) else {}


def _const(form: dict[str, int]) -> bool:
    return all(term == "" for term in form)


def _combine(a: dict[str, int], b: dict[str, int], sign: int) -> dict[str, int]:
    out = dict(a)
    for term, coef in b.items():
        out[term] = out.get(term, 0) + sign * coef
    return {term: coef for term, coef in out.items() if coef}


def _from_linear(form: dict[str, int], value: int):
    form = {term: coef for term, coef in form.items() if coef}
    if _const(form):
        return value  # the parameters cancelled: a plain number
    sym = Sym("", value, linear=form)
    return sym if len(sym.expr) <= MAX_EXPRESSION else value


def _linear_text(form: dict[str, int]) -> tuple[str, int]:
    """(`in_channels + 2 * k - 1`, its precedence): terms in order of appearance, the
    constant last."""
    terms = [(term, coef) for term, coef in form.items() if term]
    if form.get(""):
        terms.append(("", form[""]))
    text = ""
    for term, coef in terms:
        size = abs(coef)
        if not term:
            word = str(size)
        elif size == 1:  # a term's top operator (* or //) binds tighter than + and -,
            word = term if text or coef > 0 else f"({term})"  # but not than a unary minus
        else:
            word = f"{size} * {term if term.isidentifier() or _is_call(term) else f'({term})'}"
        if not text:
            text = word if coef > 0 else f"-{word}"
        else:
            text += f" + {word}" if coef > 0 else f" - {word}"
    if len(terms) > 1:
        return text, _ADD
    term, coef = terms[0]
    if coef == 1:
        return text, _ATOM if term.isidentifier() or not term or _is_call(term) else _MUL
    return text, _UNARY if coef == -1 else _MUL if coef > 0 else _ADD


def _wrap(value, prec: int) -> str:
    if isinstance(value, (Sym, SymFloat)):
        return value.expr if value.prec >= prec else f"({value.expr})"
    text = repr(value) if isinstance(value, float) else str(int(value))
    return text if value >= 0 else f"({text})"


def _words(text: str) -> list[str]:
    word, words = "", []
    for ch in text + " ":
        if ch.isalnum() or ch == "_":
            word += ch
        elif word:
            words.append(word)
            word = ""
    return words


class SymLayer(LayerValue):
    """A layer value held by the constructor argument `py` (see the module's docstring).
    It equals the plain LayerValue of the same layer."""

    py: str

    def __init__(self, py: str, value: LayerValue) -> None:
        super().__init__(value.op, value.options, value.env)
        object.__setattr__(self, "py", py)

    def __eq__(self, other) -> bool:
        return isinstance(other, LayerValue) and \
            (self.op, self.options) == (other.op, other.options)

    __hash__ = LayerValue.__hash__


_FACTORY = re.compile(r"(nn\.[A-Za-z][A-Za-z0-9]*)\(\)")


def layer_factory(value: LayerValue) -> str | None:
    """The module class a layer value passes as a constructor argument (`nn.SiLU`), or
    None: only a layer without options whose module is that class called with no
    arguments (activations) is passed this way."""
    from ..ops import lookup

    spec = lookup(value.op)
    if value.options or spec is None or spec.torch is None:
        return None
    try:
        expr = spec.torch(spec.defaults(), [(8, 4, 4)], (8, 4, 4))
    except Exception:  # a rule that needs real options: not a factory
        return None
    match = _FACTORY.fullmatch(expr or "")
    return match.group(1) if match else None
