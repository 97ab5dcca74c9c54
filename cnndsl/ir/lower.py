"""Lowering: a parsed spec to the IR graph, with blocks and repeats expanded.

Shapes are computed as nodes are added, with the same per-node rule (`ops.node_shape`)
that the `infer_shapes` pass uses, because options may depend on them (`in`, `dw`,
`residual(proj)`).

# NOTE: default names
# Each scope names its children. A label names what it covers; a label covering a single
# item gives that item its name instead of adding a level, but a label on a residual,
# gate, merge or repeat makes the scope of its layers (on seq, dense and aux it names the
# module). Unlabelled layers are named `{op}{n}`, n counting that op in the scope from 1
# (conv1, bn1, relu1, conv2, ...; a stem that ends in a digit takes a `_`: relu6_1);
# unlabelled block calls are named after their block the same way (se1, se2; b2_1), so that
# `model.se1` says what it is. `residual` and `gate` bodies belong to the enclosing scope,
# a residual's projection is `downsample` and an explicit shortcut `shortcut`;
# inception/add branches are `branch1`, `branch2`, ...; a dense block is `dense{n}` with
# layers `denselayer1`, ...; an aux head is `aux{n}`. Merge nodes (add, concat, mul) are
# named like layers but have no module.
# In a `seq< >` (and a block whose body is one `seq< >`) every child is numbered instead,
# 0, 1, 2, ... as nn.Sequential numbers its children: a layer, a block call, a composite
# (lowered inside a scope of its own) or a nested seq is one child; a group adds no level,
# an item left out by `if` takes no number, nor does a layer that is no module (`chunk`),
# a labelled item keeps its label. A residual's projection is such a sequence:
# `downsample.0` (conv), `downsample.1` (bn), as torchvision.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field

from ..errors import (
    CnnError,
    CnnLimitError,
    CnnNameError,
    CnnShapeError,
    CnnSyntaxError,
    CnnValueError,
    Diagnostic,
    did_you_mean,
)
from ..ops import ShapeProblem, is_interned, layer_names, lookup, node_shape
from ..ops.geometry import fmt_shape
from ..syntax import ast, parse
from ..syntax.group import COMPOSITES
from .evaluate import Env, LayerValue, TensorValue, as_int, evaluate
from .graph import Contract, Network, Scope, shared_options
from .block_check import check_blocks
from .library import BlockInfo, builtin_values, collect_blocks, spec_params
from .multigraph import MultiDiGraph
from .names import attribute_name, call_stem, count_separator
from .options import build_options, given_options

MAX_LAYERS = 50_000  # see the NOTE on limits in syntax/layout.py
MAX_CALL_DEPTH = 64
# Composites whose layers a label makes a scope of (`seq`, `dense` and `aux` are named by it).
_SCOPED = ("residual", "gate", "repeat", "inception", "concat", "add")
METRICS = ("shape", "rf", "params", "macs", "flops", "channels")
# The weight initialisations an `init` line can name (cnndsl/backends/torch_init.py).
INIT_RULES = ("torch", "resnet", "vgg", "densenet", "mobilenet", "mnasnet", "efficientnet",
              "convnext", "regnet", "squeezenet", "googlenet", "inception")

_DENSE_DEFAULT_TEXT = ("block dense_layer(k): (norm1: bn) (relu1: relu) (conv1: conv k1 4*k) "
                       "(norm2: bn) (relu2: relu) (conv2: conv k3 p1 k nobias)\n")


@functools.lru_cache(maxsize=1)
def _dense_default() -> ast.Sequence:
    """The body of a `dense` written without one (parsed on first use, not at import)."""
    return parse(_DENSE_DEFAULT_TEXT, "<DenseNet-B layer>").blocks[0].body


@dataclass
class Frame:
    """A scope being filled: its names so far and its labels."""

    scope: tuple[Scope, ...]
    kind: str
    counters: Counter = field(default_factory=Counter)
    used: set = field(default_factory=set)
    labels: dict = field(default_factory=dict)
    parent: Frame | None = None
    numbered: bool = False  # a `seq< >`: children are 0, 1, 2, ... (see NOTE: default names)

    def path(self, local: str) -> str:
        return ".".join([s.name for s in self.scope] + [local])

    def fresh(self, stem: str, start: int = 1, sep: str = "", number: bool = True) -> str:
        if self.numbered and number:
            stem, start, sep = "", 0, ""
        sep = sep or count_separator(stem)
        while True:
            n = self.counters[stem] + start
            self.counters[stem] += 1
            name = f"{stem}{sep}{n}" if stem else str(n)
            if name not in self.used:
                self.used.add(name)
                return name

    def default(self, stem: str) -> str:
        """`stem` itself the first time, then `stem1`, `stem2`, ... (two residuals in one
        scope each have a `downsample`)."""
        if stem not in self.used:
            return stem
        name = self.fresh(stem)
        self.used.discard(name)  # the caller claims it
        return name

    def claim(self, name: str, span) -> str:
        if name in self.used:
            raise CnnNameError(f"the name `{name}` is used twice in this scope", span,
                               "labels must differ from each other and from default names")
        self.used.add(name)
        return name

    def child(self, scope: Scope, kind: str, numbered: bool = False) -> Frame:
        return Frame(self.scope + (scope,), kind, parent=self, numbered=numbered)

    def find_label(self, name: str):
        frame = self
        while frame is not None:
            if name in frame.labels:
                return frame.labels[name]
            if frame.kind == "block":
                break
            frame = frame.parent
        return None


def lower(spec: ast.Spec, *, params: dict | None = None,
          input_shape: tuple[int, ...] | None = None) -> Network:
    shape = input_shape or (spec.input_shape.dims if spec.input_shape else None)
    globals_ = spec_params(spec, params, builtin_values(shape))
    blocks = collect_blocks(spec, globals_)
    if spec.body is None:
        what = "defines blocks but no layers" if spec.blocks else "has no layers"
        raise CnnSyntaxError(f"the spec {what}", spec.source.span(0, 0),
                             "add layers, or `use` this file from a spec")
    if shape is None:
        raise CnnSyntaxError("the spec does not say its input shape", spec.body.span,
                             "add a line `input 3x224x224` (CxHxW), or pass --input")
    network = Lowering(spec, blocks, globals_, tuple(shape)).run()
    called = {s.block for n in network.layers() for s in network.node(n)["scope"]
              if s.kind == "block"}
    check_blocks([b for b in spec.blocks if b.name not in called], set(blocks), globals_)
    return network


def check_library(spec: ast.Spec, params: dict | None = None) -> int:
    """A file of blocks alone, checked as far as it can be without a call (see the NOTE in
    block_check.py): its `use`s, its params and its blocks' bodies. Its block count."""
    globals_ = spec_params(spec, params, builtin_values(None))
    blocks = collect_blocks(spec, globals_)
    check_blocks(list(spec.blocks), set(blocks), globals_)
    return len(spec.blocks)


class Lowering:
    def __init__(self, spec: ast.Spec, blocks: dict[str, BlockInfo], globals_: Env,
                 shape: tuple[int, ...]) -> None:
        self.spec = spec
        self.blocks = blocks
        self.globals = globals_
        self.graph = MultiDiGraph()  # see NOTE: parallel edges in ir/graph.py
        self.contracts: list[Contract] = []
        self.aux: list[int] = []
        self.calls: list[str] = []
        self.presets: dict[str, dict] = {}  # op -> option values from `default` lines
        self.warnings: list[Diagnostic] = []
        self._warned: set[tuple[int, int]] = set()
        self.option_sets: dict = {}  # see shared_options
        self.literal_layers: dict = {}  # see NOTE: literal layers
        self.literal_shapes: dict = {}
        self.graph.add_node(0, op="input", opts={}, span=spec.input_shape.span
                            if spec.input_shape else None, scope=(), name="input",
                            meta={"shape": shape})

    def run(self) -> Network:
        root = Frame((), "block")
        out = self.sequence(self.spec.body, 0, root, self.globals)
        taps = [self.tap(ref, root) for ref in self.spec.outputs]
        if taps:
            out, taps = taps[0], taps[1:]
            seen: dict[int, ast.Name] = {}
            for ref, node in zip(self.spec.outputs, [out, *taps]):
                if node in seen:
                    raise CnnNameError(f"an output is listed twice (`@{seen[node].id}` and "
                                       f"`@{ref.id}` are the same tensor)", ref.span)
                seen[node] = ref
        check_outputs_used(self.graph, [out, *taps], self.aux)
        init = self.spec.init
        if init is not None and init.id not in INIT_RULES:
            raise CnnNameError(f"no initialisation `{init.id}`", init.span,
                               did_you_mean(init.id, INIT_RULES) or
                               "one of " + ", ".join(f"`{r}`" for r in INIT_RULES))
        self._resolve_bias()
        return Network(self.graph, self.spec.network or _stem(self.spec), self.shape(0), out,
                       extra_outputs=taps, aux_outputs=self.aux, contracts=self.contracts,
                       output_names=[r.id for r in self.spec.outputs],
                       init=init.id if init is not None else "torch",
                       params=dict(self.globals.values),
                       blocks={k: v.definition for k, v in self.blocks.items()},
                       warnings=self.warnings, source=self.spec.source)

    def warn(self, message: str, span, hint: str | None = None) -> None:
        """A warning, once per place in the spec (a block body is lowered once per call)."""
        key = (id(span.source), span.start)
        if key not in self._warned:
            self._warned.add(key)
            self.warnings.append(Diagnostic(message, span, hint, severity="warning"))

    # --- the graph ----------------------------------------------------------------------
    def shape(self, node: int) -> tuple[int, ...]:
        return self.graph.nodes[node]["meta"]["shape"]

    def add(self, op: str, opts: dict | None, inputs: list[int], span, frame: Frame,
            local: str, problem_hint=None, known: tuple[dict, tuple] | None = None) -> int:
        """A node: `op` with `opts` on `inputs`, or with the resolved options and output
        shape `known` (see make_layer)."""
        n = self.graph.number_of_nodes()
        if n > MAX_LAYERS:
            raise CnnLimitError(f"the network has more than {MAX_LAYERS:,} layers", span,
                                "check repeat counts")
        if known is None:
            opts, out = self.resolved(op, opts, [self.shape(i) for i in inputs], span,
                                      problem_hint)
        else:
            opts, out = known
        self.graph.add_node(n, op=op, opts=opts, span=span, scope=frame.scope,
                            name=frame.path(local), meta={"shape": out})
        for index, i in enumerate(inputs):
            self.graph.add_edge(i, n, index=index)
        return n

    def resolved(self, op: str, opts: dict, ins: list, span, problem_hint=None
                 ) -> tuple[dict, tuple]:
        """A layer's options completed from its inputs (shared, see shared_options), and
        its output shape; a located error where the inputs do not fit."""
        spec = lookup(op)
        try:
            if spec.resolve is not None:
                opts = spec.resolve(opts, ins)
            out = node_shape(spec, opts, ins)
        except ShapeProblem as problem:
            raise CnnShapeError(problem.message, span, problem_hint or problem.hint) from None
        return shared_options(self.option_sets, op, opts), out

    # --- items --------------------------------------------------------------------------
    def tap(self, ref: ast.Name, root: Frame) -> int:
        """An `output @ref`: a label of the network's top level, or a module path."""
        if ref.id in root.labels:
            return self.labelled_tensor(ref, root)
        prefix = ref.id + "."
        found = [n for n in self.graph.nodes if n and (
            self.graph.nodes[n]["name"] == ref.id or
            self.graph.nodes[n]["name"].startswith(prefix))]
        if not found:
            raise CnnNameError(f"`output @{ref.id}`: no label or module `{ref.id}`", ref.span,
                               did_you_mean(ref.id, list(root.labels)) or
                               "name a top-level label or a module path such as `features.6`")
        inside = set(found)
        ends = [n for n in found if not any(v not in inside
                                            for v in self.graph.successors(n))]
        leaving = [n for n in found if any(v not in inside for v in self.graph.successors(n))]
        return max(leaving) if leaving else max(ends)

    def sequence(self, seq: ast.Sequence, x: int, frame: Frame, env: Env) -> int:
        saved = self.presets
        try:
            return self._sequence(seq, x, frame, env)
        finally:
            self.presets = saved

    def _sequence(self, seq: ast.Sequence, x: int, frame: Frame, env: Env) -> int:
        items = seq.items
        for index, item in enumerate(items):
            if index and _repeats_one_bare_layer(item, items[index - 1]):
                self.warn_repeat(item, [i for i in items[:index]
                                        if i.span.line == item.span.line])
            try:
                x = self.item(item, x, frame, env)
            except CnnError:
                # `conv k3 widht`: the conv lacks channels because of the misspelt name
                # after it; that name is the mistake to report.
                following = items[index + 1] if index + 1 < len(items) else None
                if isinstance(following, ast.Call) and not following.args \
                        and following.name not in self.blocks:
                    self.call(following, x, frame, env, None)
                raise
        return x

    def warn_repeat(self, item: ast.Repeat, line_before: list) -> None:
        """`conv k3 p1 64 bn relu x3` repeats `relu` alone, which is rarely what was meant."""
        layer = item.item.op
        start = line_before[0].span.text.split(None, 1)[0]
        self.warn(f"`{item.span.text}` repeats only `{layer}`, not the layers before it on "
                  "the line", item.span,
                  f"to repeat them all, group them: `({start} ... {layer}) x N`; to repeat "
                  f"`{layer}` alone, write it on a line of its own")

    def item(self, item, x: int, frame: Frame, env: Env, name: str | None = None) -> int:
        if isinstance(item, ast.Layer):
            return self.layer(item, x, frame, env, name)
        if isinstance(item, ast.LayerVar):
            return self.layer_var(item, x, frame, env, name)
        if isinstance(item, ast.Conditional):
            cond = evaluate(item.cond, env, self.shape(x)[0])
            return self.item(item.item, x, frame, env, name) if _truth(cond, item.cond) else x
        if isinstance(item, ast.Defaults):
            self.defaults(item, x, env)
            return x
        if isinstance(item, ast.Composite) and frame.numbered and item.kind != "repeat":
            if item.kind == "seq":
                return self.composite(item, x, frame, env, name)
            local = frame.claim(name, item.span) if name else frame.fresh("")
            inner = frame.child(Scope(local, "label", span=item.span), "label")
            return self.composite(item, x, inner, env, None)
        if isinstance(item, ast.Call):
            return self.call(item, x, frame, env, name)
        if isinstance(item, ast.Composite) and name is not None and item.kind in _SCOPED:
            # `c: residual< ... >` is the scope `c` holding the composite's layers
            local = frame.claim(name, item.span)
            inner = frame.child(Scope(local, "label", span=item.span), "label")
            return self.composite(item, x, inner, env, None)
        if isinstance(item, ast.Composite):
            return self.composite(item, x, frame, env, name)
        if isinstance(item, ast.Group):
            if name is not None and _one_item(item.body) is not None:
                return self.item(item.body.items[0], x, frame, env, name)
            if name is not None:
                return self.scoped(item.body, x, frame, env, name, "label", item.span)
            return self.sequence(item.body, x, frame, env)
        if isinstance(item, ast.Repeat):
            return self.repeat(item, x, frame, env)
        if isinstance(item, ast.Labelled):
            return self.labelled(item, x, frame, env)
        if isinstance(item, ast.Assert):
            return self.contract(item, x, env)
        raise TypeError(item)  # unreachable: grouping makes only these items

    def layer(self, layer: ast.Layer, x: int, frame: Frame, env: Env, name: str | None) -> int:
        if layer.op == "id":
            return x
        return self.make_layer(layer.op, layer.options, layer.span, x, frame, env, name)

    def make_layer(self, op: str, options, span, x: int, frame: Frame, env: Env,
                   name: str | None, preset: dict | None = None) -> int:
        spec = lookup(op)
        in_shape = self.shape(x)
        preset = {**self.presets.get(op, {}), **(preset or {})}
        key = None if preset else _literal_options(op, options)
        built = self.literal_layers.get(key) if key is not None else None
        if built is None:
            opts = build_options(spec, options, env, in_shape[0], span, preset)
            if key is not None:
                self.literal_layers[key] = built = opts
        # In a seq, a layer that is no module (`chunk`, `shuffle`: an expression in the
        # forward) takes no number: nn.Sequential numbers modules.
        local = frame.claim(name, span) if name else \
            frame.fresh(op, number=spec.torch is not None or "torch_inline" not in spec.extras)
        if built is None:
            return self.add(op, opts, [x], span, frame, local)
        # See NOTE: literal layers.
        if not is_interned(in_shape):
            return self.add(op, dict(built), [x], span, frame, local)
        known = self.literal_shapes.get((id(built), in_shape))
        if known is None:
            known = self.literal_shapes[(id(built), in_shape)] = self.resolved(
                op, dict(built), [in_shape], span)
        return self.add(op, None, [x], span, frame, local, known=known)

    def layer_var(self, item: ast.LayerVar, x: int, frame: Frame, env: Env,
                  name: str | None) -> int:
        """`act` in `block b(c, act=relu)`: the layer the parameter holds."""
        value = evaluate(ast.Name(item.name, item.span), env, self.shape(x)[0])
        if not isinstance(value, LayerValue):
            raise CnnValueError(f"`{item.name}` is used as a layer, but its value is "
                                f"`{value}`", item.span,
                                f"pass a layer: `{item.name}=relu` (or `id` for none)")
        if value.op == "id":
            if item.options:
                raise CnnValueError(f"`{item.name}` is `id` here, which takes no options",
                                    item.options[0].span)
            return x
        spec = lookup(value.op)
        preset = given_options(spec, value.options, value.env, self.shape(x)[0])
        return self.make_layer(value.op, item.options, item.span, x, frame, env, name, preset)

    def defaults(self, item: ast.Defaults, x: int, env: Env) -> None:
        """`default bn eps=1e-3`: later `bn`s in this sequence and what it calls."""
        op = item.layer.op
        values = given_options(lookup(op), item.layer.options, env, self.shape(x)[0])
        self.presets = {**self.presets, op: {**self.presets.get(op, {}), **values}}

    def call(self, call: ast.Call, x: int, frame: Frame, env: Env, name: str | None) -> int:
        info = self.blocks.get(call.name)
        if info is None:
            hint = did_you_mean(call.name, list(self.blocks) + layer_names() + list(COMPOSITES)
                                + sorted(env.names()))
            known = f"`{call.name}` is not a layer or a block"
            if hint is None and not call.args:
                hint = "a variable is only allowed as an option of a layer"
            raise CnnNameError(f"unknown layer or block: {known}", call.span, hint)
        if call.name in self.calls:
            chain = " -> ".join(self.calls[self.calls.index(call.name):] + [call.name])
            raise CnnLimitError(f"block `{call.name}` calls itself ({chain})", call.span,
                                "a block cannot contain a call of itself")
        if len(self.calls) >= MAX_CALL_DEPTH:
            raise CnnLimitError(f"block calls nest more than {MAX_CALL_DEPTH} deep", call.span)
        args = self.bind(info.definition, call, env, self.shape(x)[0], frame)
        local = frame.claim(name, call.span) if name else _call_name(frame, call.name)
        scope = Scope(local, "block", call.name, tuple(args.items()), call.span)
        body, numbered = sequence_body(info.definition)
        inner = frame.child(scope, "block", numbered=numbered)
        self.calls.append(call.name)
        try:
            return self.sequence(body, x, inner, info.globals.child(args))
        finally:
            self.calls.pop()

    def argument(self, expr, env: Env, in_ch: int, frame: Frame):
        """A call argument's value: a number, a layer, or a tensor (`@label`)."""
        if isinstance(expr, ast.Ref):
            return TensorValue(self.resolve_ref(expr, frame, env))
        return evaluate(expr, env, in_ch)

    def resolve_ref(self, ref, frame: Frame, env: Env) -> int:
        """The node `@name` stands for: a label in scope, or a block's tensor parameter."""
        if frame.find_label(ref.id) is not None:
            return self.labelled_tensor(ref, frame)
        try:
            value = env.lookup(ref.id)
        except KeyError:
            value = None
        if isinstance(value, TensorValue):
            return value.node
        outer = _label_outside_block(frame, ref.id)
        if outer is not None:
            raise CnnNameError(f"label `{ref.id}` is outside block `{outer}`: a block body "
                               "sees only its own labels", ref.span,
                               f"pass the tensor as an argument, `{outer}(..., @{ref.id})`, "
                               "to a parameter of the block")
        known = _visible_labels(frame) + sorted(
            n for n in env.names() if isinstance(env.lookup(n), TensorValue))
        raise CnnNameError(f"no label `{ref.id}` before this point", ref.span,
                           did_you_mean(ref.id, known) or
                           "label a layer earlier: `enc1: conv k3 64`")

    def bind(self, block: ast.BlockDef, call: ast.Call, env: Env, in_ch: int,
             frame: Frame) -> dict:
        params = block.params
        values: dict = {}
        positional = [a for a in call.args if a.name is None]
        if len(positional) > len(params):
            raise CnnValueError(f"block `{block.name}` takes {len(params)} arguments, got "
                                f"{len(positional)}", call.span, _signature(block))
        for param, arg in zip(params, positional):
            values[param.name] = self.argument(arg.value, env, in_ch, frame)
        for arg in call.args:
            if arg.name is None:
                continue
            if arg.name not in {p.name for p in params}:
                raise CnnNameError(f"block `{block.name}` has no parameter `{arg.name}`",
                                   arg.span, did_you_mean(arg.name, [p.name for p in params])
                                   or _signature(block))
            if arg.name in values:
                raise CnnValueError(f"parameter `{arg.name}` is given twice", arg.span)
            values[arg.name] = self.argument(arg.value, env, in_ch, frame)
        local = Env(values, self.blocks[block.name].globals)
        for param in params:
            if param.name in values:
                continue
            if param.default is None:
                raise CnnValueError(f"block `{block.name}` needs its parameter `{param.name}`",
                                    call.span, _signature(block))
            values[param.name] = evaluate(param.default, local, in_ch)
        return {p.name: values[p.name] for p in params}

    def repeat(self, item: ast.Repeat, x: int, frame: Frame, env: Env) -> int:
        count = as_int(evaluate(item.count, env, self.shape(x)[0]), item.count, "a repeat count")
        return self.repeated(count, item.span, x,
                             lambda done, x: self.item(item.item, x, frame, env))

    def repeated(self, count: int, span, x: int, step) -> int:
        """`step(i, x)` for i in 0 .. count-1, each on the last one's output, within the
        layer limit (`X * n`, `repeat(n, i)< >`)."""
        if count < 0:
            raise CnnValueError(f"a repeat count cannot be negative, got {count}", span)
        if count > MAX_LAYERS:
            raise CnnLimitError(f"repeating {count:,} times gives more than {MAX_LAYERS:,} "
                                "layers", span, "check the repeat count")
        before = self.graph.number_of_nodes()
        for done in range(count):
            x = step(done, x)
            # Nested repeats multiply: stop before building what cannot fit.
            grown = self.graph.number_of_nodes() - before
            if done == 0 and before + grown * count > MAX_LAYERS + 1:
                raise CnnLimitError(f"repeating {count:,} times gives more than "
                                    f"{MAX_LAYERS:,} layers", span, "check the repeat counts")
        return x

    def labelled(self, item: ast.Labelled, x: int, frame: Frame, env: Env) -> int:
        name = quoted_name(item, env) if item.quoted else attribute_name(item.label)
        items = item.body.items
        before = self.graph.number_of_nodes()
        if len(items) == 1 and not isinstance(items[0], (ast.Assert, ast.Repeat)):
            out = self.item(items[0], x, frame, env, name=name)
        else:
            out = self.scoped(item.body, x, frame, env, name, "label", item.span)
        label = name if item.quoted else item.label
        if label in frame.labels:
            raise CnnNameError(f"label `{label}` is used twice", item.span)
        made_nothing = self.graph.number_of_nodes() == before and not all(
            isinstance(i, ast.Layer) and i.op == "id" for i in items)
        frame.labels[label] = EmptyLabel(item) if made_nothing else out
        return out

    def scoped(self, body: ast.Sequence, x: int, frame: Frame, env: Env, name: str,
               kind: str, span) -> int:
        local = frame.claim(name, span)
        inner = frame.child(Scope(local, kind, span=span), kind)
        inner.labels = {}
        return self.sequence(body, x, inner, env)

    def contract(self, item: ast.Assert, x: int, env: Env) -> int:
        metric = item.metric.id
        if metric not in METRICS:
            raise CnnNameError(f"cannot assert on `{metric}`", item.metric.span,
                               did_you_mean(metric, METRICS) or
                               "assert on " + ", ".join(METRICS))
        value = evaluate(item.value, env, self.shape(x)[0])
        if metric == "shape" and not isinstance(value, tuple):
            value = (as_int(value, item.value, "a shape"),)
        elif metric != "shape" and not isinstance(value, (int, float)):
            raise CnnValueError(f"`assert {metric}` compares with a number, not "
                                f"`{item.value.span.text}`", item.value.span)
        self.contracts.append(Contract(x, metric, item.comparison, value, item.span))
        return x

    # --- composites ---------------------------------------------------------------------
    def composite(self, item: ast.Composite, x: int, frame: Frame, env: Env,
                  name: str | None) -> int:
        options = self.composite_options(item, env, self.shape(x)[0])
        if item.kind == "seq":
            return self.seq(item, x, frame, env, name)
        if item.kind == "repeat":
            return self.repeat_indexed(item, options, x, frame, env)
        if item.kind == "residual" and not options.get("when", True):
            return self.sequence(item.branches[0].body, x, frame, env)
        if item.kind == "residual":
            return self.residual(item, options, x, frame, env)
        if item.kind in ("inception", "concat", "add"):
            return self.merge_branches(item, x, frame, env, name)
        if item.kind == "gate":
            return self.gate(item, x, frame, env)
        if item.kind == "dense":
            return self.dense(item, options, x, frame, env, name)
        return self.aux_head(item, x, frame, env, name)

    def composite_options(self, item: ast.Composite, env: Env, in_ch: int) -> dict:
        allowed = {"residual": ("proj", "when"), "dense": ("n", "k"),
                   "repeat": ("n", "i")}.get(item.kind, ())
        values: dict = {}
        for index, option in enumerate(item.options):
            key = option.name if option.kind != "positional" else (
                allowed[index] if index < len(allowed) else None)
            if item.kind == "repeat" and option.kind == "flag" and "i" not in values:
                key = "i"
            if key not in allowed:
                what = option.span.text
                raise CnnNameError(f"`{item.kind}` has no option `{what}`", option.span,
                                   "it takes " + ", ".join(f"`{a}`" for a in allowed)
                                   if allowed else f"`{item.kind}` takes no options")
            if key in values:
                raise CnnValueError(f"`{item.kind}` option `{key}` is given twice",
                                    option.span)
            if key == "i":
                if option.kind != "flag":
                    raise CnnSyntaxError("the index of `repeat(n, i)` is a name",
                                         option.span, "e.g. `repeat(4, i)< ... >`")
                values[key] = option.name
            elif key == "when":
                values[key] = _truth(evaluate(option.value, env, in_ch), option.value)
            else:
                values[key] = True if option.kind == "flag" else \
                    as_int(evaluate(option.value, env, in_ch), option.value, f"`{key}`")
        if item.kind == "residual" and len(item.branches) > 2:
            raise CnnSyntaxError("`residual< body | shortcut >` has at most two parts",
                                 item.branches[2].span)
        if item.kind in ("gate", "aux", "dense", "seq", "repeat") and len(item.branches) > 1:
            raise CnnSyntaxError(f"`{item.kind}< >` has one body, not branches",
                                 item.branches[1].span)
        for branch in item.branches[:1] if item.kind not in ("inception", "concat", "add",
                                                              "aux") else ():
            if branch.ref is not None:
                raise CnnSyntaxError(f"`@{branch.ref.id}` can only start a branch of "
                                     "inception, concat or add, or an `aux< >` head",
                                     branch.ref.span)
        return values

    def seq(self, item, x: int, frame: Frame, env: Env, name: str | None) -> int:
        """`seq< ... >`: a scope whose children are numbered (see NOTE: default names)."""
        local = frame.claim(name, item.span) if name else frame.fresh("seq")
        inner = frame.child(Scope(local, "seq", span=item.span), "label", numbered=True)
        return self.sequence(item.branches[0].body, x, inner, env)

    def repeat_indexed(self, item, options, x: int, frame: Frame, env: Env) -> int:
        """`repeat(n, i)< body >`: the body n times, `i` counting 0 .. n-1."""
        if "n" not in options:
            raise CnnValueError("`repeat` needs a count", item.span,
                                "e.g. `repeat(4, i)< conv k3 p1 16*(i+1) >`")
        count, index = options["n"], options.get("i")
        body = item.branches[0].body
        return self.repeated(count, item.span, x, lambda done, x: self.sequence(
            body, x, frame, env.child({index: done}) if index else env))

    def residual(self, item, options, x, frame, env) -> int:
        body = item.branches[0]
        out = self.sequence(body.body, x, frame, env)
        shortcut = x
        if len(item.branches) == 2:
            shortcut = self.branch(item.branches[1], x, frame, env, frame.default("shortcut"),
                                   "shortcut")
        elif self.shape(out) != self.shape(x):
            if not options.get("proj"):
                raise CnnShapeError(
                    f"residual body changes the shape from {fmt_shape(self.shape(x))} to "
                    f"{fmt_shape(self.shape(out))}, so it cannot be added to its input",
                    item.span, "write `residual(proj)< ... >` to add a 1x1 conv + bn "
                    "projection where shapes differ, or give a shortcut: "
                    f"`residual< ... | {_projection_text(self.shape(x), self.shape(out))} >`")
            shortcut = self.projection(item, x, out, frame)
        hint = ("make the shortcut end with the body's shape" if len(item.branches) == 2
                else None)
        add_span = item.span
        try:
            return self.add("add", {}, [out, shortcut], add_span, frame, frame.fresh("add"),
                            hint)
        except CnnShapeError as exc:
            raise CnnShapeError(
                f"residual: the body gives {fmt_shape(self.shape(out))} but the shortcut "
                f"gives {fmt_shape(self.shape(shortcut))}", item.span, exc.hint) from None

    def projection(self, item, x: int, out: int, frame: Frame) -> int:
        """ResNet option B: conv k1 s=<body's stride> <body's channels> bn, in `downsample`."""
        (_, *hw_in), (c_out, *hw_out) = self.shape(x), self.shape(out)
        if len(hw_in) != 2 or len(hw_out) != 2:
            raise CnnShapeError("residual(proj) needs feature maps in and out", item.span)
        strides = []
        for n_in, n_out in zip(hw_in, hw_out):
            # n_in // n_out where it maps (8 -> 4: 2), else the least that does (7 -> 4: 2)
            s = next((s for s in (max(1, n_in // n_out), *range(1, n_in + 1))
                      if (n_in - 1) // s + 1 == n_out), None)
            if s is None:
                raise CnnShapeError(
                    f"residual(proj): no 1x1 strided conv maps {fmt_shape(self.shape(x))} "
                    f"to {fmt_shape(self.shape(out))}", item.span,
                    "give the shortcut explicitly: `residual< ... | shortcut layers >`")
            strides.append(s)
        inner = frame.child(Scope(frame.claim(frame.default("downsample"), item.span), "shortcut",
                                  span=item.span), "shortcut", numbered=True)
        conv_opts = dict(lookup("conv").defaults(), k=(1, 1), s=tuple(strides), c=c_out)
        y = self.add("conv", conv_opts, [x], item.span, inner, inner.fresh("conv"))
        return self.add("bn", lookup("bn").defaults(), [y], item.span, inner, inner.fresh("bn"))

    def branch(self, branch: ast.Branch, x: int, frame: Frame, env: Env, default: str,
               kind: str) -> int:
        """Lower one branch into its own scope (or as one named item)."""
        start = x
        if branch.ref is not None:
            start = self.resolve_ref(branch.ref, frame, env)
        items = branch.body.items
        if not items:
            return start
        if len(items) == 1 and isinstance(items[0], ast.Labelled):
            label = items[0]
            out = self.scoped_or_item(label.body, start, frame, env,
                                      attribute_name(label.label), kind, label.span)
            frame.labels[label.label] = out
            return out
        return self.scoped_or_item(branch.body, start, frame, env, default, kind, branch.span)

    def labelled_tensor(self, ref: ast.Name, frame: Frame) -> int:
        """The tensor `@label` names, or an error saying why there is none."""
        found = frame.find_label(ref.id)
        if isinstance(found, EmptyLabel):
            where = found.item.span
            raise CnnValueError(f"label `{ref.id}` (line {where.line}) covers no layer, so "
                                f"`@{ref.id}` would quietly be the tensor before it",
                                ref.span, "check its repeat count; to name the tensor at a "
                                f"point on purpose, write `{ref.id}: id`")
        if found is not None:
            return found
        raise CnnNameError(f"no label `{ref.id}` before this point", ref.span,
                           did_you_mean(ref.id, _visible_labels(frame)) or
                           "label a layer earlier: `enc1: conv k3 64`")

    def scoped_or_item(self, body, x, frame, env, name, kind, span) -> int:
        items = body.items
        if _one_item(body) is not None:
            return self.item(items[0], x, frame, env, name=name)
        if all(isinstance(i, ast.Layer) and i.op == "id" for i in items):
            return x
        return self.scoped(body, x, frame, env, name, kind, span)

    def merge_branches(self, item, x, frame, env, name) -> int:
        op = "add" if item.kind == "add" else "concat"
        outs = []
        for branch in item.branches:
            outs.append(self.branch(branch, x, frame, env, _fresh_branch(frame, branch), "branch"))
        try:
            local = frame.claim(name, item.span) if name else frame.fresh(op)
            return self.add(op, {}, outs, item.span, frame, local)
        except CnnShapeError as exc:
            listing = ", ".join(f"branch {i} gives {fmt_shape(self.shape(o))}"
                                for i, o in enumerate(outs, 1))
            verb = "added" if op == "add" else "concatenated"
            hint = ("branches must agree in height and width; adjust strides or padding"
                    if op == "concat" else "branches must give the same shape")
            raise CnnShapeError(f"`{item.kind}` branches cannot be {verb}: {listing}",
                                item.span, hint) from exc

    def gate(self, item, x, frame, env) -> int:
        g = self.sequence(item.branches[0].body, x, frame, env)
        return self.add("mul", {}, [x, g], item.span, frame, frame.fresh("mul"))

    def dense(self, item, options, x, frame, env, name) -> int:
        for key in ("n", "k"):
            if key not in options:
                raise CnnValueError(f"`dense` needs `{key}`", item.span,
                                    "e.g. `dense(n=6, k=32)`: 6 layers, growth rate 32")
            if options[key] < 1:
                raise CnnValueError(f"`dense` option `{key}` must be at least 1", item.span)
        if options["n"] > MAX_LAYERS:
            raise CnnLimitError(f"a dense block of {options['n']:,} layers is too large",
                                item.span)
        default = _dense_default()
        body = item.branches[0].body if item.branches else default
        local = frame.claim(name, item.span) if name else frame.fresh("dense")
        block = frame.child(Scope(local, "dense", span=item.span), "dense")
        inner_env = env.child({"k": options["k"]})
        features = [x]
        for _ in range(options["n"]):
            layer = block.child(Scope(block.fresh("denselayer"), "denselayer",
                                      span=item.span), "denselayer")
            y = features[0] if len(features) == 1 else self.add(
                "concat", {}, list(features), item.span, layer, layer.fresh("concat"))
            try:
                features.append(self.sequence(body, y, layer, inner_env))
            except CnnError as exc:
                if body is not default or exc.span is None \
                        or exc.span.source is not default.span.source:
                    raise
                # The user never wrote the built-in body: report at their `dense`.
                hint = exc.hint
                if isinstance(exc, CnnShapeError):
                    hint = (f"the default DenseNet-B layer `{default.span.text}` needs "
                            "a CxHxW feature map" + (f"; {hint}" if hint else ""))
                raise type(exc)(exc.message, item.span, hint) from None
            made = self.shape(features[-1])[0]
            if made != options["k"]:
                self.warn(f"a layer of this dense block makes {made} channels, not its "
                          f"growth rate `k` = {options['k']}", body.span,
                          "end the body with a layer of `k` channels (`conv k3 p1 k`), or "
                          "set `k` to what a layer makes")
        return self.add("concat", {}, features, item.span, block, block.fresh("concat"))

    def aux_head(self, item, x, frame, env, name) -> int:
        local = frame.claim(name, item.span) if name else frame.fresh("aux")
        inner = frame.child(Scope(local, "aux", span=item.span), "aux")
        branch = item.branches[0]
        start = x if branch.ref is None else self.resolve_ref(branch.ref, frame, env)
        out = self.sequence(branch.body, start, inner, env)
        if out == start:
            raise CnnValueError("`aux< >` has no layers", item.span)
        self.aux.append(out)
        return x

    # --- finishing ----------------------------------------------------------------------
    def _resolve_bias(self) -> None:
        """Bias is on unless the layer's only consumer is `bn` (which would cancel it)."""
        g = self.graph
        nodes = g.nodes
        # Shared option dicts (see shared_options) resolve alike: once per dict and answer,
        # by the dict's id (it is held in the entry, so the id stays its own).
        resolved: dict[tuple[int, bool], tuple[dict, dict]] = {}
        for n, attrs in nodes.items():
            opts = attrs.opts
            if opts.get("bias", False) is None:
                succ = list(g.successors(n))
                bias = not (len(succ) == 1 and nodes[succ[0]].op == "bn")
                key = (id(opts), bias)
                entry = resolved.get(key)
                if entry is None:
                    entry = resolved[key] = (opts, shared_options(
                        self.option_sets, attrs.op, {**opts, "bias": bias}))
                attrs.opts = entry[1]


# NOTE: literal layers
# A layer whose options are all literals (`conv k3 p1 64 nobias`: compact options, flags
# and plain numbers) has option values that depend on nothing else: no variable, no `in`,
# no preset from a `default` line. Lowering builds them once per op and written options
# (`literal_layers`, keyed by `_literal_options`), and on an input shape it has seen
# before, takes the resolved options and output shape from the first layer like it
# (`literal_shapes`, keyed by the built dict's id, which the cache holds, and the shape).
# Only shapes of plain ints are keys (`is_interned`): a probe's symbolic channels equal
# plain numbers but must stay symbolic. A layer that fails is never cached, so each one
# reports its own error at its own place. Long networks repeat a few such layers; each
# repeat is then a dict copy and a graph node.


def _literal_options(op: str, options: tuple[ast.Option, ...]) -> tuple | None:
    """A key for a layer's written options where they are all literals, else None."""
    key: list = [op]
    for option in options:
        kind, value = option.kind, option.value
        if kind == "compact" or kind == "flag":
            key.append((kind, option.name, value))
        elif type(value) is ast.Num:  # positional or keyword
            key.append((kind, option.name, value.text, type(value.value), value.value))
        else:
            return None
    return tuple(key)


def _call_name(frame: Frame, block: str) -> str:
    """An unlabelled call's name: its block's, counted in the scope; in a `seq< >` its
    number."""
    return frame.fresh(call_stem(block)[0])


def _one_item(body: ast.Sequence):
    """The one layer, call or composite a sequence is (also behind `if` or in parentheses),
    which a label names directly instead of adding a level; else None."""
    if len(body.items) != 1:
        return None
    item = body.items[0]
    while isinstance(item, (ast.Conditional, ast.Group)):
        if isinstance(item, ast.Group):
            if len(item.body.items) != 1:
                return None
            item = item.body.items[0]
        else:
            item = item.item
    if isinstance(item, ast.Layer) and item.op == "id":
        return None
    return item if isinstance(item, (ast.Layer, ast.LayerVar, ast.Call, ast.Composite)) \
        else None


def sequence_body(block: ast.BlockDef) -> tuple[ast.Sequence, bool]:
    """A block's body, and whether it is numbered: a block whose body is one `seq< >` is
    itself that sequence (no extra level; see NOTE: default names)."""
    body = block.body
    presets = [i for i in body.items if isinstance(i, ast.Defaults)]
    rest = [i for i in body.items if not isinstance(i, ast.Defaults)]
    only = rest[0] if len(rest) == 1 else None
    if isinstance(only, ast.Composite) and only.kind == "seq" and not only.options:
        inner = only.branches[0].body
        if presets:  # `default` lines first: they make no child
            inner = ast.Sequence((*presets, *inner.items), inner.span)
        return inner, True
    return body, False


def _truth(value, expr) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise CnnValueError(f"a condition must be true or false, not `{value}`", expr.span,
                        "compare with `==`, `!=`, `<=` or `>=`, e.g. `if t != 1`")


_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def quoted_name(item: ast.Labelled, env: Env) -> str:
    """`"block{s}-{i}":` with the integer variables filled in, checked as a module name."""
    def fill(match) -> str:
        try:
            value = env.lookup(match.group(1))
        except KeyError:
            raise CnnNameError(f"unknown name `{match.group(1)}` in the label", item.span,
                               did_you_mean(match.group(1), env.names())) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise CnnValueError(f"`{{{match.group(1)}}}` in a label must be a whole number, "
                                f"not `{value}`", item.span)
        return str(value)
    name = _FIELD.sub(fill, item.label)
    if not name or "." in name or any(not ch.isprintable() or ch.isspace() or ch in "{}'\"\\"
                                      for ch in name):
        raise CnnNameError(f"`{name}` cannot name a module", item.span,
                           "a quoted label is a non-empty name without `.`, spaces, quotes "
                           "or braces")
    if name != attribute_name(name) and name.isidentifier():
        raise CnnNameError(f"`{name}` would hide a Python or nn.Module name", item.span,
                           f"use `{attribute_name(name)}`")
    return name


@dataclass(frozen=True)
class EmptyLabel:
    """What a label names when its layers made no node (`a: (conv k1 4) * 0`)."""

    item: ast.Labelled


def _repeats_one_bare_layer(item, before) -> bool:
    """`... bn relu x3`: a repeat of one layer written without options, after another item
    on the same line."""
    return isinstance(item, ast.Repeat) and isinstance(item.item, ast.Layer) \
        and not item.item.options and item.item.op != "id" \
        and isinstance(before, (ast.Layer, ast.Call, ast.Composite, ast.Group, ast.Repeat)) \
        and before.span.source is item.span.source and before.span.line == item.span.line


def check_outputs_used(graph: MultiDiGraph, outputs: list[int], aux: list[int]) -> None:
    """Every tensor feeds an output or an `aux< >` head; report what feeds neither, once
    per run of unused items (a call, label or branch none of whose layers is used counts
    as one item, reported where it is written)."""
    ends = {*outputs, *aux}
    # In a DAG every node reaches some node that nothing reads; so where those are all
    # outputs or aux heads, every node is used (and no set of 100,000 ancestors is made).
    if all(graph.out_flat(n) or n in ends for n in graph.nodes):
        return
    live = set(ends)
    for end in ends:
        live |= graph.ancestors(end)
    if len(live) == graph.number_of_nodes():
        return
    alive: dict[tuple[int, ...], bool] = {}
    for n, scope in ((n, a["scope"]) for n, a in graph.nodes.items()):
        for depth in range(1, len(scope) + 1):
            key = tuple(id(s) for s in scope[:depth])
            alive[key] = alive.get(key, False) or n in live

    def written_at(n: int):
        """Where the unused node `n` was written: its outermost wholly unused scope."""
        scope = graph.nodes[n]["scope"]
        for depth in range(1, len(scope) + 1):
            if not alive[tuple(id(s) for s in scope[:depth])] and scope[depth - 1].span:
                return scope[depth - 1].span
        return graph.nodes[n]["span"]

    import networkx as nx  # only here, where something is unused (see ir/multigraph.py)

    dead = graph.to_networkx().subgraph(n for n in graph.nodes if n not in live)
    errors = []
    for nodes in sorted(nx.weakly_connected_components(dead), key=min):
        last = written_at(max(nodes))
        spans = [s for s in map(written_at, nodes) if s is not None and last is not None
                 and s.source is last.source]
        if not spans:
            continue
        span = last.source.span(min(s.start for s in spans), max(s.end for s in spans))
        text = span.text.split("\n", 1)[0]
        shown = text if len(text) <= 40 else text[:37] + "..."
        errors.append(CnnValueError(
            f"the output of `{shown}` is never used", span,
            "nothing reads it (what follows starts from a `@label`): remove it, or label "
            "it and use it (`x: ...`, then `@x`); a head that only trains is written "
            "`aux< ... >`"))
    if errors:
        raise CnnError.collect(errors)


def _label_outside_block(frame: Frame, name: str) -> str | None:
    """The block whose body `frame` is in, when `name` is a label outside that block."""
    inner = None
    while frame is not None:
        if inner is not None and name in frame.labels:
            return inner
        if frame.kind == "block" and frame.scope:
            inner = inner or frame.scope[-1].block
        frame = frame.parent
    return None


def _fresh_branch(frame: Frame, branch: ast.Branch) -> str:
    """`branchN` for an unlabelled branch (labelled ones are named by their label)."""
    items = branch.body.items
    if len(items) == 1 and isinstance(items[0], ast.Labelled):
        return ""
    name = frame.fresh("branch")
    frame.used.discard(name)  # claimed again by whatever the branch becomes
    return name


def _signature(block: ast.BlockDef) -> str:
    parts = [p.name if p.default is None else f"{p.name}={p.default.span.text}"
             for p in block.params]
    return f"it is defined as `{block.name}({', '.join(parts)})` at line {block.span.line}"


def _projection_text(shape_in, shape_out) -> str:
    if len(shape_in) == 3 and len(shape_out) == 3:
        s = max(1, shape_in[1] // max(1, shape_out[1]))
        return f"conv k1{f' s{s}' if s > 1 else ''} {shape_out[0]} bn"
    return "..."


def _visible_labels(frame: Frame) -> list[str]:
    names = []
    while frame is not None:
        names.extend(frame.labels)
        if frame.kind == "block":
            break
        frame = frame.parent
    return names


def _stem(spec: ast.Spec) -> str:
    path = spec.source.path
    return path.stem if path is not None else "Network"


__all__ = ["CnnError", "lower"]
