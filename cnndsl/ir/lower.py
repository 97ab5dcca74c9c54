"""Lowering: a parsed spec to the IR graph, with blocks and repeats expanded.

Shapes are computed as nodes are added, with the same per-node rule that the
`infer_shapes` pass uses, because options may depend on them (`in`, `dw`,
`residual(proj)`).

# NOTE: default names
# Each scope names its children. A label names what it covers; a label covering a single
# item gives that item its name instead of adding a level. Unlabelled layers are named
# `{op}{n}`, n counting that op in the scope from 1 (conv1, bn1, relu1, conv2, ...);
# unlabelled block calls are numbered 0, 1, 2 (as nn.Sequential numbers its children);
# `residual` and `gate` bodies belong to the enclosing scope, a residual's projection is
# `downsample` and an explicit shortcut `shortcut`; inception/add branches are `branch1`,
# `branch2`, ...; a dense block is `dense{n}` with layers `denselayer1`, ...; an aux head
# is `aux{n}`. Merge nodes (add, concat, mul) are named like layers but have no module.
"""
from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field

from ..errors import (
    CnnError,
    CnnLimitError,
    CnnNameError,
    CnnShapeError,
    CnnSyntaxError,
    CnnValueError,
    did_you_mean,
)
from ..ops import ShapeProblem, layer_names, lookup
from ..ops.geometry import fmt_shape
from ..passes.infer_shapes import node_shape
from ..syntax import ast, parse
from ..syntax.group import COMPOSITES
from .evaluate import Env, as_int, evaluate
from .graph import Contract, Network, Scope, shared_options
from .library import BlockInfo, collect_blocks, spec_params
from .multigraph import MultiDiGraph
from .names import attribute_name
from .options import build_options

MAX_LAYERS = 50_000  # see the NOTE on limits in syntax/layout.py
MAX_CALL_DEPTH = 64
METRICS = ("shape", "rf", "params", "macs", "flops", "channels")

_DENSE_DEFAULT_TEXT = "block dense_layer(k): bn relu conv k1 4*k bn relu conv k3 p1 k nobias\n"


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

    def path(self, local: str) -> str:
        return ".".join([s.name for s in self.scope] + [local])

    def fresh(self, stem: str, start: int = 1, sep: str = "") -> str:
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

    def child(self, scope: Scope, kind: str) -> Frame:
        return Frame(self.scope + (scope,), kind, parent=self)

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
    globals_ = spec_params(spec, params)
    blocks = collect_blocks(spec, globals_)
    if spec.body is None:
        what = "defines blocks but no layers" if spec.blocks else "has no layers"
        raise CnnSyntaxError(f"the spec {what}", spec.source.span(0, 0),
                             "add layers, or `use` this file from a spec")
    shape = input_shape or (spec.input_shape.dims if spec.input_shape else None)
    if shape is None:
        raise CnnSyntaxError("the spec does not say its input shape", spec.body.span,
                             "add a line `input 3x224x224` (CxHxW), or pass --input")
    return Lowering(spec, blocks, globals_, tuple(shape)).run()


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
        self.option_sets: dict = {}  # see shared_options
        self.graph.add_node(0, op="input", opts={}, span=spec.input_shape.span
                            if spec.input_shape else None, scope=(), name="input",
                            meta={"shape": shape})

    def run(self) -> Network:
        root = Frame((), "block")
        out = self.sequence(self.spec.body, 0, root, self.globals)
        self._resolve_bias()
        return Network(self.graph, self.spec.network or _stem(self.spec), self.shape(0), out,
                       aux_outputs=self.aux, contracts=self.contracts,
                       params=dict(self.globals.values),
                       blocks={k: v.definition for k, v in self.blocks.items()},
                       source=self.spec.source)

    # --- the graph ----------------------------------------------------------------------
    def shape(self, node: int) -> tuple[int, ...]:
        return self.graph.nodes[node]["meta"]["shape"]

    def add(self, op: str, opts: dict, inputs: list[int], span, frame: Frame, local: str,
            problem_hint=None) -> int:
        n = self.graph.number_of_nodes()
        if n > MAX_LAYERS:
            raise CnnLimitError(f"the network has more than {MAX_LAYERS:,} layers", span,
                                "check repeat counts")
        spec = lookup(op)
        ins = [self.shape(i) for i in inputs]
        try:
            if spec.resolve is not None:
                opts = spec.resolve(opts, ins)
            out = node_shape(spec, opts, ins)
        except ShapeProblem as problem:
            raise CnnShapeError(problem.message, span, problem_hint or problem.hint) from None
        opts = shared_options(self.option_sets, op, opts)
        self.graph.add_node(n, op=op, opts=opts, span=span, scope=frame.scope,
                            name=frame.path(local), meta={"shape": out})
        for index, i in enumerate(inputs):
            self.graph.add_edge(i, n, index=index)
        return n

    # --- items --------------------------------------------------------------------------
    def sequence(self, seq: ast.Sequence, x: int, frame: Frame, env: Env) -> int:
        items = seq.items
        for index, item in enumerate(items):
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

    def item(self, item, x: int, frame: Frame, env: Env, name: str | None = None) -> int:
        if isinstance(item, ast.Layer):
            return self.layer(item, x, frame, env, name)
        if isinstance(item, ast.Call):
            return self.call(item, x, frame, env, name)
        if isinstance(item, ast.Composite):
            return self.composite(item, x, frame, env, name)
        if isinstance(item, ast.Group):
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
        spec = lookup(layer.op)
        in_shape = self.shape(x)
        opts = build_options(spec, layer.options, env, in_shape[0], layer.span)
        local = frame.claim(name, layer.span) if name else frame.fresh(layer.op)
        return self.add(layer.op, opts, [x], layer.span, frame, local)

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
        args = self.bind(info.definition, call, env, self.shape(x)[0])
        local = frame.claim(name, call.span) if name else frame.fresh("", start=0)
        scope = Scope(local, "block", call.name, tuple(args.items()), call.span)
        inner = frame.child(scope, "block")
        self.calls.append(call.name)
        try:
            return self.sequence(info.definition.body, x, inner, info.globals.child(args))
        finally:
            self.calls.pop()

    def bind(self, block: ast.BlockDef, call: ast.Call, env: Env, in_ch: int) -> dict:
        params = block.params
        values: dict = {}
        positional = [a for a in call.args if a.name is None]
        if len(positional) > len(params):
            raise CnnValueError(f"block `{block.name}` takes {len(params)} arguments, got "
                                f"{len(positional)}", call.span, _signature(block))
        for param, arg in zip(params, positional):
            values[param.name] = evaluate(arg.value, env, in_ch)
        for arg in call.args:
            if arg.name is None:
                continue
            if arg.name not in {p.name for p in params}:
                raise CnnNameError(f"block `{block.name}` has no parameter `{arg.name}`",
                                   arg.span, did_you_mean(arg.name, [p.name for p in params])
                                   or _signature(block))
            if arg.name in values:
                raise CnnValueError(f"parameter `{arg.name}` is given twice", arg.span)
            values[arg.name] = evaluate(arg.value, env, in_ch)
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
        if count < 0:
            raise CnnValueError(f"a repeat count cannot be negative, got {count}", item.span)
        if count > MAX_LAYERS:
            raise CnnLimitError(f"repeating {count:,} times gives more than {MAX_LAYERS:,} "
                                "layers", item.span, "check the repeat count")
        before = self.graph.number_of_nodes()
        for done in range(count):
            x = self.item(item.item, x, frame, env)
            # Nested repeats multiply: stop before building what cannot fit.
            grown = self.graph.number_of_nodes() - before
            if done == 0 and before + grown * count > MAX_LAYERS + 1:
                raise CnnLimitError(f"repeating {count:,} times gives more than "
                                    f"{MAX_LAYERS:,} layers", item.span,
                                    "check the repeat counts")
        return x

    def labelled(self, item: ast.Labelled, x: int, frame: Frame, env: Env) -> int:
        name = attribute_name(item.label)
        items = item.body.items
        if len(items) == 1 and not isinstance(items[0], (ast.Assert, ast.Repeat)):
            out = self.item(items[0], x, frame, env, name=name)
        else:
            out = self.scoped(item.body, x, frame, env, name, "label", item.span)
        if item.label in frame.labels:
            raise CnnNameError(f"label `{item.label}` is used twice", item.span)
        frame.labels[item.label] = out
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
        allowed = {"residual": ("proj",), "dense": ("n", "k")}.get(item.kind, ())
        values: dict = {}
        for index, option in enumerate(item.options):
            key = option.name if option.kind != "positional" else (
                allowed[index] if index < len(allowed) else None)
            if key not in allowed:
                what = option.span.text
                raise CnnNameError(f"`{item.kind}` has no option `{what}`", option.span,
                                   "it takes " + ", ".join(f"`{a}`" for a in allowed)
                                   if allowed else f"`{item.kind}` takes no options")
            values[key] = True if option.kind == "flag" else \
                as_int(evaluate(option.value, env, in_ch), option.value, f"`{key}`")
        if item.kind == "residual" and len(item.branches) > 2:
            raise CnnSyntaxError("`residual< body | shortcut >` has at most two parts",
                                 item.branches[2].span)
        if item.kind in ("gate", "aux", "dense") and len(item.branches) > 1:
            raise CnnSyntaxError(f"`{item.kind}< >` has one body, not branches",
                                 item.branches[1].span)
        for branch in item.branches[:1] if item.kind not in ("inception", "concat", "add") \
                else ():
            if branch.ref is not None:
                raise CnnSyntaxError(f"`@{branch.ref.id}` can only start a branch of "
                                     "inception, concat or add", branch.ref.span)
        return values

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
            s = max(1, n_in // n_out)
            if (n_in - 1) // s + 1 != n_out:
                raise CnnShapeError(
                    f"residual(proj): no 1x1 strided conv maps {fmt_shape(self.shape(x))} "
                    f"to {fmt_shape(self.shape(out))}", item.span,
                    "give the shortcut explicitly: `residual< ... | shortcut layers >`")
            strides.append(s)
        inner = frame.child(Scope(frame.claim(frame.default("downsample"), item.span), "shortcut",
                                  span=item.span), "shortcut")
        conv_opts = dict(lookup("conv").defaults(), k=(1, 1), s=tuple(strides), c=c_out)
        y = self.add("conv", conv_opts, [x], item.span, inner, inner.fresh("conv"))
        return self.add("bn", lookup("bn").defaults(), [y], item.span, inner, inner.fresh("bn"))

    def branch(self, branch: ast.Branch, x: int, frame: Frame, env: Env, default: str,
               kind: str) -> int:
        """Lower one branch into its own scope (or as one named item)."""
        start = x
        if branch.ref is not None:
            start = frame.find_label(branch.ref.id)
            if start is None:
                known = _visible_labels(frame)
                raise CnnNameError(f"no label `{branch.ref.id}` before this point",
                                   branch.ref.span, did_you_mean(branch.ref.id, known) or
                                   "label a layer earlier: `enc1: conv k3 64`")
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

    def scoped_or_item(self, body, x, frame, env, name, kind, span) -> int:
        items = body.items
        if len(items) == 1 and isinstance(items[0], (ast.Layer, ast.Call, ast.Composite)) \
                and not (isinstance(items[0], ast.Layer) and items[0].op == "id"):
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
        return self.add("concat", {}, features, item.span, block, block.fresh("concat"))

    def aux_head(self, item, x, frame, env, name) -> int:
        local = frame.claim(name, item.span) if name else frame.fresh("aux")
        inner = frame.child(Scope(local, "aux", span=item.span), "aux")
        out = self.sequence(item.branches[0].body, x, inner, env)
        if out == x:
            raise CnnValueError("`aux< >` has no layers", item.span)
        self.aux.append(out)
        return x

    # --- finishing ----------------------------------------------------------------------
    def _resolve_bias(self) -> None:
        """Bias is on unless the layer's only consumer is `bn` (which would cancel it)."""
        g = self.graph
        for n in g.nodes:
            attrs = g.nodes[n]
            opts = attrs["opts"]
            if "bias" in opts and opts["bias"] is None:
                succ = list(g.successors(n))
                bias = not (len(succ) == 1 and g.nodes[succ[0]]["op"] == "bn")
                attrs["opts"] = shared_options(self.option_sets, attrs["op"],
                                               {**opts, "bias": bias})


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
