"""Checks of block bodies that hold whatever the arguments, for the blocks nothing calls.

# NOTE: checks without a call
# A block body is lowered at its calls, with their values; a block that nothing calls (a
# library's, or one its network does not use yet) would otherwise never be looked at. What
# no argument can change is checked without a call: every layer and block named exists,
# every name read is a parameter, a `param`, a builtin (`in`, `input`), a repeat's index,
# a dense body's `k`, a layer or a function, and every layer option whose value reads none
# of those local names is one the layer has, in its range (`conv k3 s0`, `bn eps=-1`,
# `dropout 2`, `relu(3)`). Shapes, and options that read a parameter, wait for a call.
"""
from __future__ import annotations

from ..errors import CnnError, CnnNameError, did_you_mean
from ..ops import layer_names, lookup
from ..syntax import ast
from ..syntax.group import COMPOSITES, FUNCTIONS
from .evaluate import Env
from .options import given_options

BUILTINS = frozenset(("in", "input"))
_LAYER_WORDS = frozenset(("id",))  # a layer, but not of the ops table


def check_blocks(blocks: list[ast.BlockDef], known: set[str], globals_: Env) -> None:
    """Raise every error of `blocks` found without a call (see NOTE: checks without a
    call); `known`: the block names in reach, `globals_`: the params the bodies see."""
    errors: list[CnnError] = []
    for block in blocks:
        local = {p.name for p in block.params}
        _BodyCheck(errors, known, globals_).sequence(block.body, local)
    if errors:
        raise CnnError.collect(errors)


class _BodyCheck:
    def __init__(self, errors: list[CnnError], known: set[str], globals_: Env) -> None:
        self.errors, self.known, self.globals = errors, known, globals_
        self.values = globals_.names() | BUILTINS | set(FUNCTIONS) | set(layer_names()) | \
            _LAYER_WORDS

    def sequence(self, body: ast.Sequence, local: set[str]) -> None:
        for item in body.items:
            self.item(item, local)

    def item(self, item, local: set[str]) -> None:
        if isinstance(item, ast.Layer):
            self.options(item.op, item.options, local)
        elif isinstance(item, ast.Defaults):
            self.options(item.layer.op, item.layer.options, local)
        elif isinstance(item, ast.LayerVar):  # the layer is the call's: its options too
            for option in item.options:
                self.names(option.value, local, choice=True)
        elif isinstance(item, ast.Call):
            self.call(item, local)
        elif isinstance(item, ast.Conditional):
            self.names(item.cond, local)
            self.item(item.item, local)
        elif isinstance(item, ast.Repeat):
            self.names(item.count, local)
            self.item(item.item, local)
        elif isinstance(item, (ast.Group, ast.Labelled)):
            self.sequence(item.body, local)
        elif isinstance(item, ast.Composite):
            self.composite(item, local)
        elif isinstance(item, ast.Assert):
            self.names(item.value, local)

    def composite(self, item: ast.Composite, local: set[str]) -> None:
        inner = set(local)
        for option in item.options:
            if item.kind == "repeat" and option.kind == "flag":
                inner.add(option.name)  # `repeat(n, i)`: the index
            elif option.value is not None and not isinstance(option.value, tuple):
                self.names(option.value, local)
        if item.kind == "dense":
            inner.add("k")
        for branch in item.branches:
            self.sequence(branch.body, inner)

    def call(self, call: ast.Call, local: set[str]) -> None:
        if call.name not in self.known and call.name not in local:
            hint = did_you_mean(call.name, [*self.known, *layer_names(), *COMPOSITES])
            self.errors.append(CnnNameError(
                f"unknown layer or block: `{call.name}` is not a layer or a block",
                call.span, hint))
        for arg in call.args:
            if not isinstance(arg.value, ast.Ref):
                self.names(arg.value, local)

    def options(self, op: str, options, local: set[str]) -> None:
        spec = lookup(op)
        if spec is None:  # `id`
            return
        for option in options:
            value = option.value if option.kind in ("keyword", "positional") else None
            if value is not None and not isinstance(value, tuple):
                if not self.names(value, local, choice=True) or self._reads(value, local):
                    continue
            try:
                given_options(spec, (option,), self.globals, None)
            except CnnError as exc:
                self.errors.append(exc)

    def names(self, expr, local: set[str], choice: bool = False) -> bool:
        """Whether every name `expr` reads is known; an error for the first that is not.
        `choice`: a bare name may be an option's word (`mode=bilinear`, `p=same`)."""
        if choice and isinstance(expr, ast.Name):
            return True
        for node in ast.walk(expr):
            if isinstance(node, ast.Name) and node.id not in local and \
                    node.id not in self.values:
                hint = did_you_mean(node.id, [*local, *self.globals.names(), *BUILTINS])
                self.errors.append(CnnNameError(f"unknown name `{node.id}`", node.span, hint))
                return False
        return True

    @staticmethod
    def _reads(expr, local: set[str]) -> bool:
        """Whether `expr` reads a name with no value without a call (a parameter, `in`)."""
        return any(isinstance(node, ast.Name) and (node.id in local or node.id in BUILTINS)
                   for node in ast.walk(expr))
