"""PyTorch source for a network: one module class per distinct container, a network class.

# NOTE: generated modules
# The module tree follows the node names (see cnndsl/backends/torch_tree.py), so module
# paths equal the summary's layer names: `model.layer3[2].conv2`. A container whose children
# are numbered and chained is an `nn.Sequential`; other containers get a class with a
# straight-line `forward` (no branching on data, so torch.fx, export, ONNX and compile all
# trace it; a parametric class's `if self.use_residual:` reads a constant of the module,
# set in its constructor: cnndsl/backends/torch_conditions.py). Classes are named after
# the block they come from. A block call's class takes the block's parameters
# (`Bottleneck(in_channels, c, s=1)`), written from a symbolic probe of the call and
# checked against the network (the NOTE in torch_params.py); calls whose
# texts differ get numbered classes, Bottleneck2, ..., and where no parametric class can be
# made (and for every class of a `--fuse-bn` network, whose layers the probe does not
# reproduce) a class holds this call's numbers, with no parameters. A `dense` block is a
# DenseBlock whose layers share one DenseLayer class, built and run by a loop over its
# modules (not over data: tracing unrolls it; the NOTE in torch_dense.py). Only sanitised
# identifiers (cnndsl/ir/names.py) and numbers from the spec reach the text; the layer
# expressions come from the ops table's `torch` slot. The output is deterministic: the same
# network gives the same bytes.
#
# NOTE: auxiliary heads
# The network's `forward` returns `(out, aux1, ...)` in training mode and `out` in eval
# mode. The steps that compute only auxiliary heads (nodes the main output does not depend
# on) sit under `if self.training:`, so eval mode never runs them; `self.training` is a
# Python bool, so torch.fx, export, ONNX and compile trace the eval graph without them.
# For torch.jit.script, each head's output is declared `aux1: torch.Tensor | None = None`
# before its block, the training return checks `aux1 is not None` (which refines the type)
# and `forward` is annotated with both return types.
"""
from __future__ import annotations

import itertools
import re
from pathlib import Path

from ..errors import CnnUsageError
from ..ir import Network
from ..ir.names import PYTHON_RESERVED
from ..ir.names import class_name as sanitise_class_name
from ..ops import lookup
from .torch_inplace import activation_in_place, add_in_place, with_inplace
from .torch_running import running_count
from .torch_tree import ModuleTree, join
from .torch_wrap import wrap_lines

INDENT = "    "
_INLINE = {
    "add": lambda args: " + ".join(args),
    "concat": lambda args: f"torch.cat([{', '.join(args)}], dim=1)",
    "mul": lambda args: " * ".join(args),
}
_MODULE_ALIASES = ("F", "nn", "torch")  # the generated file's imports


class NotWritable(Exception):
    """A parametric class's text cannot be written (cnndsl/backends/torch_params.py)."""


def reserved_names() -> set[str]:
    """Names the generated file defines whatever the spec says: its module aliases and
    every helper class of the ops table (custom layers' included), so that no class made
    from a spec's name (the network's, a block's) can hide one of them."""
    from ..ops import all_ops

    names = set(_MODULE_ALIASES)
    for spec in all_ops().values():
        names |= set(spec.extras.get("torch_helpers", {}))
    return names


def network_class_name(network: Network, class_name: str | None = None) -> str:
    """The network's class: its name as a class name, with `Net` added where that is a
    name the file reserves (`network Scale` -> `ScaleNet`); an explicit name that is
    reserved is refused."""
    name = sanitise_class_name(class_name or network.name)
    if name in reserved_names():
        if class_name is not None:
            raise CnnUsageError(f"class name {class_name!r} is taken by the generated file",
                                hint="its module aliases and helper classes are "
                                     + ", ".join(sorted(reserved_names())))
        name += "Net"
    return name


def network_params(network: Network) -> tuple[int, int, int]:
    """(all parameters, those of aux heads only, MACs of the main path) by the ops table."""
    main = network.main_nodes()
    total = aux = macs = 0
    for n in network.layers():
        attrs = network.node(n)
        spec = lookup(attrs["op"])
        ins = [network.node(u)["meta"]["shape"] for u in network.inputs(n)]
        out = attrs["meta"]["shape"]
        params = spec.params(attrs["opts"], ins, out)
        total += params
        if n not in main:
            aux += params
        else:
            macs += spec.macs(attrs["opts"], ins, out)
    return total, aux, macs


class TorchSource:
    """Builds the text of one generated module file."""

    def __init__(self, network: Network, class_name: str | None = None,
                 spec_name: str | None = None, parametric: bool = True,
                 tree: ModuleTree | None = None, inplace: bool = True) -> None:
        self.network = network
        self.inplace = inplace  # in-place activations and adds where safe (torch_inplace.py)
        self.tree = tree or ModuleTree(network)
        self.top_name = network_class_name(network, class_name)
        self.spec_name = spec_name
        self.helpers: dict[str, str] = {}
        self.class_text: dict[str, str] = {}  # class name -> its full text
        self.class_by_body: dict[tuple[str, str, str], str] = {}
        self.class_stem: dict[str, str] = {}  # class name -> the stem it was named after
        self.renames: dict[str, str] = {}  # class name -> its family's, once it is shared
        self.used_names = reserved_names() | {self.top_name}
        self.planner = None
        if parametric:
            from .torch_params import ParamPlanner

            self.planner = ParamPlanner(self)

    # --- the file ----------------------------------------------------------------------
    def render(self, root_params: set[str] | None = None) -> str:
        """The file; the network class takes the spec's params in `root_params` (all that
        can be, by default) as constructor arguments (see NOTE: network parameters)."""
        root, self.root_params = None, []
        if self.planner is not None and root_params != set():
            made = self.planner.root_text(root_params)
            if made is not None:
                root, self.root_params = made[0], made[1]
        if root is None:
            root = self._class_body("")
        root = self._with_init(root)
        classes = "\n\n".join(self.class_text.values())
        top = f"class {self.top_name}(nn.Module):\n{root}"
        helpers = "\n\n".join(text.strip("\n") + "\n" for _, text in
                              sorted(self.helpers.items()))
        body = "\n\n".join(part for part in (helpers, classes, top) if part)
        for old, new in self.renames.items():
            body = re.sub(rf"(?<![\w.]){old}(?=\()", new, body)  # not `self.S2(x)`
        return self._header() + self._imports(body) + "\n\n" + wrap_lines(body)

    def _with_init(self, root: str) -> str:
        """The network class's constructor ends by initialising the weights as the spec's
        `init` line says (see NOTE: initialisation rules in torch_init.py)."""
        rule = getattr(self.network, "init", "torch")
        if rule == "torch":
            return root
        from .torch_init import init_function

        name, text = init_function(rule)
        self.helpers[name] = text
        at = root.index(f"\n{INDENT}def forward(")
        return root[:at] + f"{INDENT * 2}{name}(self)\n" + root[at:]

    def _header(self) -> str:
        total, aux, macs = network_params(self.network)
        shape = "x".join(map(str, self.network.input_shape))
        out = "x".join(map(str, self.network.node(self.network.output)["meta"]["shape"]))
        spec = ascii(Path(self.spec_name).name)[1:-1] if self.spec_name else "spec text"
        aux_note = f" ({aux:,} in auxiliary heads)" if aux else ""
        return (f"# Generated by cnndsl from {spec}: network {self.top_name}.\n"
                f"# Input {shape}, output {out}. MACs: {macs:,}.\n"
                f"# Parameters: {total:,}{aux_note}.\n# Regenerate it rather than edit it.\n")

    def _imports(self, body: str) -> str:
        lines = []
        if re.search(r"\btorch\.", body):
            lines.append("import torch")
        if re.search(r"\bF\.", body):
            lines.append("import torch.nn.functional as F")
        lines.append("from torch import nn")
        return "\n".join(lines) + "\n"

    # --- containers ---------------------------------------------------------------------
    def module_expr(self, path: str) -> str:
        """The constructor expression of a child: a layer, a Sequential or a class call."""
        if not self.tree.is_container(path):
            return self._layer_expr(self.tree.leaf_of[path])
        if self.planner is not None:
            expr = self.planner.instance_expr(path)
            if expr is not None:
                return expr
        box = self.tree.containers[path]
        if box.kind == "sequential":
            items = [self.module_expr(join(path, c)) for c in box.children]
            return "nn.Sequential(\n" + "".join(f"{INDENT}{_indent(i)},\n" for i in items) + ")"
        return f"{self._class_for(path)}()"

    def _class_for(self, path: str) -> str:
        base = "nn.ModuleList" if self.tree.containers[path].kind == "list" else "nn.Module"
        return self.register_class(base, self._class_body(path), self._class_stem(path))

    def register_class(self, base: str, body: str, stem: str) -> str:
        """The name of the class with this base and body: identical classes of one stem
        family are shared (`aux1` and `aux2` make one class `Aux`; see `renames`)."""
        family = _family(stem)
        key = (base, body, family)
        if key not in self.class_by_body:
            name = self._fresh_class_name(stem)
            self.class_by_body[key] = name
            self.class_text[name] = f"class {name}({base}):\n{body}"
            self.class_stem[name] = stem
        name = self.class_by_body[key]
        if self.class_stem[name] != stem and name not in self.renames and \
                family not in self.used_names:
            self.used_names.add(family)
            self.renames[name] = family  # applied to the whole file by `render`
        return name

    def _class_stem(self, path: str) -> str:
        parts = path.split(".")
        n = min(self.tree.containers[path].nodes)
        scope = self.network.node(n)["scope"]
        entry = scope[len(parts) - 1] if len(scope) >= len(parts) else None
        if entry is not None and entry.name == parts[-1] and entry.kind == "block":
            return sanitise_class_name(entry.block)
        return sanitise_class_name(parts[-1])

    def _fresh_class_name(self, stem: str) -> str:
        name, k = stem, 1
        while name in self.used_names:
            k += 1
            name = f"{stem}_{k}" if stem[-1].isdigit() else f"{stem}{k}"
        self.used_names.add(name)
        return name

    def _class_body(self, path: str) -> str:
        return self._constructor(path) + "\n" + self._forward(path)

    def _constructor(self, path: str) -> str:
        box = self.tree.containers[path]
        lines = [f"{INDENT}def __init__(self):"]
        exprs = [(c, self.module_expr(join(path, c)), self.take_prelude())
                 for c in box.children if self._has_module(join(path, c))]
        if box.kind == "list":
            if any(prelude for _, _, prelude in exprs):
                raise NotWritable
            items = "".join(f"{INDENT * 3}{_indent(e, 3)},\n" for _, e, _ in exprs)
            lines.append(f"{INDENT * 2}super().__init__([\n{items}{INDENT * 2}])")
            return "\n".join(lines) + "\n"
        lines.append(f"{INDENT * 2}super().__init__()")
        lines += self.constructor_preamble(path)
        texts, before = running_count([e for _, e, _ in exprs],
                                      [self._in_channels(join(path, c)) for c, _, _ in exprs],
                                      self.constructor_names())
        for (child, _, prelude), expr, statements in zip(exprs, texts, before):
            lines += [f"{INDENT * 2}{statement}" for statement in statements]
            lines += prelude
            local = self.attribute(child)
            if not local.isidentifier() and self.tree.is_parameter(join(path, child)):
                lines.append(f"{INDENT * 2}self.register_parameter({local!r}, "
                             f"{_indent(expr, 2)})")
            elif not local.isidentifier():
                lines.append(f"{INDENT * 2}self.add_module({local!r}, {_indent(expr, 2)})")
            else:
                lines.append(f"{INDENT * 2}self.{local} = {_indent(expr, 2)}")
        return "\n".join(lines) + "\n"

    def constructor_names(self) -> set[str]:
        """Names a constructor may read besides `self` (a parametric class's parameters)."""
        return set()

    def _in_channels(self, path: str):
        """The input channels of the child at `path` (None where it reads nothing)."""
        if self.tree.is_container(path):
            inputs = self.tree.containers[path].inputs
        else:
            inputs = self.network.inputs(self.tree.leaf_of[path])
        return self.network.node(inputs[0])["meta"]["shape"][0] if inputs else None

    def constructor_preamble(self, path: str) -> list[str]:
        """Lines a constructor starts with, after `super().__init__()` (a parametric class
        sets its conditions' flags there: cnndsl/backends/torch_conditions.py)."""
        return []

    def take_prelude(self) -> list[str]:
        """Statements that the last module expression needs run before it (a parametric
        class builds a conditional `nn.Sequential`'s list so), then forgotten."""
        return []

    def attribute(self, local: str) -> str:
        """A child's attribute name, from its local name."""
        return local

    def step_condition(self, path: str) -> str | None:
        """The condition (Python text) under which the forward runs the step at `path`."""
        return None

    def flag(self, path: str, condition: str) -> str:
        """The attribute that holds a condition's value (set by constructor_preamble)."""
        raise NotWritable

    def optional_module(self, path: str) -> bool:
        """Whether the module at `path` may be None (a parametric class decides in its
        constructor; see cnndsl/backends/torch_params.py)."""
        return False

    def add_in_place(self, n: int) -> bool:
        """Whether the add `n` may be written `first += second` (torch_inplace.py)."""
        return add_in_place(self.network, n, self.aliased_nodes())

    def aliased_nodes(self) -> set[int]:
        """Nodes whose tensor may at run time be another's: those inside a module that may
        be None (see the NOTE in cnndsl/backends/torch_inplace.py)."""
        return set()

    def _has_module(self, path: str) -> bool:
        if self.tree.is_container(path):
            return True
        return self._op(self.tree.leaf_of[path]).torch is not None

    def _op(self, n: int):
        return lookup(self.network.node(n)["op"])

    def _layer_expr(self, n: int) -> str:
        attrs = self.network.node(n)
        spec = self._op(n)
        ins = [self.network.node(u)["meta"]["shape"] for u in self.network.inputs(n)]
        expr = spec.torch(attrs["opts"], ins, attrs["meta"]["shape"])
        if expr is None:
            raise CnnUsageError(f"layer `{attrs['op']}` ({attrs['name']}) has no PyTorch "
                                "module", hint="give its OpSpec a `torch` rule")
        self._use_helpers(spec, expr)
        if self.inplace and activation_in_place(self.network, n, self.aliased_nodes()):
            expr = with_inplace(expr)
        return expr

    def inline_expr(self, n: int, args: list[str]) -> str:
        """The expression of a layer without a module: a merge, or the op's inline rule."""
        attrs = self.network.node(n)
        spec = self._op(n)
        rule = spec.extras.get("torch_inline")
        if rule is None:
            return _INLINE[attrs["op"]](args)
        expr = rule(attrs["opts"], args)
        self._use_helpers(spec, expr)
        return expr

    def _use_helpers(self, spec, expr: str) -> None:
        for helper, source in spec.extras.get("torch_helpers", {}).items():
            if re.search(rf"\b{helper}\(", expr):
                self.helpers[helper] = source
                self.used_names.add(helper)

    # --- forward ------------------------------------------------------------------------
    def access(self, path: str, rel: list[str]) -> str:
        """The expression that reaches the module at `path + rel` from `self` at `path`."""
        expr, here = "self", path
        for step in rel:
            kind = self.tree.containers[here].kind
            local = self.attribute(step)
            if local.isdigit() and kind in ("sequential", "list"):
                expr = f"{expr}[{local}]"
            elif not local.isidentifier():
                expr = f"getattr({expr}, {local!r})"
            else:
                expr = f"{expr}.{local}"
            here = join(here, step)
        return expr

    def _forward(self, path: str) -> str:
        return ForwardWriter(self, path).text()


class ForwardWriter:
    """The straight-line `forward` of one container, with readable variable names."""

    def __init__(self, source: TorchSource, path: str) -> None:
        self.source, self.tree, self.path = source, source.tree, path
        self.network = source.network
        self.box = self.tree.containers[path]
        self.var: dict[int, str] = {}
        # Every variable name given out (names are never freed), and the names a variable
        # must not hide: Python's, the file's imports and helpers (`class_1` is `class_2`).
        self.taken = {"self", *PYTHON_RESERVED, *source.used_names}
        self.next_suffix: dict[str, int] = {}  # per stem, where to look for a free name
        self.lines: list[str] = []
        self.training_only: list[bool] = []  # per line: computes auxiliary heads only
        self.assigned: list[list[str]] = []  # per line: the variables it assigns
        self.sharing: dict[str, list[int]] = {}  # variable -> nodes it holds (identities)
        self.merges: set[int] = set()  # lines that merge tensors (`y = torch.cat(...)`)
        self.conditions: list[str | None] = []  # per line: the condition it runs under
        self.main = self.network.main_nodes() if not path else None

    def units(self) -> list[tuple[list[str], list[int], list[int]]]:
        """(path relative to the container, inputs, outputs) of each step of the forward."""
        order = self.tree.ordered_children(self.path)
        if order is not None:
            return [([c], *self.tree.unit_io(join(self.path, c))) for c in order]
        steps = []
        for n in sorted(self.box.nodes):
            name = self.network.node(n)["name"]
            rel = name[len(self.path) + 1:].split(".") if self.path else name.split(".")
            steps.append((rel, self.network.inputs(n), [n]))
        return steps

    def text(self) -> str:
        steps = self.units()
        uses = {}
        for _, ins, _ in steps:
            for u in ins:
                uses[u] = uses.get(u, 0) + 1
        returned = self._returned()
        for n in returned:
            uses[n] = uses.get(n, 0) + 1
        self.readers = {}  # steps of the main path (and the return) reading each tensor
        for _, ins, outs in steps:
            if self.main is None or any(n in self.main for n in outs):
                for u in ins:
                    self.readers[u] = self.readers.get(u, 0) + 1
        args = []
        for u in self.box.inputs:
            self.var[u] = self._fresh("x" if not args else self._local(u))
            args.append(self.var[u])
        if self.box.path == "":
            self.var[self.network.input] = "x"
            self.taken.add("x")
            args = ["x"]
        for rel, ins, outs in steps:
            for u in ins:
                uses[u] -= 1
            self._step(rel, ins, outs, uses)
        annotation = ""
        if self.box.path == "" and len(returned) > 1:  # see the NOTE on auxiliary heads
            annotation = f" -> torch.Tensor | tuple[{', '.join(['torch.Tensor'] * len(returned))}]"
        lines = [f"{INDENT}def forward(self, {', '.join(args)}){annotation}:"]
        body = self._body_lines([self.var[n] for n in returned[1:]])
        ret = self._return_lines(returned)
        last = len(self.lines) - 1
        if len(ret) == 1 and last in self.merges and not self.training_only[last] and \
                self.conditions[last] is None and \
                ret[0].strip() == f"return {self.assigned[last][0]}":
            # a merge that ends the forward is returned, as hand-written code does:
            # `return torch.cat([branch1, branch2], dim=1)`
            body, ret = body[:-1], [f"{INDENT * 2}return {self.lines[last].split(' = ', 1)[1]}"]
        return "\n".join(lines + body + ret) + "\n"

    def _returned(self) -> list[int]:
        if self.box.path:
            return self.box.outputs
        return [*self.network.outputs, *self.network.aux_outputs]

    def _body_lines(self, aux_names: list[str]) -> list[str]:
        """The steps, those that compute only auxiliary heads under `if self.training:`
        (see the NOTE on auxiliary heads), the heads' outputs declared before it."""
        lines, inside = [], False
        declared = set()
        if any(self.conditions):
            if any(self.training_only):
                raise NotWritable
            return self._conditional_lines()
        for i, (line, aux) in enumerate(zip(self.lines, self.training_only)):
            if aux and not inside:
                block = itertools.takewhile(lambda k: self.training_only[k],
                                            range(i, len(self.lines)))
                made = [name for k in block for name in self.assigned[k]]
                for name in made:
                    if name in aux_names and name not in declared:
                        declared.add(name)
                        lines.append(f"{INDENT * 2}{name}: torch.Tensor | None = None")
                lines.append(f"{INDENT * 2}if self.training:")
            inside = aux
            lines.append(f"{INDENT * (3 if aux else 2)}{line}")
        return lines

    def _conditional_lines(self) -> list[str]:
        """The steps, those of a conditional region under `if self.use_x:` (see the NOTE in
        cnndsl/backends/torch_conditions.py)."""
        lines, current = [], None
        for line, condition in zip(self.lines, self.conditions):
            if condition is not None and condition != current:
                lines.append(f"{INDENT * 2}if self.{self.source.flag(self.path, condition)}:")
            current = condition
            lines.append(f"{INDENT * (3 if condition else 2)}{line}")
        return lines

    def _emit(self, line: str, aux: bool, names: list[str], condition: str | None) -> None:
        self.lines.append(line)
        self.training_only.append(aux)
        self.assigned.append(names)
        self.conditions.append(condition)

    def _step(self, rel, ins, outs, uses) -> None:
        node_path = join(self.path, ".".join(rel))
        condition = self.source.step_condition(node_path)
        aux = self.main is not None and not any(n in self.main for n in outs)
        args = [self.var[u] for u in ins]
        op = None
        if not self.tree.is_container(node_path) and \
                self.source._op(self.tree.leaf_of[node_path]).torch is None:
            op = self.network.node(self.tree.leaf_of[node_path])["op"]
            call = self.source.inline_expr(self.tree.leaf_of[node_path], args)
        elif self.tree.is_parameter(node_path):
            apply = self.source._op(self.tree.leaf_of[node_path]).extras["torch_apply"]
            call = apply(self.source.access(self.path, rel), args)
        else:
            call = f"{self.source.access(self.path, rel)}({', '.join(args)})"
        if op is not None and len(outs) == 1 and self.network.is_identity(outs[0]):
            self.var[outs[0]] = args[0]  # a merge of one tensor is that tensor
            self.sharing.setdefault(args[0], []).extend([ins[0], outs[0]])
            return
        # A chain reuses its variable; a step that reads `x` while `x` is still needed
        # later (a residual's shortcut) starts `out`, as hand-written code does.
        reuse = len(outs) == 1 and args and not aux and all(
            uses[m] == 0 for m in (ins[0], *self.sharing.get(args[0], ())))
        if reuse and self.tree.is_container(node_path) and rel[-1].isidentifier() and \
                self.readers.get(ins[0], 0) > 1:
            reuse = False  # the last of branches reading one tensor: `branch4 = ...(x)`
        if condition is not None and not reuse:  # see the NOTE in torch_conditions.py
            raise NotWritable
        chain_start = len(outs) == 1 and args and args[0] == "x" and \
            not self.tree.is_container(node_path)
        if not outs:  # nothing reads what it makes: a call for its side effects alone
            self._emit(call, aux, [], condition)
            return
        if self.source.optional_module(node_path) and len(outs) == 1 and len(args) == 1:
            call = self._optional_call(rel, call, args[0])
        if op == "add" and reuse and self.source.inplace and \
                self.source.add_in_place(outs[0]):
            self.var[outs[0]] = args[0]
            self._emit(f"{args[0]} += {args[1]}", aux, [], condition)  # see torch_inplace.py
            return
        names = []
        for n in outs:
            if reuse:
                self.var[n] = args[0]
            elif len(outs) == 1 and self.tree.is_container(node_path) and \
                    rel[-1].isidentifier():
                # branch1 = self.branch1(x); branch5x5 = self.branch5x5_1(x)
                self.var[n] = self._fresh(re.sub(r"(?<=[^\W_])_\d+$", "", rel[-1]))
            else:
                self.var[n] = self._fresh("out" if chain_start else self._local(n))
            names.append(self.var[n])
        self._emit(f"{', '.join(names)} = {call}", aux, names, condition)
        if op is not None and len(args) > 1:
            self.merges.add(len(self.lines) - 1)

    def _optional_call(self, rel, call: str, arg: str) -> str:
        """A module that may be None stands for the identity."""
        guard = f"{self.source.access(self.path, rel)} is not None"
        return f"{call} if {guard} else {arg}"

    def _local(self, n: int) -> str:
        if n == self.network.input:
            return "x"
        local = self.network.node(n)["name"].rsplit(".", 1)[-1]
        if local.isidentifier():
            return local
        clean = re.sub(r"\W", "_", local)  # `0`, `block1-0`: module names, not identifiers
        return "out" + clean if clean[0].isdigit() else clean

    def _fresh(self, stem: str) -> str:
        """`stem`, else `stem_2`, `stem_3`, ...: the first not yet given out. Counting on
        from the stem's last one keeps a forward of thousands of steps linear."""
        k = self.next_suffix.get(stem, 1)
        name = stem if k == 1 else f"{stem}_{k}"
        while name in self.taken:
            k += 1
            name = f"{stem}_{k}"
        self.next_suffix[stem] = k
        self.taken.add(name)
        return name

    def _return_lines(self, returned: list[int]) -> list[str]:
        names = [self.var[n] for n in returned]
        taps = len(self.network.outputs) if self.box.path == "" else len(names)
        if self.box.path == "" and len(names) > taps:
            known = "".join(f" and {name} is not None" for name in names[taps:])
            return [f"{INDENT * 2}if self.training{known}:",
                    f"{INDENT * 3}return {', '.join(names)}",
                    f"{INDENT * 2}return {', '.join(names[:taps])}"]
        return [f"{INDENT * 2}return {', '.join(names)}".rstrip()]


def _family(stem: str) -> str:
    """A class stem without the number that tells its labels apart: `Aux1` -> `Aux`."""
    family = stem.rstrip("0123456789").rstrip("_")
    return family if family and family != stem and family[-1].isalpha() else stem


def _indent(text: str, levels: int = 1) -> str:
    """Indent every line but the first (a multi-line expression inside a statement)."""
    return text.replace("\n", "\n" + INDENT * levels)


# NOTE: network parameters
# The network class takes the spec's `param`s that are written as plain numbers as
# constructor arguments with the spec's values as defaults (`ResNet50(num_classes=1000)`).
# Its body comes from lowering the spec again with those params symbolic (torch_params.py).
# A param that a condition, a conditional value or a function read while lowering
# (`conv k1 4 if t != 1`, also in a block it is passed to; `max(t, 4)`), or that another
# param is computed from, is fixed in the class: the text is right at its value only
# (torch_conditions.DecisionRecorder). Another stays in the signature only if the file is
# the same text when the network is built with another value of it (bar the default in
# the signature): then one class is checked, node by node, at two values of the param; a
# param whose other values do not build, or change the text, is left out and its value is
# fixed in the class.
def torch_source(network: Network, *, class_name: str | None = None,
                 spec_name: str | None = None, inplace: bool = True) -> str:
    """The text of a standalone Python module defining the network as an nn.Module.
    `inplace=False` writes no in-place step (see cnndsl/backends/torch_inplace.py)."""
    source = TorchSource(network, class_name, spec_name, inplace=inplace)
    text = source.render()
    names = list(source.root_params)
    if not names:
        return text
    spec = source.planner.spec
    kept = {name for name in names
            if _honours(network, spec, source.planner.py_names["\0network"], name, text,
                        class_name, spec_name, inplace)}
    if kept == set(names):
        return text
    return TorchSource(network, class_name, spec_name, inplace=inplace).render(
        {p for p, py in source.planner.py_names["\0network"].items() if py in kept})


def _honours(network: Network, spec, py_names: dict, name: str, text: str, class_name,
             spec_name, inplace: bool) -> bool:
    """Whether the file for another value of param `name` (Python name) is this text."""
    from ..errors import CnnError
    from ..ir import lower
    from ..passes import PIPELINE

    param = next(p for p, py in py_names.items() if py == name)
    value = network.params[param]
    for other in (value + 1, 2 * value, value + 8):
        try:
            changed = lower(spec, params={**network.params, param: other},
                            input_shape=tuple(network.input_shape))
            if "fully_conv" in network.meta:  # --fully-conv: the kernels at that value
                from ..passes.fully_conv import fully_conv

                own = spec.input_shape.dims if spec.input_shape else network.input_shape
                changed = fully_conv(changed, trained=lower(
                    spec, params={**network.params, param: other}, input_shape=tuple(own)))
            for run_pass in PIPELINE:  # the spec's asserts are about its own values
                if run_pass.__name__ != "check_contracts":
                    changed = run_pass(changed, inplace=True)
        except CnnError:
            continue
        other_text = TorchSource(changed, class_name, spec_name, inplace=inplace).render()
        return _body(other_text).replace(f"{name}={other}", f"{name}={value}", 1) == \
            _body(text)
    return False


def _body(text: str) -> str:
    """The file without its header comment (which states this instance's numbers)."""
    return text.split("\n\n", 1)[1] if "\n\n" in text else text
