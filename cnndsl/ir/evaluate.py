"""Evaluation of spec expressions: numbers only, no Python `eval` anywhere."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import CnnNameError, CnnValueError, did_you_mean
from ..syntax import ast

MAX_MAGNITUDE = 10**15  # larger numbers are a mistake, and would slow everything down


@dataclass
class Env:
    """Variables visible at a point: block arguments over spec params, and `in`."""

    values: dict[str, Any] = field(default_factory=dict)
    parent: Env | None = None

    def lookup(self, name: str):
        env = self
        while env is not None:
            if name in env.values:
                return env.values[name]
            env = env.parent
        raise KeyError(name)

    def names(self) -> set[str]:
        env, names = self, set()
        while env is not None:
            names |= set(env.values)
            env = env.parent
        return names

    def child(self, values: dict[str, Any]) -> Env:
        return Env(dict(values), self)


def _divisible(v: float, d: float = 8, min_value: float | None = None) -> int:
    """Round v to a multiple of d, never below min_value and never more than 10% down
    (the rule width multipliers use, as in MobileNet)."""
    floor = d if min_value is None else min_value
    out = max(floor, int(v + d / 2) // d * d)
    if out < 0.9 * v:
        out += d
    return int(out)


FUNCTIONS = {
    "min": (min, 2, None),
    "max": (max, 2, None),
    "round": (lambda v: int(round(v)), 1, 1),
    "ceil": (lambda v: int(math.ceil(v)), 1, 1),
    "floor": (lambda v: int(math.floor(v)), 1, 1),
    "divisible": (_divisible, 1, 3),
}


def evaluate(expr: ast.Expr, env: Env, in_channels: int | None = None) -> Any:
    """The value of `expr`: an int, a float, a string, a size tuple or a list."""
    if isinstance(expr, ast.Num):
        return _check(expr.value, expr)
    if isinstance(expr, ast.Str):
        return expr.value
    if isinstance(expr, ast.SizeLit):
        return expr.dims
    if isinstance(expr, ast.Name):
        if expr.id == "in":
            if in_channels is None:
                raise CnnValueError("`in` (the input's channels) has no value here",
                                    expr.span, "`in` can be used in layer options")
            return in_channels
        try:
            return env.lookup(expr.id)
        except KeyError:
            raise CnnNameError(f"unknown name `{expr.id}`", expr.span,
                               did_you_mean(expr.id, env.names() | {"in"})) from None
    if isinstance(expr, ast.Neg):
        return _check(-_number(evaluate(expr.operand, env, in_channels), expr.operand), expr)
    if isinstance(expr, ast.BinOp):
        left = _number(evaluate(expr.left, env, in_channels), expr.left)
        right = _number(evaluate(expr.right, env, in_channels), expr.right)
        return _check(_binop(expr, left, right), expr)
    if isinstance(expr, ast.Paren):
        if len(expr.words) != 1:
            raise CnnValueError("expected one value in parentheses", expr.span)
        return evaluate(expr.words[0], env, in_channels)
    if isinstance(expr, ast.ListLit):
        return [evaluate(item, env, in_channels) for item in expr.items]
    if isinstance(expr, ast.FnCall):
        return _call(expr, env, in_channels)
    raise CnnValueError(f"`{expr.span.text}` is not a value", expr.span)


def _binop(expr: ast.BinOp, left, right):
    if expr.op in ("/", "//") and right == 0:
        raise CnnValueError(f"division by zero in `{expr.span.text}`", expr.span)
    if expr.op == "+":
        return left + right
    if expr.op == "-":
        return left - right
    if expr.op == "*":
        return left * right
    if expr.op == "/":
        return left / right
    return left // right


def _call(expr: ast.FnCall, env: Env, in_channels):
    if expr.name not in FUNCTIONS:
        raise CnnNameError(f"unknown function `{expr.name}`", expr.span,
                           did_you_mean(expr.name, FUNCTIONS))
    fn, low, high = FUNCTIONS[expr.name]
    if any(a.name is not None for a in expr.args):
        raise CnnValueError(f"`{expr.name}` takes positional arguments only", expr.span)
    args = [_number(evaluate(a.value, env, in_channels), a.value) for a in expr.args]
    if len(args) < low or (high is not None and len(args) > high):
        want = f"{low}" if high == low else f"{low} or more" if high is None else f"{low} to {high}"
        raise CnnValueError(f"`{expr.name}` takes {want} arguments, got {len(args)}",
                            expr.span)
    if expr.name == "divisible" and len(args) > 1 and args[1] <= 0:
        raise CnnValueError(f"`divisible` rounds to a multiple of a positive number, not "
                            f"{args[1]:g}", expr.args[1].value.span)
    try:
        return _check(fn(*args), expr)
    except (OverflowError, ValueError):  # round/ceil/floor of inf or nan
        raise CnnValueError(f"`{expr.span.text}` is not a finite number", expr.span) from None


def _number(value, expr) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CnnValueError(f"`{expr.span.text}` is not a number", expr.span)
    return value


def _check(value, expr):
    """`value`, unless it is infinite, NaN or beyond MAX_MAGNITUDE: no number read from a
    spec (literal, `--set`, or computed) is ever one of those."""
    if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise CnnValueError(f"`{expr.span.text}` is too large ({value:g})", expr.span)
    return value


def as_int(value, expr, what: str) -> int:
    """An integral value, or a located error that names `what`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CnnValueError(f"{what} must be a whole number, got `{expr.span.text}`",
                            expr.span)
    if isinstance(value, float):
        if not value.is_integer():
            raise CnnValueError(f"{what} must be a whole number, but `{expr.span.text}` is "
                                f"{value:g}", expr.span,
                                "use `//` for whole-number division, or round(...)")
        value = int(value)
    return value
