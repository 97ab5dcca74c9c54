"""Parametric block classes: one `nn.Module` class per block, its constructor taking the
block's parameters, as a person would write it.

# NOTE: parametric classes, correct by construction
# For each call of a block in the network (an *instance*: a container whose scope is a
# block call), the block's body is lowered again on its own (a *probe*), with every integer
# parameter bound to a symbolic int (torch_symbolic.Sym: the parameter's name, and this
# instance's value) and the input channels to `in_channels`. The probe's options and
# channels print as expressions over the parameters, so the class text written from the
# probe by the usual machinery (torch_source.py) reads `nn.Conv2d(in_channels, 4 * c, 1)`;
# every decision taken while lowering (a projection or not, how many layers) is taken with
# this instance's values. Three things keep the result right for every instance:
# - the probe is checked against the instance in the real network, node for node (names,
#   ops, options, shapes, inputs, nested calls' arguments, compared as values); where they
#   differ, the instance gets today's concrete class (no parameters);
# - a class text is right for the instance it came from (each expression evaluates, at
#   that instance's parameters, to the value it stands for); instances share a class only
#   where their texts are identical, and different texts get numbered classes
#   (Bottleneck, Bottleneck2, ...), each still parametric;
# - nested calls pass their arguments as expressions; a nested instance's class is right
#   for its own arguments, which the probe showed equal the expressions' values.
# A repeat with a symbolic count (`bottleneck(c) * (n-1)`) whose copies have the same text
# becomes `*[Bottleneck(4 * c, c) for _ in range(n - 1)]` in an `nn.Sequential` subclass.
# Containers inside an instance that are not block calls (labels, branches, a
# `downsample`) get classes whose constructors take the names their text uses.
#
# NOTE: label classes
# Such a container whose input channels are a number (an aux head in the network's class:
# `aux1< @inception4a ... >` reads 512 channels, `aux2` 528) is written with them as its own
# `in_channels`, so that containers alike but for their input share one class
# (`Aux(512, num_classes)`, `Aux(528, num_classes)`): its nodes' shapes are inferred again
# by the ops table's rules from a Sym input (torch_symbolic.py; each must equal the node's
# shape), and the text is written from them, right for this container as every class text
# is. Not where its nodes' options already read the enclosing class's `in_channels`.
# Dense blocks inside a block get a shared layer class and a loop (the NOTE in
# torch_dense.py), checked the same way.
# A `--fuse-bn` network's probes are folded by the same rules before they are compared.
# Float arguments are symbolic too (torch_symbolic.SymFloat: the expression as written, so
# Python computes the same float), and so are layer arguments passed as a module class
# (`act=nn.SiLU`, SymLayer: where the probe makes a layer from one, the text calls it,
# `act(inplace=True)`). Conditions that read parameters are decided in the constructor
# (`if e != cin:`, `self.use_residual = s == 1 and cin == c`): the NOTE in
# torch_conditions.py. A probe starts from the `default` lines in effect at its call (the
# real network's lowering records them). A class's constructor takes only the parameters
# its text reads, and its calls pass only those (class_params).
# Falls back to concrete classes: blocks with tensor arguments, instances that are
# numbered but not chained (an nn.ModuleList), and any probe that fails or disagrees with
# the network (a probe with symbolic conditions that disagrees is made again without).
"""
from __future__ import annotations

import ast as pyast
import keyword
import re
import textwrap
from dataclasses import dataclass

from ..errors import CnnError
from ..ir import Network
from ..ir.evaluate import Env, LayerValue, evaluate
from ..ir.graph import Scope
from ..ir.library import builtin_values, collect_blocks
from ..ir.lower import Frame, Lowering, sequence_body
from ..ir.names import attribute_name, call_stem
from ..ir.names import class_name as sanitise_class_name
from ..ops import ChannelsLast, ShapeProblem, lookup, node_shape, same_layout
from ..syntax import ast, parse
from .torch_conditions import (
    PHANTOM,
    ConditionalLowering,
    DecisionRecorder,
    NotSymbolic,
    ProbeTree,
    is_phantom,
    real_name,
    when_condition,
)
from .torch_inplace import overwritable
from .torch_source import NotWritable, TorchSource
from .torch_symbolic import (
    DIVISIBLE_SOURCE,
    SYMBOLIC_FUNCTIONS,
    Sym,
    SymFloat,
    SymLayer,
    layer_factory,
    plain,
)
from .torch_tree import ModuleTree, join

INDENT = "    "
IN_CHANNELS = "in_channels"
# Work limit: probes re-lower nested blocks, so deep nesting costs depth x layers.
PROBE_BUDGET_FACTOR, PROBE_BUDGET_MIN = 8, 20_000


@dataclass
class DenseSite:
    """How a dense block was lowered: its options (Syms in a probe), its body (None: the
    built-in DenseNet-B layer) and the variables its body sees (`k` aside)."""

    n: int
    k: int
    body: ast.Sequence | None
    env: Env


class DenseRecorder(Lowering):
    """Lowers as usual, recording each dense block's options, body and variables (what
    its classes are written from: cnndsl/backends/torch_dense.py), and the `default`
    lines in effect at each block call (which its probe starts from)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dense_sites: dict[str, DenseSite] = {}  # path -> how it was lowered
        self.call_presets: dict[str, dict] = {}  # block call's path -> presets at the call

    def sequence(self, seq, x, frame, env) -> int:
        if frame.scope and frame.scope[-1].kind == "block":
            self.call_presets.setdefault(".".join(s.name for s in frame.scope), self.presets)
        return super().sequence(seq, x, frame, env)

    def dense(self, item, options, x, frame, env, name) -> int:
        out = super().dense(item, options, x, frame, env, name)
        path = self.graph.nodes[out]["name"].rsplit(".", 1)[0]
        body = item.branches[0].body if item.branches else None
        self.dense_sites[path] = DenseSite(options["n"], options["k"], body, env)
        # Its channels as `in + n * k` (not `in + k + k + ...`) where that is their value.
        c_out, *rest = self.shape(out)
        total = self.shape(x)[0] + options["n"] * options["k"]
        if isinstance(total, Sym) and total == c_out:
            self.graph.nodes[out]["meta"]["shape"] = (total, *rest)
        return out


def _derived_from(spec: ast.Spec, name: str) -> bool:
    """Whether another param's default reads param `name` (`param wide = 2 * width`): its
    value, fixed in the network class, was computed from `name`'s."""
    return any(isinstance(node, ast.Name) and node.id == name
               for param in spec.params if param.name != name
               for node in ast.walk(param.default))


def network_env(network: Network, values: dict | None = None) -> Env:
    """The params a probe sees (the network's, or `values`), over the builtin `input`."""
    return Env(dict(network.params) if values is None else values,
               builtin_values(network.input_shape))


class ProbeLowering(ConditionalLowering, DecisionRecorder, DenseRecorder):
    """Lowers one block body alone, recording what the class text needs: the repeats, how
    each call passed its arguments, and the conditions (cnndsl/backends/torch_conditions.py;
    symbolic only where `symbolic_conditions`)."""

    def __init__(self, *args, symbolic_conditions: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.init_regions(symbolic_conditions)
        self.init_decisions()
        self.repeats: dict[str, list[tuple[int, Sym | int]]] = {}  # path -> (start, count)
        # path -> (stem, separator, first number, count): repeats of named calls
        self.named_repeats: dict[str, list[tuple[str, str, int, Sym | int]]] = {}
        self.keywords: dict = {}  # call span -> names given by keyword
        self.optional: dict[str, str] = {}  # shortcut path -> when it exists (Python text)
        self.phantoms: dict[str, tuple[set[int], int]] = {}  # path -> (nodes, stands for)
        self.positional: dict = {}  # call span -> how many arguments were positional
        self.layer_args: dict[int, SymLayer] = {}  # node -> the layer argument it is

    def add(self, *args, **kwargs) -> int:
        n = super().add(*args, **kwargs)
        meta = self.graph.nodes[n]["meta"]
        shape = meta["shape"]
        if len(shape) > 1:  # channels stay symbolic; spatial sizes are this instance's
            meta["shape"] = same_layout(shape, (shape[0], *plain(tuple(shape[1:]))))
        return n

    def layer_var(self, item, x, frame, env, name) -> int:
        out = super().layer_var(item, x, frame, env, name)
        value = evaluate(ast.Name(item.name, item.span), env, self.shape(x)[0])
        if isinstance(value, SymLayer) and out != x and not item.options:
            self.layer_args[out] = value
        return out

    def bind(self, block, call, env, in_ch, frame) -> dict:
        self.keywords[call.span] = {a.name for a in call.args if a.name is not None}
        self.positional[call.span] = sum(1 for a in call.args if a.name is None)
        args = super().bind(block, call, env, in_ch, frame)
        for arg in call.args:
            self.note_decisions(arg.value, env, in_ch)
        inner = self.blocks[call.name].globals.child(args)
        for param in block.params:
            if param.default is not None:
                self.note_decisions(param.default, inner, in_ch)
        return args

    def item(self, item, x, frame, env, name=None):
        if isinstance(item, ast.Conditional) and not self.symbolic_conditions and \
                not isinstance(item.item, ast.Assert):  # an assert's changes no module
            self.note_reads(item.cond, env, self.shape(x)[0])
        return super().item(item, x, frame, env, name)

    def composite(self, item, x, frame, env, name):
        when = when_condition(item)
        if when is not None and not self.symbolic_conditions:
            self.note_reads(when, env, self.shape(x)[0])
        return super().composite(item, x, frame, env, name)

    def make_layer(self, op, options, span, x, frame, env, name, preset=None) -> int:
        for option in options:
            self.note_decisions(option.value, env, self.shape(x)[0])
        return super().make_layer(op, options, span, x, frame, env, name, preset)

    def residual(self, item, options, x, frame, env) -> int:
        if len(item.branches) == 2 or not options.get("proj"):
            return super().residual(item, options, x, frame, env)
        out = self.sequence(item.branches[0].body, x, frame, env)
        return self._join(item, options, x, out, frame, env)

    def _join(self, item, options, x, out, frame, env, checked: bool = True) -> int:
        """A residual's shortcut and add, after its body (`out`); `residual(proj)`'s
        projection as a constructor decision (see the NOTE). Not `checked`: a phantom's
        add (torch_conditions.py), whatever the shapes."""
        if len(item.branches) == 2 or not options.get("proj"):
            shortcut = x if len(item.branches) == 1 else self.branch(
                item.branches[1], x, frame, env, frame.default("shortcut"), "shortcut")
            if checked:
                return self.add("add", {}, [out, shortcut], item.span, frame,
                                frame.fresh("add"))
            return self._unchecked_add([out, shortcut], item.span, frame, frame.fresh("add"))
        changed = self.shape(out) != self.shape(x)
        plan = self._projection_plan(x, out, changed)
        if plan is None:
            shortcut = self.projection(item, x, out, frame) if changed else x
        elif plan[0] is False:
            shortcut = x
        else:
            condition, strides = plan
            before = self.graph.number_of_nodes()
            shortcut = self._projection(item, x, out, frame, strides)
            path = self.graph.nodes[shortcut]["name"].rsplit(".", 1)[0]
            if condition is not True:
                self.optional[path] = condition
            if not changed:  # built only for the text: the network has no projection here
                self.phantoms[path] = (set(range(before, self.graph.number_of_nodes())), x)
        return self.add("add", {}, [out, shortcut], item.span, frame, frame.fresh("add"))

    def _unchecked_add(self, inputs: list[int], span, frame, local: str) -> int:
        n = self.graph.number_of_nodes()
        self.graph.add_node(n, op="add", opts={}, span=span, scope=frame.scope,
                            name=frame.path(local), meta={"shape": self.shape(inputs[0])})
        for index, i in enumerate(inputs):
            self.graph.add_edge(i, n, index=index)
        return n

    def _projection_plan(self, x: int, out: int, changed: bool):
        """(condition, strides) of a projection: condition True (always), False (never) or
        Python text over the parameters (`s != 1 or in_channels != 4 * c`); None where the
        body's geometry is not a chain of strides, or the condition does not tell this
        instance's shapes apart."""
        strides = self._body_strides(x, out)
        if strides is None:
            return None
        always, terms = False, []
        for stride in strides:
            if isinstance(stride, Sym):
                if f"{stride} != 1" not in terms:
                    terms.append(f"{stride} != 1")
            elif stride != 1:
                always = True
        c_in, c_out = self.shape(x)[0], self.shape(out)[0]
        if isinstance(c_in, Sym) or isinstance(c_out, Sym):
            if str(c_in) != str(c_out):
                terms.append(f"{c_in} != {c_out}")
        elif c_in != c_out:
            always = True
        would = c_in != c_out or any(s != 1 for s in strides)
        if would != changed:
            return None
        return (True if always else " or ".join(terms) if terms else False), strides

    def _body_strides(self, x: int, out: int):
        """The product of the strides from `x` to `out` along first inputs, per dimension
        (symbolic where they are), or None where something else changes the size."""
        strides, n = [1, 1], out
        while n != x:
            attrs = self.graph.nodes[n]
            op = attrs["op"]
            if op in ("conv", "maxpool", "avgpool"):
                strides = [a * b for a, b in zip(strides, attrs["opts"]["s"])]
            elif lookup(op).rf is not None:  # no window: keeps height and width
                return None
            inputs = sorted(self.graph.in_edges(n, data="index"), key=lambda e: e[2])
            if not inputs or inputs[0][0] < x:
                return None
            n = inputs[0][0]
        return tuple(strides)

    def _projection(self, item, x: int, out: int, frame, strides) -> int:
        """As Lowering.projection, with the stride that the body's strides give."""
        local = frame.claim(frame.default("downsample"), item.span)
        inner = frame.child(Scope(local, "shortcut", span=item.span), "shortcut", numbered=True)
        conv_opts = dict(lookup("conv").defaults(), k=(1, 1), s=strides,
                         c=self.shape(out)[0], bias=False)
        y = self.add("conv", conv_opts, [x], item.span, inner, inner.fresh("conv"))
        return self.add("bn", lookup("bn").defaults(), [y], item.span, inner, inner.fresh("bn"))

    def repeat(self, item, x, frame, env) -> int:
        path = ".".join(s.name for s in frame.scope)
        call = isinstance(item.item, ast.Call)
        stem, sep = call_stem(item.item.name) if call and not frame.numbered else ("", "")
        start = frame.counters[stem]
        before = self.graph.number_of_nodes()
        count = evaluate(item.count, env, self.shape(x)[0])
        out = super().repeat(item, x, frame, env)
        made = frame.counters[stem] - start
        if call and self.graph.number_of_nodes() > before and made == count:
            if stem:  # se1, se2, ...: numbered from 1
                self.named_repeats.setdefault(path, []).append((stem, sep, start + 1, count))
            else:
                self.repeats.setdefault(path, []).append((start, count))
        return out


class ParamPlanner:
    """Decides, per block instance of a network, its class (parametric where possible)."""

    def __init__(self, source) -> None:
        self.source = source  # the TorchSource of the real network
        self.network: Network = source.network
        self.tree: ModuleTree = source.tree
        self.memo: dict[str, str | None] = {}
        self.probes: dict[tuple, list[Probe]] = {}
        self.budget = PROBE_BUDGET_FACTOR * self.network.graph.number_of_nodes() + \
            PROBE_BUDGET_MIN
        self.blocks = None
        self.py_names: dict[str, dict[str, str]] = {}  # block -> {param: python name}
        self.class_params: dict[str, set[str]] = {}  # class -> the parameters it takes
        self.phantom_memo: dict[tuple, str | None] = {}  # see phantom_class
        self.dense_sites: dict[str, DenseSite] | None = None  # of the network, when needed
        self.call_presets: dict[str, dict] = {}  # of the network, with dense_sites
        self.folded = any("folded" in self.network.node(n)["meta"]  # --fuse-bn
                          for n in self.network.layers())
        calls = any(s.kind in ("block", "dense") for n in self.network.layers()
                    for s in self.network.node(n)["scope"])
        if calls:  # the spec is parsed again only where it calls blocks or has dense ones
            self.blocks = self._blocks()
        for name, info in (self.blocks or {}).items():
            self.py_names[name] = _python_names([p.name for p in info.definition.params])
            source.used_names.update(self.py_names[name].values())

    def _blocks(self):
        network = self.network
        if network.source is None:
            return None
        try:
            spec = parse(network.source.text, network.source.path)
            self.spec = spec
            return collect_blocks(spec, network_env(network))
        except (CnnError, OSError):
            return None

    # --- instances ----------------------------------------------------------------------
    def scope_entry(self, path: str, network: Network | None = None,
                    tree: ModuleTree | None = None, kind: str = "block") -> Scope | None:
        """The block call (or the scope of another `kind`) whose container is `path`."""
        network, tree = network or self.network, tree or self.tree
        if not path or not tree.is_container(path):
            return None
        parts = path.split(".")
        scope = network.node(min(tree.containers[path].nodes))["scope"]
        entry = scope[len(parts) - 1] if len(scope) >= len(parts) else None
        if entry is not None and entry.name == parts[-1] and entry.kind == kind:
            return entry
        return None

    def instance_expr(self, path: str) -> str | None:
        """`Stage(64, 64, 3, s=1)` for an instance in the real network, or None."""
        if self.scope_entry(path, kind="dense") is not None:
            return self.dense_expr(path, self.network, self.tree, self.network_dense_sites())
        name = self.class_for(path)
        if name is None:
            return None
        entry = self.scope_entry(path)
        box = self.tree.containers[path]
        in_ch = self.network.node(box.inputs[0])["meta"]["shape"][0]
        definition = self.blocks[entry.block].definition
        names = self.py_names[entry.block]
        defaults = _python_defaults(definition)
        taken = self.class_params[name]
        args = [_literal(in_ch)] if IN_CHANNELS in taken else []
        for param, value in entry.args:
            if param not in taken or \
                    param in defaults and _literal(value) == _literal(defaults[param]):
                continue
            text = _literal(value)
            args.append(f"{names[param]}={text}" if param in defaults else text)
        return f"{name}({', '.join(args)})"

    def dense_expr(self, path: str, network: Network, tree: ModuleTree,
                   sites: dict[str, DenseSite]) -> str | None:
        """`DenseBlock(64, 6, 32)` for the dense block at `path`, its numbers as `network`
        (the real one or a probe) has them, or None (see cnndsl/backends/torch_dense.py)."""
        from .torch_dense import dense_block_expr

        return dense_block_expr(self, path, network, tree, sites)

    def network_dense_sites(self) -> dict[str, DenseSite]:
        """The dense blocks of the real network, as its lowering saw them (and, in
        call_presets, the `default` lines in effect at each block call)."""
        if self.dense_sites is None:
            self.dense_sites = {}
            if self.blocks is not None:
                network = self.network
                lowering = DenseRecorder(self.spec, self.blocks, network_env(network),
                                         tuple(network.input_shape))
                try:
                    lowering.sequence(self.spec.body, 0, Frame((), "block"), lowering.globals)
                    self.dense_sites = lowering.dense_sites
                    self.call_presets = lowering.call_presets
                except (CnnError, RecursionError, ArithmeticError, TypeError, ValueError):
                    pass
        return self.dense_sites

    def class_for(self, path: str) -> str | None:
        if path not in self.memo:
            self.memo[path] = None
            try:
                self.memo[path] = self._class_for(path)
            except (CnnError, RecursionError, ArithmeticError, TypeError, ValueError):
                self.memo[path] = None  # a probe that cannot be made: concrete classes
        return self.memo[path]

    def _class_for(self, path: str) -> str | None:
        entry = self.scope_entry(path)
        if entry is None or self.blocks is None or entry.block not in self.blocks:
            return None
        if any(isinstance(v, bool) or not isinstance(v, (int, float, LayerValue))
               for _, v in entry.args):
            return None
        box = self.tree.containers[path]
        if box.kind == "list" or len(box.inputs) != 1:
            return None
        # A probe depends only on the block, its arguments and the input shape; calls that
        # agree on those and match the probe share its class (see the NOTE).
        in_shape = self.network.node(box.inputs[0])["meta"]["shape"]
        key = (entry.block, tuple((p, type(v).__name__, _key(v)) for p, v in entry.args),
               tuple(in_shape))
        for probe in self.probes.get(key, ()):
            if self._agrees(path, probe):
                return probe.class_name
        probe = self.probe(path, entry)
        if probe is None:
            return None
        try:
            probe.class_name = ProbeSource(self, probe).instance_class()
        except NotWritable:  # checked before (_regions_written): not expected
            return None
        self.probes.setdefault(key, []).append(probe)
        return probe.class_name

    def probe(self, path: str, entry: Scope, symbolic: bool = True) -> Probe | None:
        """The instance's body lowered with its arguments symbolic, conditions too where
        they can be (torch_conditions.py), else without; None where it disagrees."""
        box = self.tree.containers[path]
        self.budget -= len(box.nodes)
        if self.budget < 0:
            return None
        symbolic = symbolic and not self.folded
        self.network_dense_sites()  # and the `default` lines in effect at each call
        try:
            probe = self._lower_probe(self.network, self.tree, path, entry, symbolic,
                                      self.call_presets.get(path, {}))
        except NotSymbolic:
            return self.probe(path, entry, False)
        if probe is not None and self._agrees(path, probe):
            return probe
        return self.probe(path, entry, False) if symbolic else None

    def _lower_probe(self, network: Network, tree: ModuleTree, path: str, entry: Scope,
                     symbolic: bool, presets: dict, phantom: bool = False) -> Probe | None:
        """The probe of the call at `path` of `network` (the real one, or a probe with a
        phantom call: see phantom_class), not yet compared with anything."""
        box = tree.containers[path]
        info = self.blocks[entry.block]
        names = self.py_names[entry.block]
        in_shape = plain(network.node(box.inputs[0])["meta"]["shape"])
        shape = (Sym(IN_CHANNELS, in_shape[0]), *in_shape[1:])
        lowering = ProbeLowering(self.spec, self.blocks, network_env(self.network),
                                 shape, symbolic_conditions=symbolic)
        lowering.presets = presets
        args = {param: _symbolic(names[param], value) for param, value in entry.args}
        scope = network.node(min(box.nodes))["scope"][:len(path.split("."))]
        body, numbered = sequence_body(info.definition)
        frame = Frame(scope, "block", numbered=numbered)
        lowering.calls = [s.block for s in scope if s.kind == "block"]
        out = lowering.sequence(body, 0, frame, info.globals.child(args))
        if phantom:  # biases as the body alone decides them (nothing to copy them from)
            lowering._resolve_bias()
        probe_network = Network(lowering.graph, "probe", shape, out, aux_outputs=lowering.aux,
                                blocks=self.network.blocks, source=self.network.source)
        probe_network = self.fold_like_the_network(probe_network, lowering)
        probe_tree = ProbeTree(probe_network, lowering.stands_for) if lowering.stands_for \
            else ModuleTree(probe_network)
        probe = Probe(path, entry, probe_network, lowering, probe_tree)
        for optional in lowering.optional:  # its forward step must be one of a sequence
            if probe.tree.ordered_children(optional.rsplit(".", 1)[0]) is None:
                return None
        if lowering.conditions and not _regions_written(probe):
            raise NotSymbolic
        return probe

    def phantom_class(self, probe: Probe, path: str, entry: Scope) -> str | None:
        """The class of a block call inside a phantom of `probe` (torch_conditions.py):
        written from its own probe, which nothing can be compared with (the text runs only
        where the phantom's condition holds, which is never for the instance at hand)."""
        key = (id(probe.network), path)
        if key not in self.phantom_memo:
            self.phantom_memo[key] = None
            box = probe.tree.containers[path]
            self.budget -= len(box.nodes)
            presets = probe.lowering.call_presets.get(path, {})
            try:
                try:
                    made = self._lower_probe(probe.network, probe.tree, path, entry, True,
                                             presets, phantom=True)
                except NotSymbolic:
                    made = self._lower_probe(probe.network, probe.tree, path, entry, False,
                                             presets, phantom=True)
                if made is not None and self.budget >= 0:
                    self.phantom_memo[key] = ProbeSource(self, made).instance_class()
            except (CnnError, RecursionError, ArithmeticError, TypeError, ValueError,
                    NotSymbolic, NotWritable):
                pass
        return self.phantom_memo[key]

    # --- the network's own class --------------------------------------------------------
    def root_probe(self, names: set[str] | None = None) -> Probe | None:
        """The network lowered again with its `param`s symbolic (those written as a plain
        number), for a network class whose constructor takes them (`Net(num_classes=10)`);
        None where that lowering does not reproduce the network. `names`: only these."""
        spec = getattr(self, "spec", None)
        if spec is None:
            spec = self.spec = self._parse_spec()
        if spec is None or spec.body is None or not spec.params:
            return None
        py = _python_names([p.name for p in spec.params])
        env = network_env(self.network, {})
        for param in spec.params:
            value = self.network.params.get(param.name)
            literal = isinstance(param.default, ast.Num) and isinstance(value, int) and \
                not isinstance(value, bool) and (names is None or param.name in names)
            env.values[param.name] = Sym(py[param.name], value) if literal else value
        try:
            blocks = collect_blocks(spec, env)
            shape = tuple(self.network.input_shape)
            lowering = ProbeLowering(spec, blocks, env, shape)
            frame = Frame((), "block")
            out = lowering.sequence(spec.body, 0, frame, env)
            taps = [lowering.tap(ref, frame) for ref in spec.outputs]
            if taps:
                out, taps = taps[0], taps[1:]
            lowering._resolve_bias()
        except (CnnError, RecursionError, ArithmeticError, TypeError, ValueError):
            return None
        symbolic = {p.name for p in spec.params if isinstance(env.values[p.name], Sym)}
        decided = {p for p in symbolic if py[p] in lowering.decided or _derived_from(spec, p)}
        if decided:  # the class is right at their values only: they are fixed
            return self.root_probe(symbolic - decided)
        network = Network(lowering.graph, self.network.name, shape, out, extra_outputs=taps,
                          aux_outputs=lowering.aux, blocks=self.network.blocks,
                          source=self.network.source)
        if "fully_conv" in self.network.meta:  # --fully-conv: converted as the network
            from ..passes.fully_conv import convert_like

            try:
                network = convert_like(network, self.network)
            except CnnError:
                return None
        entry = Scope("", "block", "\0network",
                      tuple((p.name, env.values[p.name]) for p in spec.params))
        probe = Probe("", entry, network, lowering, ModuleTree(network))
        probe.params = [(py[p.name], env.values[p.name]) for p in spec.params
                        if isinstance(env.values[p.name], Sym)]
        self.py_names["\0network"] = py
        return probe if self._agrees("", probe) else None

    def root_text(self, names: set[str] | None = None) -> tuple[str, list[str]] | None:
        """The network class's body with its params in the constructor, and their names;
        None where there are none to take or the probe does not reproduce the network."""
        probe = self.root_probe(names)
        if probe is None or not probe.params:
            return None
        writer = ProbeSource(self, probe)
        writer.planner_probe = probe
        return writer.root_body(), [name for name, _ in probe.params]

    def _parse_spec(self):
        network = self.network
        if network.source is None:
            return None
        try:
            return parse(network.source.text, network.source.path)
        except (CnnError, OSError):
            return None

    def fold_like_the_network(self, network: Network, lowering: ProbeLowering) -> Network:
        """A probe of a `--fuse-bn` network, its bns folded by the same rules (the fold
        plan of the probe alone: where it differs from the instance's, the probe does not
        agree with it and the instance gets a concrete class)."""
        if not self.folded:
            return network
        from ..passes.fold_batchnorm import fold_batchnorm, fold_plan

        plan = fold_plan(network)
        folded = fold_batchnorm(network)
        for _, bn, _ in plan:  # a folded leaf shifts its siblings: no comprehensions there
            lowering.repeats.pop(network.node(bn)["name"].rpartition(".")[0], None)
        return folded

    def _agrees(self, path: str, probe: Probe, entry: int | None = None) -> bool:
        """The probe has the instance's nodes: names (below the instance), ops, options,
        shapes, inputs, scopes (compared as values), and the same module tree; a projection
        built only for the text (a phantom) stands for the tensor it would project. `entry`:
        the real node the probe's input stands for (a dense layer's concat), where the
        caller writes the container's class itself (so its kind is not compared)."""
        real, box = self.network, self.tree.containers[path]
        network, lowering = probe.network, probe.lowering
        here, there = len(path), len(probe.path)
        own_class = entry is not None
        if entry is None and not box.inputs:
            return False  # no layers (a param's other value may leave none): nothing to agree
        entry = box.inputs[0] if entry is None else entry
        hidden = {real.node(entry)["name"]} if entry in box.nodes else set()
        by_name = {real.node(n)["name"][here:]: n for n in box.nodes if n != entry}
        phantom = set().union(*(nodes for nodes, _ in lowering.phantoms.values()),
                              lowering.stands_for)
        layers = [m for m in network.layers() if m not in phantom]
        if len(layers) != len(by_name):
            return False
        name_of = {network.input: "\0input"}
        for m in layers:
            name_of[m] = network.node(m)["name"][there:]
        # A phantom is named as the tensor it stands for, which may be a phantom itself (a
        # projection built only for the text, after a region that is not taken).
        pending = {m: stands_for for nodes, stands_for in lowering.phantoms.values()
                   for m in nodes}
        pending.update(lowering.stands_for)
        while pending:
            named = [m for m, stands_for in pending.items() if stands_for in name_of]
            if not named:
                return False
            for m in named:
                name_of[m] = name_of[pending.pop(m)]
        real_name = {n: real.node(n)["name"][here:] for n in box.nodes}
        real_name[entry] = "\0input"
        depth = path.count(".") + 1 if path else 0
        probe_depth = probe.path.count(".") + 1 if probe.path else 0
        for m in layers:
            a = network.node(m)
            n = by_name.get(name_of[m])
            if n is None:
                return False
            b = real.node(n)
            if "bias" in a["opts"] and a["opts"]["bias"] is None:
                # its bn may be outside the block; a copy: nodes share equal option dicts
                a["opts"] = {**a["opts"], "bias": b["opts"].get("bias")}
            if a["op"] != b["op"] or a["opts"] != b["opts"] or \
                    a["meta"]["shape"] != b["meta"]["shape"]:
                return False
            if [name_of[u] for u in network.inputs(m)] != \
                    [real_name.get(u) for u in real.inputs(n)]:
                return False
            if [_scope_key(s) for s in a["scope"][probe_depth:]] != \
                    [_scope_key(s) for s in b["scope"][depth:]]:
                return False
        ends = [*network.outputs, *network.aux_outputs]
        if sorted(name_of[o] for o in ends) != sorted(real_name[o] for o in box.outputs):
            return False
        for sub, other in probe.tree.containers.items():
            if (sub == probe.path or sub.startswith(probe.path + ".")) and \
                    sub not in lowering.phantoms and not is_phantom(sub):
                container = self.tree.containers.get(path + sub[there:])
                if container is None or other.kind != container.kind and not (
                        own_class and sub == probe.path) or [
                        c for c in container.children
                        if join(container.path, c) not in hidden] != [
                        c for c in other.children if join(sub, c) not in lowering.phantoms
                        and not c.startswith(PHANTOM)]:
                    return False
        return True


class Probe:
    """A block body lowered for one call (at `path`), and the class written from it."""

    def __init__(self, path: str, entry: Scope | None, network: Network, lowering: ProbeLowering,
                 tree: ModuleTree) -> None:
        self.path, self.entry, self.network = path, entry, network
        self.lowering, self.tree = lowering, tree
        self.class_name: str | None = None
        self.params: list[tuple[str, int]] = []  # a network's probe: constructor params


def _reads_channels(network: Network, nodes: list[int]) -> bool:
    """Whether an option, shape or call argument of `nodes` is written over the
    enclosing class's `in_channels`."""
    def reads(value) -> bool:
        if isinstance(value, Sym):
            return IN_CHANNELS in value.names()
        if isinstance(value, (tuple, list)):
            return any(reads(v) for v in value)
        if isinstance(value, dict):
            return any(reads(v) for v in value.values())
        return False

    return any(reads(network.node(n)["opts"]) or reads(network.node(n)["meta"]["shape"]) or
               any(reads(scope.args) for scope in network.node(n)["scope"]) for n in nodes)


def _regions_written(probe: Probe) -> bool:
    """Whether every step of a conditional region can be written as one that reassigns
    the variable of its first input (see the NOTE in torch_conditions.py): it makes one
    tensor, and that input is read by no step after it nor returned."""
    tree, network = probe.tree, probe.network
    depth = probe.path.count(".") + 1 if probe.path else 0
    for unit in probe.lowering.conditions:
        parent, _, local = unit.rpartition(".")
        if parent not in tree.containers or tree.containers[parent].kind == "sequential":
            continue
        scope = network.node(min(tree.unit_nodes(unit)))["scope"]
        if any(s.kind == "block" for s in scope[depth:unit.count(".")]):
            continue  # inside a nested call: its own class
        if tree.containers[parent].kind == "list":
            return False  # an nn.ModuleList holds no None
        order = tree.ordered_children(parent)
        if order is None:
            return False
        ins, outs = tree.unit_io(unit)
        if len(outs) != 1 or not ins:
            return False
        box = tree.containers[parent]
        after = order[order.index(local) + 1:]
        if ins[0] in box.outputs or any(ins[0] in tree.unit_io(join(parent, c))[0]
                                       for c in after):
            return False
    return True


def _scope_key(scope: Scope):
    return (scope.name, scope.kind, scope.block, scope.args)


class ProbeSource(TorchSource):
    """Writes the class of one instance from its probe, into the real source's classes."""

    def __init__(self, planner: ParamPlanner, probe: Probe,
                 names: dict[str, str] | None = None) -> None:
        real = planner.source
        super().__init__(probe.network, parametric=False, tree=probe.tree,
                         inplace=real.inplace)
        self.helpers, self.class_text = real.helpers, real.class_text
        self.class_by_body, self.used_names = real.class_by_body, real.used_names
        self.class_stem, self.renames = real.class_stem, real.renames
        self.planner, self.lowering = planner, probe.lowering
        self.path, self.entry = probe.path, probe.entry
        self.names = planner.py_names[probe.entry.block] if names is None else names
        self.known = {IN_CHANNELS, *self.names.values()}
        self._aliased: set[int] | None = None
        self.probe = probe
        self._prelude: list[str] = []  # statements the last module expression needs
        self._lists = 0  # lists built in the constructor being written

    # --- the instance's class -----------------------------------------------------------
    def instance_class(self) -> str:
        """The class, its constructor taking the parameters its text reads (a parameter
        that changes nothing in it is left out, and the calls leave it out too)."""
        block = self.planner.blocks[self.entry.block].definition
        box = self.tree.containers[self.path]
        if box.kind == "sequential":
            base = "nn.Sequential"
            saved, self._lists = self._lists, 0
            items = self.sequence_items(self.path)
            self._lists = saved
            prelude = "".join(f"{line}\n" for line in self.take_prelude())
            if len(items) == 1 and items[0].startswith("*"):  # a list built just before
                call = f"{INDENT * 2}super().__init__({items[0]})\n"
            else:
                rows = "".join(f"{INDENT * 3}{_indent(item, 3)},\n" for item in items)
                call = f"{INDENT * 2}super().__init__(\n{rows}{INDENT * 2})\n"
            body = f"{INDENT}def __init__(self):\n{prelude}{call}"
        elif (chain := self._named_chain(self.path)) is not None:
            base, body = "nn.Sequential", chain
        else:
            base = "nn.Module"
            body = self._annotations(self.path) + self._constructor(self.path) + "\n" + \
                self._forward(self.path)
        used = _names_used(body, self.known)
        taken = {p.name for p in block.params if self.names[p.name] in used}
        if IN_CHANNELS in used:
            taken.add(IN_CHANNELS)
        signature = _signature(block, self.names, taken)
        body = body.replace("def __init__(self):", f"def __init__(self{signature}):", 1)
        name = self.register_class(base, body, sanitise_class_name(self.entry.block))
        self.planner.class_params[name] = taken
        return name

    def _named_chain(self, path: str) -> str | None:
        """The constructor of a chain of named block calls with a symbolic repeat
        (`bottleneck(c, s) bottleneck(c) * (n-1)` outside a `seq< >`): an nn.Sequential
        that adds the copies in a loop under their names (bottleneck2 ... bottleneck{n}),
        or None where the container is anything else."""
        box = self.tree.containers[path]
        runs = [r for r in self.lowering.named_repeats.get(path, ())
                if isinstance(r[3], Sym) and r[3] > 0]
        children = [join(path, c) for c in box.children]
        if not runs or box.kind != "plain" or not self.tree.is_chain(box) or any(
                c.startswith(PHANTOM) or not self.tree.is_container(join(path, c)) or
                join(path, c) in self.lowering.conditions for c in box.children):
            return None
        exprs = [self.module_expr(child) for child in children]
        if self.take_prelude():
            return None
        index = {local: i for i, local in enumerate(box.children)}
        loops = {}  # position of a run's first copy -> (copies, the loop's lines)
        variable = "i"
        while variable in self.known:  # a parameter named `i`
            variable += "_"
        for stem, sep, first, count in runs:
            at = [index.get(f"{stem}{sep}{first + k}") for k in range(count)]
            if None in at or at != list(range(at[0], at[0] + count)) or \
                    len({exprs[i] for i in at}) != 1:
                continue
            name = f'f"{stem}{sep}{{{variable}}}"'
            loops[at[0]] = (count, [
                f"{INDENT * 2}for {variable} in range({first}, {first + count}):",
                f"{INDENT * 3}self.add_module({name}, {_indent(exprs[at[0]], 3)})"])
        if not loops:
            return None
        lines, i = [f"{INDENT}def __init__(self):", f"{INDENT * 2}super().__init__()"], 0
        while i < len(children):
            if i in loops:
                count, loop = loops[i]
                lines += loop
                i += int(count)
                continue
            local = self.attribute(box.children[i])
            if not local.isidentifier():
                return None
            lines.append(f"{INDENT * 2}self.{local} = {_indent(exprs[i], 2)}")
            i += 1
        return "\n".join(lines) + "\n"

    def root_body(self) -> str:
        """The network class's body, its constructor taking the symbolic params."""
        signature = "".join(f", {name}={int(value)}" for name, value in self.params_of_root())
        body = self._constructor("", signature) + "\n" + self._forward("")
        self._use_functions(body)
        return body

    def register_class(self, base: str, body: str, stem: str) -> str:
        self._use_functions(body)
        return super().register_class(base, body, stem)

    def _use_functions(self, body: str) -> None:
        """The generated file defines `divisible` where a class calls it."""
        if re.search(r"\bdivisible\(", body):
            self.helpers["divisible"] = DIVISIBLE_SOURCE
            self.used_names.add("divisible")


    def params_of_root(self) -> list[tuple[str, int]]:
        return self.planner_probe.params

    # --- children -----------------------------------------------------------------------
    def module_expr(self, path: str) -> str:
        return self._conditional(path, self._module_expr(path))

    def _module_expr(self, path: str) -> str:
        if not self.tree.is_container(path):
            return self._layer_expr(self.tree.leaf_of[path])
        entry = self.planner.scope_entry(path, self.network, self.tree)
        if entry is not None:
            return self._call_expr(path, entry)
        if is_phantom(path) and self.planner.scope_entry(path, self.network, self.tree,
                                                         "dense") is not None:
            raise NotWritable
        if self.planner.scope_entry(path, self.network, self.tree, "dense") is not None:
            expr = self.planner.dense_expr(path, self.network, self.tree,
                                           self.lowering.dense_sites)
            if expr is not None:
                return expr
        if self.tree.containers[path].kind == "sequential":
            items = self.sequence_items(path)
            if len(items) == 1 and items[0].startswith("*"):  # a list built just before
                expr = f"nn.Sequential({items[0]})"
            else:
                expr = "nn.Sequential(\n" + "".join(f"{INDENT}{_indent(i)},\n"
                                                    for i in items) + ")"
        else:
            expr = self._class_for(path)
        condition = self.lowering.optional.get(path)
        return expr if condition is None else f"{expr} if {condition} else None"

    def constructor_names(self) -> set[str]:
        return set(self.known)

    def _conditional(self, path: str, expr: str) -> str:
        """A module of a conditional region in a container that is no sequence: None where
        its condition fails (see the NOTE in torch_conditions.py)."""
        condition = self.lowering.conditions.get(path)
        parent = path.rpartition(".")[0]
        if condition is None or self.tree.containers[parent].kind == "sequential":
            return expr
        return f"{expr} if self.{self.flag(parent, condition)} else None"

    # --- conditions (torch_conditions.py) -------------------------------------------------
    def attribute(self, local: str) -> str:
        return real_name(local)

    def step_condition(self, path: str) -> str | None:
        return self.lowering.conditions.get(path)

    def flags(self, path: str) -> dict[str, str]:
        """{condition: the attribute holding it} for the steps of the container `path`:
        `use_residual` for a residual's shortcut, else `use_` and the first step's name."""
        box = self.tree.containers[path]
        units: dict[str, list[str]] = {}
        for local in box.children:
            condition = self.lowering.conditions.get(join(path, local))
            if condition is not None:
                units.setdefault(condition, []).append(local)
        taken = {self.attribute(c) for c in box.children}
        out = {}
        for condition, locals_ in units.items():
            residual = any(self.lowering.region_kinds.get(join(path, c)) == "residual"
                           for c in locals_)
            stem = "use_residual" if residual else \
                f"use_{attribute_name(self.attribute(locals_[0]))}"
            name, k = stem, 1
            while name in taken:
                k += 1
                name = f"{stem}{k}"
            taken.add(name)
            out[condition] = name
        return out

    def flag(self, path: str, condition: str) -> str:
        return self.flags(path)[condition]

    def constructor_preamble(self, path: str) -> list[str]:
        return [f"{INDENT * 2}self.{name} = {condition}"
                for condition, name in self.flags(path).items()]

    def _annotations(self, path: str) -> str:
        """`__constants__ = ["use_residual"]`: TorchScript compiles only the branch a
        constant condition takes (a class annotation `torch.jit.Final[bool]` would do the
        same, but TorchScript cannot read it where the text is compiled with postponed
        annotations)."""
        names = list(self.flags(path).values())
        if not names:
            return ""
        return f"{INDENT}__constants__ = [{', '.join(repr(n) for n in names)}]\n\n"

    def take_prelude(self) -> list[str]:
        lines, self._prelude = self._prelude, []
        return [INDENT * 2 + line.replace("\n", "\n" + INDENT * 2) for line in lines]

    def _list_name(self) -> str:
        self._lists += 1
        name = "layers" if self._lists == 1 else f"layers_{self._lists}"
        while name in self.known:
            name += "_"
        return name

    def optional_module(self, path: str) -> bool:
        return path in self.lowering.optional

    def add_in_place(self, n: int) -> bool:
        """A phantom's add (torch_conditions.py), whose inputs' shapes are not this
        instance's business, is written as where its condition holds: there an add's
        inputs have its shape."""
        if n not in self.lowering.stands_for:
            return super().add_in_place(n)
        ins = self.network.inputs(n)
        return len(ins) == 2 and overwritable(self.network, ins[0], self.aliased_nodes())

    def _layer_expr(self, n: int) -> str:
        """A layer that a layer argument gives: its module class called through the
        argument (`act(inplace=True)`)."""
        expr = super()._layer_expr(n)
        value = self.lowering.layer_args.get(n)
        factory = layer_factory(value) if value is not None else None
        if factory is not None and expr.startswith(factory + "("):
            return value.py + expr[len(factory):]
        return expr

    def aliased_nodes(self) -> set[int]:
        if self._aliased is None:
            optional = tuple(f"{path}." for path in self.lowering.optional)
            self._aliased = {n for n in self.network.layers()
                             if self.network.node(n)["name"].startswith(optional)}
            for nodes, _ in self.lowering.phantoms.values():
                self._aliased |= nodes
            regions = self.lowering.node_condition  # read outside their region
            self._aliased |= {n for n, condition in regions.items() if any(
                regions.get(v) != condition for v in self.network.consumers(n))}
        return self._aliased

    def _call_expr(self, path: str, entry: Scope) -> str:
        """`Bottleneck(4 * c, c, 1, g, width)`: a nested call, its arguments as written."""
        if is_phantom(path):
            name = self.planner.phantom_class(self.probe, path, entry)
            if name is None:
                raise NotWritable
        else:
            name = self.planner.class_for(path)
        if name is None:
            return self.planner.source.module_expr(path)
        box = self.tree.containers[path]
        in_ch = self.network.node(box.inputs[0])["meta"]["shape"][0]
        definition = self.planner.blocks[entry.block].definition
        names = self.planner.py_names[entry.block]
        defaults = _python_defaults(definition)
        keywords = self.lowering.keywords.get(entry.span, set())
        count = self.lowering.positional.get(entry.span, len(entry.args))
        given = set(keywords) | {p.name for p in definition.params[:count]}
        taken = self.planner.class_params[name]
        positional = [_literal(in_ch)] if IN_CHANNELS in taken else []
        named = []
        for param, value in entry.args:
            if param not in taken or param not in given and param in defaults:
                continue
            if param in keywords or param not in given:
                named.append(f"{names[param]}={_literal(value)}")
            else:
                positional.append(_literal(value))
        return f"{name}({', '.join(positional + named)})"

    def sequence_items(self, path: str) -> list[str]:
        """The children of a chain, a repeat with a symbolic count as a comprehension;
        where some are conditional, the chain is a list built by statements before
        (take_prelude), and the one item `*layers`."""
        box = self.tree.containers[path]
        entries = []  # [expression, condition, index among the real children or None]
        for local in box.children:
            child = join(path, local)
            real = None if local.startswith(PHANTOM) else \
                sum(1 for e in entries if e[2] is not None)
            entries.append([self.module_expr(child), self.lowering.conditions.get(child),
                            real])
        for start, count in reversed(self.lowering.repeats.get(path, [])):
            at = [i for i, e in enumerate(entries)
                  if e[2] is not None and start <= e[2] < start + count]
            copies = [entries[i][0] for i in at]
            if isinstance(count, Sym) and count > 0 and len(set(copies)) == 1 and \
                    len(copies) == count and at == list(range(at[0], at[0] + len(at))) and \
                    all(entries[i][1] is None for i in at):
                entries[at[0]:at[-1] + 1] = [
                    [f"*[{_indent(copies[0])} for _ in range({count})]", None, None]]
        if all(condition is None for _, condition, _ in entries):
            return [expr for expr, _, _ in entries]
        name = self._list_name()
        lines, current = [f"{name}: list[nn.Module] = []"], None
        for expr, condition, _ in entries:
            if condition is not None and condition != current:
                lines.append(f"if {condition}:")
            current = condition
            pad = INDENT if condition is not None else ""
            if expr.startswith("*"):
                line = f"{name}.extend({expr[1:]})"
            else:
                line = f"{name}.append({expr})"
            lines.append(pad + line.replace("\n", "\n" + pad))
        self._prelude += lines
        return [f"*{name}"]

    def _class_for(self, path: str) -> str:
        """A container that is not a block call: a class taking the names it uses, and
        its own input channels where they are a number (see NOTE: label classes)."""
        box = self.tree.containers[path]
        base = "nn.ModuleList" if box.kind == "list" else "nn.Module"
        constructor, forward, own = self._own_channels_text(path)
        if constructor is None:
            constructor, forward = self._constructor(path), self._forward(path)
        used = _names_used(constructor, self.known | {IN_CHANNELS})
        order = [IN_CHANNELS, *self.names.values()]
        params = [name for name in order if name in used]
        signature = "".join(f", {p}" for p in params)
        constructor = constructor.replace("def __init__(self):",
                                          f"def __init__(self{signature}):", 1)
        body = self._annotations(path) + constructor + "\n" + forward
        name = self.register_class(base, body, self._class_stem(path))
        args = [str(own) if p == IN_CHANNELS and own is not None else p for p in params]
        return f"{name}({', '.join(args)})"

    def _own_channels_text(self, path: str):
        """(constructor, forward, input channels) of the container at `path` written with
        its input channels as `in_channels`, or Nones where they are not a plain number
        of its one input, or the text already reads an enclosing `in_channels`."""
        box = self.tree.containers[path]
        if len(box.inputs) != 1 or box.kind == "list":
            return None, None, None
        source = self.network.node(box.inputs[0])["meta"]
        channels, *rest = source["shape"]
        nodes = sorted(box.nodes)
        if isinstance(channels, Sym) or isinstance(source["shape"], ChannelsLast) or \
                not rest or _reads_channels(self.network, nodes):
            return None, None, None
        saved = {n: self.network.node(n)["meta"]["shape"] for n in (box.inputs[0], *nodes)}
        try:
            source["shape"] = (Sym(IN_CHANNELS, channels), *rest)
            for n in nodes:
                attrs = self.network.node(n)
                ins = [self.network.node(u)["meta"]["shape"] for u in self.network.inputs(n)]
                shape = node_shape(lookup(attrs["op"]), attrs["opts"], ins)
                if shape != saved[n] or isinstance(shape, ChannelsLast):
                    return None, None, None
                attrs["meta"]["shape"] = (shape[0], *plain(tuple(shape[1:])))
            constructor, forward = self._constructor(path), self._forward(path)
        except (ShapeProblem, ArithmeticError, TypeError, ValueError):
            return None, None, None
        finally:
            for n, shape in saved.items():
                self.network.node(n)["meta"]["shape"] = shape
        return constructor, forward, channels

    def _constructor(self, path: str, signature: str = "") -> str:
        saved, self._lists = self._lists, 0  # list names count per constructor
        try:
            text = super()._constructor(path)
        finally:
            self._lists = saved
        return text.replace("def __init__(self):", f"def __init__(self{signature}):", 1)


def _signature(block: ast.BlockDef, names: dict[str, str], taken: set[str]) -> str:
    """`, in_channels, c, s=1`: the parameters in `taken` (IN_CHANNELS for the input's
    channels), with their Python defaults."""
    defaults = _python_defaults(block)
    parts = [IN_CHANNELS] if IN_CHANNELS in taken else []
    parts += [f"{names[p.name]}={_literal(defaults[p.name])}" if p.name in defaults
              else names[p.name] for p in block.params if p.name in taken]
    return "".join(f", {p}" for p in parts)


def _python_defaults(block: ast.BlockDef) -> dict:
    """The parameters that get a default in Python: a number or a layer (its module class)
    written as the spec's default, and only where every later parameter has one too."""
    defaults: dict = {}
    for param in reversed(block.params):
        value = param.default.value if isinstance(param.default, ast.Num) else None
        if isinstance(param.default, ast.Name) and param.default.id != "in":
            value = _layer_default(param.default.id)
        if value is None or isinstance(value, bool):
            break
        defaults[param.name] = value
    return defaults


def _layer_default(name: str) -> LayerValue | None:
    """A parameter's default that is a layer passed as a module class (`act=silu`)."""
    try:
        value = evaluate(ast.Name(name, None), Env())
    except CnnError:
        return None
    return value if isinstance(value, LayerValue) and layer_factory(value) else None


def _python_names(params: list[str]) -> dict[str, str]:
    """Constructor parameter names: sanitised (cnndsl/ir/names.py), lower-case first (so
    never a class), unique, and never `in_channels`, `l` or a helper class."""
    taken = {IN_CHANNELS, "l", *_helper_names(), *SYMBOLIC_FUNCTIONS}  # `l` reads as 1
    out = {}
    for param in params:
        name = attribute_name(param)
        if name[0].isupper():
            name = attribute_name(name[0].lower() + name[1:])
        while name in taken or keyword.iskeyword(name):
            name += "_"
        taken.add(name)
        out[param] = name
    return out


def _helper_names() -> set[str]:
    from ..ops import layer_names

    names = set()
    for op in layer_names():
        names |= set(lookup(op).extras.get("torch_helpers", {}))
    return names


def _names_used(constructor: str, known: set[str]) -> set[str]:
    tree = pyast.parse(textwrap.dedent(constructor))
    return {n.id for n in pyast.walk(tree) if isinstance(n, pyast.Name) and n.id in known}


def _symbolic(name: str, value):
    """A block argument as the probe binds it: numbers, and layers passed as a module
    class, as symbols named `name`."""
    if isinstance(value, float):
        return SymFloat(name, value)
    if isinstance(value, LayerValue) and layer_factory(value) is not None:
        return SymLayer(name, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Sym(name, value)
    return value


def _key(value):
    """A block argument as part of a probe's key (a layer by its op and written options)."""
    if isinstance(value, LayerValue):
        return (value.op, tuple(o.span.text for o in value.options))
    return value


def _literal(value) -> str:
    if isinstance(value, SymLayer):
        return value.py
    if isinstance(value, LayerValue):  # a class takes only the layers it passes as classes
        return layer_factory(value) or "None"
    if isinstance(value, Sym):
        return str(value)
    return repr(value) if isinstance(value, float) else str(value)


def _indent(text: str, levels: int = 1) -> str:
    return text.replace("\n", "\n" + INDENT * levels)
