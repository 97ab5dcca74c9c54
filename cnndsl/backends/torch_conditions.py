"""Conditions in parametric classes: `X if COND` and `residual(when=COND)` decided in the
constructor, as hand-written code decides them.

# NOTE: conditional regions
# A probe (torch_params.py) evaluates a condition over its symbolic parameters to its value
# for this instance and, where the condition reads a parameter, to Python text
# (`s == 1 and in_channels == c`). The layers that the condition guards form a *region*:
# - where the condition holds for this instance, they are lowered as usual (real nodes,
#   checked against the instance like every other node);
# - where it does not, they are lowered all the same, as *phantoms*, only to write their
#   text: in a copy of the frame whose names start with PHANTOM (so they take no name or
#   number from the real layers after them), standing for the tensor that flows past them.
#   Lowering continues from their output, so the layers after them are written as they are
#   where the condition holds (the next conv reads `e` channels, not `in_channels`); the
#   probe is compared with the instance with every phantom in place of the tensor it stands
#   for, so the shapes after them must be this instance's too.
# The class text builds a region's modules under `if COND:` (appended to the list an
# `nn.Sequential(*layers)` is made from, so the children are numbered as the instance
# numbers them; in other containers `self.x = ... if self.use_x else None`), and its
# forward runs the region's steps under `if self.use_x:`, an attribute set in the
# constructor and listed in the class's `__constants__` (so TorchScript compiles only the
# branch it takes, and no call of a module that is None). Every step of a region writes
# the variable of the tensor it reads first, so skipping the region leaves that variable
# holding the tensor the region stands for; where that is not possible (a step's first
# input is read again later, or a step makes several tensors) the probe is made again
# without symbolic conditions.
# A condition holding for this instance runs the region, failing skips it; both are right
# for this instance, and instances share a class only where their texts are identical.
# Conditions are symbolic only where the guarded layers' names cannot depend on them: in a
# `seq< >` (numbered children) or under a label; elsewhere, and in `--fuse-bn` networks,
# they are decided as before, by this instance's values (a class per outcome).
"""
from __future__ import annotations

import re
from collections import Counter

from ..errors import CnnError
from ..ir.evaluate import LayerValue, evaluate
from ..ir.lower import Frame
from ..syntax import ast
from .torch_symbolic import Sym, SymFloat, SymLayer
from .torch_tree import Container, ModuleTree, join

PHANTOM = "{"  # starts a phantom's local name: no module name has `{` (quoted labels neither)
_CMP, _NOT, _AND, _OR = 3, 2, 1, 0  # Python precedence of a condition's top operator


class NotSymbolic(Exception):
    """A probe cannot keep its conditions symbolic: it is made again without."""


class PhantomFrame(Frame):
    """A frame whose new names start with PHANTOM, on copies of a real frame's counters,
    names and labels (so the real frame is untouched)."""

    @classmethod
    def of(cls, frame: Frame) -> PhantomFrame:
        return cls(frame.scope, frame.kind, Counter(frame.counters), set(frame.used),
                   dict(frame.labels), frame.parent, frame.numbered)

    def fresh(self, stem: str, start: int = 1, sep: str = "", number: bool = True) -> str:
        return PHANTOM + super().fresh(stem, start, sep, number)

    def claim(self, name: str, span) -> str:
        return PHANTOM + super().claim(name, span)


def is_phantom(path: str) -> bool:
    return PHANTOM in path


def real_name(local: str) -> str:
    """A child's name in the class text: a phantom's without its mark."""
    return local[len(PHANTOM):] if local.startswith(PHANTOM) else local


# --- decisions by value -------------------------------------------------------------
class DecisionRecorder:
    """A mixin of the probe's lowering: the names of the symbolic values that a condition
    (`X if COND`, `when=`, `a if c else b`) or a function (`max`, `divisible`: a plain
    number) read where the text keeps no condition, so that the lowering decided by their
    values. The network class fixes such params (NOTE: network parameters, in
    torch_source.py): its text is right for their values only."""

    def init_decisions(self) -> None:
        self.decided: set[str] = set()

    def note_reads(self, expr, env, in_channels) -> None:
        """`expr` decided something: the symbols it reads are decided."""
        for node in ast.walk(expr):
            if not isinstance(node, ast.Name):
                continue
            if node.id == "in":
                value = in_channels
            else:
                try:
                    value = env.lookup(node.id)
                except KeyError:
                    continue
            if isinstance(value, (Sym, SymFloat)):
                self.decided |= set(re.findall(r"[A-Za-z_]\w*", str(value)))

    def note_decisions(self, expr, env, in_channels) -> None:
        """The conditions and function calls inside a value `expr` decided by value."""
        for node in ast.walk(expr):
            if isinstance(node, ast.IfElse):
                self.note_reads(node.cond, env, in_channels)
            elif isinstance(node, ast.FnCall):
                for arg in node.args:
                    self.note_reads(arg.value, env, in_channels)


# --- condition text -------------------------------------------------------------------
def condition_text(expr, env, in_channels) -> tuple[bool, str | None]:
    """A condition's value for this instance, and its Python text where it reads a
    symbolic parameter (None where it does not: then it is decided by the value)."""
    value = evaluate(expr, env, in_channels)
    try:
        text = _text(expr, env, in_channels)
    except (CnnError, ArithmeticError, TypeError, ValueError):
        return value, None
    if text is None or isinstance(text[0], bool):
        return value, None
    return value, text[0]


def _text(expr, env, in_channels):
    """(text or a plain bool, precedence), or None where it cannot be written."""
    if isinstance(expr, ast.Paren) and len(expr.words) == 1:
        return _text(expr.words[0], env, in_channels)
    if isinstance(expr, ast.Compare):
        left = evaluate(expr.left, env, in_channels)
        right = evaluate(expr.right, env, in_channels)
        if isinstance(left, LayerValue) or isinstance(right, LayerValue):
            return None if _symbolic(left) or _symbolic(right) else \
                (bool(evaluate(expr, env, in_channels)), _CMP)
        if not _symbolic(left) and not _symbolic(right):
            return bool(evaluate(expr, env, in_channels)), _CMP
        return f"{_value_text(left)} {expr.op} {_value_text(right)}", _CMP
    if isinstance(expr, ast.BoolOp) and expr.op == "not":
        inner = _text(expr.operands[0], env, in_channels)
        if inner is None or isinstance(inner[0], bool):
            return None if inner is None else (not inner[0], _NOT)
        return f"not {_wrap(inner, _NOT)}", _NOT
    if isinstance(expr, ast.BoolOp):
        left = _text(expr.operands[0], env, in_channels)
        right = _text(expr.operands[1], env, in_channels)
        if left is None or right is None:
            return None
        prec = _AND if expr.op == "and" else _OR
        absorbing = expr.op == "or"  # `True or x` is True, `False and x` is False
        for one, other in ((left, right), (right, left)):
            if isinstance(one[0], bool):
                return (one[0], prec) if one[0] == absorbing else other
        return f"{_wrap(left, prec)} {expr.op} {_wrap(right, prec + 1)}", prec
    value = evaluate(expr, env, in_channels)
    if isinstance(value, Sym):  # a 0/1 parameter used as a condition
        return f"{value} != 0", _CMP
    return (bool(value), _CMP) if isinstance(value, (bool, int)) else None


def _symbolic(value) -> bool:
    return isinstance(value, (Sym, SymFloat, SymLayer))


def _value_text(value) -> str:
    if isinstance(value, (Sym, SymFloat)):
        return str(value)
    return repr(value) if isinstance(value, (float, bool)) else str(int(value))


def _wrap(text: tuple[str, int], prec: int) -> str:
    return text[0] if text[1] >= prec else f"({text[0]})"


# --- the probe's module tree ----------------------------------------------------------
class ProbeTree(ModuleTree):
    """A probe's module tree, whose containers' kinds leave out their phantom children
    (a phantom's output read by a real layer stands for the tensor it stands for)."""

    def __init__(self, network, stands_for: dict[int, int]) -> None:
        self.stands_for = stands_for
        super().__init__(network)

    def _kind(self, box: Container) -> str:
        if not any(c.startswith(PHANTOM) for c in box.children):
            return super()._kind(box)
        phantom = set(self.stands_for)
        real = Container(box.path, [c for c in box.children if not c.startswith(PHANTOM)],
                         box.nodes - phantom, box.inputs,
                         [self._real(n) for n in box.outputs])
        if not real.children:
            raise NotSymbolic  # a container only where the condition holds
        return super()._kind(real)

    def _real(self, n: int) -> int:
        while n in self.stands_for:
            n = self.stands_for[n]
        return n

    def is_chain(self, box: Container) -> bool:
        if len(box.inputs) != 1 or len(box.outputs) != 1:
            return False
        current = self._real(box.inputs[0])
        for local in box.children:
            path = join(box.path, local)
            ins, outs = self.unit_io(path)
            if [self._real(u) for u in ins] != [current] or len(outs) != 1:
                return False
            if path not in self.containers and self._op(self.leaf_of[path]).torch is None:
                return False
            current = self._real(outs[0])
        return [self._real(n) for n in box.outputs] == [current]


# --- lowering -------------------------------------------------------------------------
class ConditionalLowering:
    """The probe's lowering of conditions (a mixin of torch_params.ProbeLowering, which
    gives `_join`, a residual's shortcut and add): records each region's units (children
    of a container: their paths) and nodes, with the condition's text."""

    symbolic_conditions = False

    def init_regions(self, symbolic: bool) -> None:
        self.symbolic_conditions = symbolic
        self.conditions: dict[str, str] = {}  # unit path -> its condition's text
        self.node_condition: dict[int, str] = {}  # node of a region -> its condition
        self.stands_for: dict[int, int] = {}  # phantom node -> the tensor it stands for
        self.region_kinds: dict[str, str] = {}  # unit path -> "residual" for a shortcut

    def item(self, item, x, frame, env, name=None):
        if isinstance(item, ast.Conditional) and self.symbolic_conditions and \
                (frame.numbered or name is not None or _labelled(item.item)):
            value, text = condition_text(item.cond, env, self.shape(x)[0])
            if text is not None:
                return self._region(lambda f: super(ConditionalLowering, self).item(
                    item.item, x, f, env, name), value, text, x, frame)
        return super().item(item, x, frame, env, name)

    def composite(self, item, x, frame, env, name):
        expr = when_condition(item) if self.symbolic_conditions else None
        if expr is None:
            return super().composite(item, x, frame, env, name)
        options = self.composite_options(item, env, self.shape(x)[0])
        value, text = condition_text(expr, env, self.shape(x)[0])
        if text is None:
            return super().composite(item, x, frame, env, name)
        if options.get("proj") and not value:
            raise NotSymbolic  # a phantom projection: not written
        out = self.sequence(item.branches[0].body, x, frame, env)
        return self._region(lambda f: self._join(item, options, x, out, f, env,
                                                 checked=f is frame),
                            value, text, out, frame, "residual")

    def _region(self, lower, value: bool, text: str, x: int, frame, kind: str = "item"):
        """Lowers a region (`lower(frame)`), in a phantom frame where `value` is false."""
        before = self.graph.number_of_nodes()
        target = frame if value else PhantomFrame.of(frame)
        try:
            out = lower(target)
        except (CnnError, ArithmeticError, TypeError, ValueError, RecursionError):
            if value:
                raise
            raise NotSymbolic from None  # what is not built cannot be written
        nodes = range(before, self.graph.number_of_nodes())
        prefix = ".".join(s.name for s in frame.scope)
        for n in nodes:
            name = self.graph.nodes[n]["name"]
            local = name[len(prefix) + 1:] if prefix else name
            unit = join(prefix, local.split(".", 1)[0])
            if self.conditions.setdefault(unit, text) != text:
                raise NotSymbolic  # a region inside another: not written
            self.node_condition[n] = text  # the outermost region (marked last)
            if kind == "residual":
                self.region_kinds[unit] = kind
            if not value:
                self.stands_for[n] = x
        return out


def _labelled(item) -> bool:
    """Whether an item has a name of its own (a label), whatever its condition."""
    while isinstance(item, ast.Group) and len(item.body.items) == 1:
        item = item.body.items[0]
    return isinstance(item, ast.Labelled)


def when_condition(item) -> ast.Expr | None:
    """The `when=` condition of a residual, or None."""
    if item.kind != "residual":
        return None
    for index, option in enumerate(item.options):
        key = option.name if option.kind != "positional" else ("proj", "when")[index] \
            if index < 2 else None
        if key == "when" and option.kind != "flag":
            return option.value
    return None
