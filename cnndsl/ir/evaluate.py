"""Evaluation of spec expressions: numbers only, no Python `eval` anywhere."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import CnnNameError, CnnValueError, did_you_mean
from ..syntax import ast

MAX_MAGNITUDE = 10**15  # larger numbers are a mistake, and would slow everything down


@dataclass(frozen=True)
class LayerValue:
    """A layer as a value (`act=hardswish`, `act=leaky(0.1)`): its op and written options,
    evaluated later in `env`, where they were written."""

    op: str
    options: tuple
    env: Any = field(compare=False, repr=False)  # equal layers: same op, same options

    def __str__(self) -> str:
        return self.op


@dataclass(frozen=True)
class TensorValue:
    """A tensor passed to a block (`up(64, @enc3)`): the node that computes it."""

    node: int

    def __str__(self) -> str:
        return "a tensor"


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


def regnet_stages(w0: float, wa: float, wm: float, depth: int, gw: int,
                  bottleneck: float = 1.0) -> list[tuple[int, int, int]]:
    """(width, depth, group width) per stage of a RegNet from its design parameters
    (Radosavovic et al. 2020, eq. 2-4), as torchvision's BlockParams.from_init_params
    computes them: quantised widths, stages where the width changes, and group widths made
    compatible with the bottleneck width."""
    if wa < 0 or w0 <= 0 or wm <= 1 or w0 % 8 or depth < 1 or depth > 1000 or gw < 1 or \
            depth != int(depth) or gw != int(gw):
        raise ValueError("RegNet needs wa >= 0, w0 > 0 a multiple of 8, wm > 1, a whole "
                         "depth >= 1 and a whole gw >= 1")
    widths = []
    for i in range(int(depth)):
        capacity = round(math.log((i * wa + w0) / w0) / math.log(wm))
        widths.append(int(round(w0 * wm ** capacity / 8) * 8))
    stages: list[list[int]] = []
    for w in widths:
        if stages and stages[-1][0] == w:
            stages[-1][1] += 1
        else:
            stages.append([w, 1])
    out = []
    for w, d in stages:
        w_bot = int(w * bottleneck)
        g = min(gw, w_bot)
        out.append((int(_divisible(w_bot, g) / bottleneck), d, int(g)))
    return out


def _regnet(what: int):
    def fn(w0, wa, wm, depth, gw, stage):
        stages = regnet_stages(w0, wa, wm, depth, gw)
        if stage != int(stage) or not 1 <= stage <= len(stages):
            raise ValueError(f"this RegNet has stages 1 to {len(stages)}")
        return stages[int(stage) - 1][what]
    return fn


FUNCTIONS.update({
    "regnet_width": (_regnet(0), 6, 6),
    "regnet_depth": (_regnet(1), 6, 6),
    "regnet_group": (_regnet(2), 6, 6),
    "regnet_stages": (lambda *a: len(regnet_stages(*a)), 5, 5),
})


def evaluate(expr: ast.Expr, env: Env, in_channels: int | None = None) -> Any:
    """The value of `expr`: an int, a float, a string, a size tuple or a list."""
    if isinstance(expr, ast.Num):
        return _check(expr.value, expr)
    if isinstance(expr, ast.Str):
        return expr.value
    if isinstance(expr, ast.SizeLit):
        return expr.dims
    if isinstance(expr, (ast.Compare, ast.BoolOp, ast.IfElse)):
        return _condition(expr, env, in_channels)
    if isinstance(expr, ast.Ref):
        raise CnnValueError(f"`@{expr.id}` is a tensor, not a value", expr.span,
                            "a tensor can be passed to a block: `up(64, @skip)`")
    if isinstance(expr, ast.Name):
        if expr.id == "in":
            if in_channels is None:
                raise CnnValueError("`in` (the input's channels) has no value here",
                                    expr.span, "`in` can be used in layer options")
            return in_channels
        try:
            return env.lookup(expr.id)
        except KeyError:
            if _is_layer(expr.id):
                return LayerValue(expr.id, (), env)
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


def _is_layer(name: str) -> bool:
    from ..ops import lookup

    spec = lookup(name)
    return name == "id" or (spec is not None and not spec.internal)


def _layer_value(expr: ast.FnCall, env: Env) -> LayerValue:
    """`leaky(0.1)` as a value: the layer with its options."""
    from ..ops import lookup

    spec = lookup(expr.name)
    options = []
    for arg in expr.args:
        if arg.name is not None:
            options.append(ast.Option("keyword", arg.name, arg.value, arg.span))
        elif isinstance(arg.value, ast.Name) and spec is not None and \
                spec.flag(arg.value.id) is not None:
            options.append(ast.Option("flag", arg.value.id, None, arg.span))
        else:
            options.append(ast.Option("positional", None, arg.value, arg.span))
    return LayerValue(expr.name, tuple(options), env)


_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b,
            "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}


def _condition(expr, env: Env, in_channels):
    if isinstance(expr, ast.IfElse):
        cond = evaluate(expr.cond, env, in_channels)
        return evaluate(expr.then if _bool(cond, expr.cond) else expr.orelse, env, in_channels)
    if isinstance(expr, ast.BoolOp):
        if expr.op == "not":
            return not _bool(evaluate(expr.operands[0], env, in_channels), expr.operands[0])
        left = _bool(evaluate(expr.operands[0], env, in_channels), expr.operands[0])
        if (expr.op == "and" and not left) or (expr.op == "or" and left):
            return left
        return _bool(evaluate(expr.operands[1], env, in_channels), expr.operands[1])
    left = evaluate(expr.left, env, in_channels)
    right = evaluate(expr.right, env, in_channels)
    if expr.op in ("<=", ">="):
        left, right = _number(left, expr.left), _number(right, expr.right)
    elif isinstance(left, tuple) != isinstance(right, tuple):
        size, other = (expr.left, expr.right) if isinstance(left, tuple) else \
            (expr.right, expr.left)
        raise CnnValueError(f"`{expr.span.text}` compares a size (`{size.span.text}`) with "
                            f"`{other.span.text}`, which is not one", other.span,
                            "write a size, e.g. `input == 3x224x224`")
    elif isinstance(left, LayerValue) or isinstance(right, LayerValue):
        left, right = str(left), str(right)
    return _COMPARE[expr.op](left, right)


def _bool(value, expr) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise CnnValueError(f"`{expr.span.text}` is not a condition (true or false)", expr.span,
                        "compare with `==`, `!=`, `<=` or `>=`")


def _call(expr: ast.FnCall, env: Env, in_channels):
    if expr.name not in FUNCTIONS and _is_layer(expr.name):
        return _layer_value(expr, env)
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
        return _symbolic_call(expr.name, args, _check(fn(*args), expr))
    except (OverflowError, ValueError) as exc:  # round/ceil/floor of inf or nan, regnet
        message = str(exc) if expr.name.startswith("regnet") else "is not a finite number"
        raise CnnValueError(f"`{expr.span.text}`: {message}" if expr.name.startswith("regnet")
                            else f"`{expr.span.text}` {message}", expr.span) from None


def _symbolic_call(name: str, args: list, value):
    """`value`, or what a symbolic argument makes of it: a number that offers
    `symbolic_call` (the torch backend's, which remembers `max(1, c // 4)`: see
    cnndsl/backends/torch_symbolic.py) decides; plain numbers leave it as it is."""
    for arg in args:
        hook = getattr(arg, "symbolic_call", None)
        if hook is not None:
            return hook(name, args, value)
    return value


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
    if isinstance(value, (TensorValue, LayerValue)):
        kind = "a tensor" if isinstance(value, TensorValue) else f"the layer `{value}`"
        raise CnnValueError(f"{what} must be a whole number, but `{expr.span.text}` is {kind}",
                            expr.span)
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
