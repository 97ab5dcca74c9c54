"""A layer's written options to its typed option values, checked against its OpSpec."""
from __future__ import annotations

from ..errors import CnnNameError, CnnValueError, did_you_mean
from ..ops import OpSpec, OptionSpec
from ..syntax import ast
from .evaluate import Env, as_int, evaluate


def build_options(spec: OpSpec, written: tuple[ast.Option, ...], env: Env,
                  in_channels: int | None, span, preset: dict | None = None) -> dict:
    """The option values of a layer: the op's defaults, then `preset` (from `default` lines
    and layer parameters), then what is written."""
    opts = spec.defaults()
    opts.update(preset or {})
    opts.update(given_options(spec, written, env, in_channels))
    return opts


def given_options(spec: OpSpec, written: tuple[ast.Option, ...], env: Env,
                  in_channels: int | None) -> dict:
    """The values of the options written, by option name (a name given twice is an error)."""
    opts: dict = {}
    given: dict[str, ast.Option] = {}
    for option in written:
        ospec, value = _one(spec, option, env, in_channels)
        if ospec.name in given:
            raise CnnValueError(f"`{spec.name}` option `{ospec.name}` is given twice",
                                option.span, f"first given as `{given[ospec.name].span.text}`")
        given[ospec.name] = option
        opts[ospec.name] = value
    return opts


def _one(spec: OpSpec, option: ast.Option, env: Env, in_channels):
    if option.kind == "flag":
        name, value = spec.flag(option.name)
        return spec.option(name), value
    if option.kind == "compact":
        ospec = spec.compact_option(option.name)
        if ospec is None:
            raise CnnNameError(f"`{spec.name}` has no option `{option.name}`", option.span,
                               _options_hint(spec))
        return ospec, _compact(ospec, option)
    if option.kind == "keyword":
        ospec = spec.option(option.name)
        if ospec is None:
            hint = did_you_mean(option.name, [o.name for o in spec.options]) or \
                _options_hint(spec)
            raise CnnNameError(f"`{spec.name}` has no option `{option.name}`", option.span, hint)
    else:
        ospec = spec.option(spec.positional) if spec.positional else None
        if ospec is None:
            raise CnnValueError(f"`{spec.name}` takes no value, but is given "
                                f"`{option.span.text}`", option.span, _options_hint(spec))
    return ospec, coerce(ospec, option.value, env, in_channels, spec.name)


def _options_hint(spec: OpSpec) -> str:
    if not spec.options:
        return f"`{spec.name}` takes no options"
    written = [f"{o.compact}N" if o.compact else f"{o.name}=" for o in spec.options]
    return f"`{spec.name}` takes " + ", ".join(written) + \
        (f"; a bare value sets `{spec.positional}`" if spec.positional else "")


def _compact(ospec: OptionSpec, option: ast.Option):
    values = option.value
    if ospec.kind in ("pair", "padding"):
        pair = values * 2 if len(values) == 1 else values
        if len(pair) != 2:
            raise CnnValueError(f"`{option.span.text}` has more than two sizes", option.span)
        _range(ospec, pair, option)
        return tuple(pair)
    if len(values) != 1:
        raise CnnValueError(f"option `{ospec.name}` takes one number, not "
                            f"`{option.span.text}`", option.span)
    _range(ospec, values, option)
    return values[0]


def coerce(ospec: OptionSpec, expr, env: Env, in_channels, op: str):
    what = f"`{op}` option `{ospec.name}`"
    if ospec.kind == "table":
        return _table(expr, env, in_channels)
    if ospec.kind in ("choice", "padding") and isinstance(expr, ast.Name) \
            and expr.id not in env.names():
        allowed = ospec.choices if ospec.kind == "choice" else ("same",)
        if expr.id in allowed:
            return expr.id
        raise CnnValueError(f"{what} cannot be `{expr.id}`", expr.span,
                            "choose one of " + ", ".join(f"`{c}`" for c in allowed))
    value = evaluate(expr, env, in_channels)
    if ospec.kind == "choice":
        if value not in ospec.choices:
            raise CnnValueError(f"{what} cannot be `{value}`", expr.span,
                                "choose one of " + ", ".join(f"`{c}`" for c in ospec.choices))
        return value
    if ospec.kind == "flag":
        if value not in (0, 1):
            raise CnnValueError(f"{what} is on (1) or off (0)", expr.span)
        return bool(value)
    if ospec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CnnValueError(f"{what} must be a number", expr.span)
        if not isinstance(value, float):  # a float subclass (a symbolic one) stays as it is
            value = float(value)
        _range(ospec, (value,), expr)
        return value
    if ospec.kind == "int":
        value = as_int(value, expr, what)
        _range(ospec, (value,), expr)
        return value
    # pair or padding
    items = value if isinstance(value, (list, tuple)) else [value, value]
    if len(items) != 2:
        raise CnnValueError(f"{what} takes one number or two (`[h, w]`)", expr.span)
    pair = tuple(as_int(v, expr, what) for v in items)
    _range(ospec, pair, expr)
    return pair


def _range(ospec: OptionSpec, values, node) -> None:
    for v in values:
        if ospec.minimum is not None and v < ospec.minimum:
            raise CnnValueError(f"option `{ospec.name}` must be at least {ospec.minimum:g}, "
                                f"got {v:g}", node.span)
        if ospec.below is not None and v >= ospec.below:
            raise CnnValueError(f"option `{ospec.name}` must be below {ospec.below:g}, "
                                f"got {v:g}", node.span)
        if ospec.above is not None and v <= ospec.above:
            raise CnnValueError(f"option `{ospec.name}` must be above {ospec.above:g}, "
                                f"got {v:g}", node.span)
        if ospec.maximum is not None and v > ospec.maximum:
            raise CnnValueError(f"option `{ospec.name}` must be at most {ospec.maximum:g}, "
                                f"got {v:g}", node.span)


def _table(expr, env: Env, in_channels) -> tuple[tuple[int, ...], ...]:
    """`[012, 123]` (one digit per input map) or `[[0,1,2], [1,2,3]]`."""
    if not isinstance(expr, ast.ListLit) or not expr.items:
        raise CnnValueError("a connection table is a list of rows, e.g. `table=[012, 123]`",
                            expr.span)
    rows = []
    for row in expr.items:
        if isinstance(row, ast.Num) and row.text.isdigit():
            maps = tuple(int(ch) for ch in row.text)
        elif isinstance(row, ast.ListLit):
            maps = tuple(as_int(evaluate(v, env, in_channels), v, "an input map")
                         for v in row.items)
        else:
            raise CnnValueError(f"a table row is digits (`012`) or a list (`[0,1,2]`), not "
                                f"`{row.span.text}`", row.span)
        if not maps:
            raise CnnValueError("a table row must name at least one input map", row.span)
        if len(set(maps)) != len(maps):
            raise CnnValueError(f"table row `{row.span.text}` names an input map twice",
                                row.span)
        rows.append(maps)
    return tuple(rows)
