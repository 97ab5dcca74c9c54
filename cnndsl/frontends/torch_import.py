"""Import a PyTorch model: `nn.Module` -> .cnn spec text, checked by the normal pipeline.

    text = cnndsl.from_torch(model, "3x224x224")

1. trace: torch.fx with the layers cnndsl knows kept as leaves (torch_layers.MODULES);
   a shape propagation marks which nodes are tensors.
2. write: every module call and function becomes a layer (torch_layers), named by the
   module path through nested labels, so the spec's module has the model's state_dict keys
   (see NOTE: naming and data flow). Where structure repeats, torch_structure folds it.
3. verify: the spec is loaded, given the model's state_dict strictly, and run on a random
   input beside the model; any difference is a CnnImportError, never a silent spec.
"""
from __future__ import annotations

import builtins
import keyword
import re

import torch
import torch.fx as fx
from torch import nn

from ..errors import CnnError, CnnImporterBug, CnnImportError
from . import torch_layers as layers
from . import torch_patterns as patterns
from .torch_layers import Unmapped
from .torch_structure import Folder, normalize_layer, render, tokens

CUSTOM_LAYER_HINT = ("register a custom layer with cnndsl.register_layer and write the "
                     "spec around it (docs/importing.md, docs/language.md \"Custom layers\"), "
                     "or replace the module by cnndsl layers in the model")


def from_torch(model: nn.Module, input_shape="3x224x224", *, name: str | None = None) -> str:
    """The .cnn spec text of `model`, verified: its module loads `model.state_dict()`
    strictly and computes the same outputs (eval mode) on a random input."""
    shape = parse_shape(input_shape)
    was_training = model.training
    model.eval()
    try:
        graph = trace(model, shape)
        name = name or type(model).__name__
        writer = SpecWriter(graph, name, shape, model)
        text = writer.write()
        try:
            verify(model, text, shape)
        except CnnImportError:
            if not writer.folded:
                raise
            # NOTE: a folded spec that does not check is a bug of the folding; the flat
            # spec is still right, and is what the user gets.
            text = SpecWriter(graph, name, shape, model, fold=False).write()
            verify(model, text, shape)
    finally:
        model.train(was_training)
    return text


def parse_shape(input_shape) -> tuple[int, ...]:
    if isinstance(input_shape, str):
        try:
            shape = tuple(int(v) for v in input_shape.lower().split("x"))
        except ValueError:
            shape = ()
    else:
        shape = tuple(int(v) for v in input_shape)
    if len(shape) not in (1, 3) or min(shape) <= 0:
        raise CnnImportError(f"input shape {input_shape!r} is not CxHxW (or a feature count)",
                             hint='write it as "3x224x224"')
    return shape


# --------------------------------------------------------------------------- tracing

class LeafTracer(fx.Tracer):
    """Keeps cnndsl's layers (and torch's other modules) as calls; traces into the rest."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return layers.is_known_module(m) or super().is_leaf_module(m, qualname)


def trace(model: nn.Module, shape: tuple[int, ...]) -> fx.GraphModule:
    tracer = LeafTracer()
    try:
        graph = tracer.trace(model)
    except Exception as exc:  # fx raises TraceError, TypeError, ... from the user's forward
        stack = list(getattr(tracer, "module_stack", {}).values())
        where = (f"in `{stack[-1][0] or '(the model)'}` ({_class_name(stack[-1][1])})"
                 if stack else f"in {type(model).__name__}.forward")
        raise CnnImportError(
            f"cannot trace the model {where}: {type(exc).__name__}: {exc}",
            hint="cnndsl imports a forward whose structure does not depend on the data "
                 "(no `if` on a tensor's values, no loops over a tensor): rewrite that part "
                 "without it, or register it as a custom layer (docs/importing.md)") from None
    gm = fx.GraphModule(model, graph)
    gm.graph.eliminate_dead_code()
    x = torch.randn(2, *shape)
    try:
        with torch.no_grad():
            model(x)  # ShapeProp would print a traceback for a model that does not run
    except Exception as exc:
        raise CnnImportError(f"the model does not run on an input of shape "
                             f"{'x'.join(map(str, shape))}: {type(exc).__name__}: {exc}",
                             hint="give the input shape the model expects (--input CxHxW)") from None
    with torch.no_grad():
        patterns.ValueProp(gm).propagate(x)
    patterns.mark_layouts(gm)
    return gm


def _class_name(cls) -> str:
    return cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"


def is_tensor(node: fx.Node) -> bool:
    meta = node.meta.get("tensor_meta")
    return meta is not None and hasattr(meta, "shape")


# --------------------------------------------------------------------------- writing

# NOTE: naming and data flow
# A module's state_dict key is its path: `layer1.0.conv1.weight`. The spec states the path
# with nested labels, one group per module scope: `(layer1: ("0": (conv1: conv ...) ...))`;
# a name that is not a plain label (`0`, `fc-1`) is quoted. Function calls (`F.relu`, `+`)
# run inside the scope of the module whose forward calls them (fx's nn_module_stack).
# Data flow: each item reads the output of the item before it; a tensor read anywhere else
# gets an alias `(t_<node>: id)` right where it is made (or, when made last in a scope,
# right after the scope closes, in the innermost scope that every reader sees), and
# readers name it: `add< id | @t_x >`, `concat< @t_a | @t_b >`. A read of an alias where
# the previous item's output is not the input restarts from it: `concat< @t_a >`.

OPTION_LIKE = re.compile(r"^((k|s|p|d|g|op)\d+(x\d+)?|x\d+)$")
PLAIN_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# names cnndsl adjusts in an unquoted label and refuses in a quoted one (docs/language.md)
ADJUSTED = set(dir(nn.Module)) | set(dir(builtins)) | {"self", "x", "torch", "nn", "F"}


def label(name: str) -> str:
    if PLAIN_LABEL.match(name) and not OPTION_LIKE.match(name) and not keyword.iskeyword(name) \
            and name not in ADJUSTED:
        return name
    if not re.match(r"^[^.\s\"'{}]+$", name) or (name.isidentifier() and (
            keyword.iskeyword(name) or name in ADJUSTED)):
        raise Unmapped(f"the module name {name!r} cannot be a cnndsl label")
    return f'"{name}"'


MAX_PROBLEMS = 12  # calls listed in one report; the rest are counted


class SpecWriter:
    def __init__(self, gm: fx.GraphModule, name: str, shape: tuple[int, ...],
                 model: nn.Module | None = None, fold: bool = True):
        self.gm = gm
        self.model = model if model is not None else gm
        self.fold = fold
        self.folded: dict[tuple, object] = {}  # module path -> torch_structure.Instance
        self.calls: list = []                  # (block, arguments) of each call written
        self.name = re.sub(r"\W", "_", name) or "Imported"
        self.shape = shape
        self.nodes = [n for n in gm.graph.nodes if n.op not in ("output",)]
        self.output = next(n for n in gm.graph.nodes if n.op == "output")
        self.users: dict[fx.Node, list[fx.Node]] = {n: list(n.users) for n in gm.graph.nodes}
        # calls that are one layer together (chunk, shuffle, layer scale): torch_patterns
        self.fused, self.swallowed = patterns.find_patterns(gm)
        for n, fused in self.fused.items():
            self.users[fused.source].append(n)
        self.called: dict[str, int] = {}
        self.alias_depth: dict[fx.Node, int] = {}
        self.gates: dict[fx.Node, tuple[fx.Node, list[fx.Node]]] = {}
        self.in_gate: set[fx.Node] = set()
        self.problems: list[str] = []

    # -- the two passes: the first finds which tensors are read from afar
    def write(self) -> str:
        items = self.items()
        if self.problems:
            shown = self.problems[:MAX_PROBLEMS]
            more = len(self.problems) - len(shown)
            raise CnnImportError("cannot import the model:\n" + "\n".join(
                f"  - {p}" for p in shown) + (f"\n  ... and {more} more" if more else ""),
                hint=CUSTOM_LAYER_HINT)
        folder = Folder(self, items, self.model)
        if self.fold:
            folder.fold()
        lines, _ = self.write_body(items, [], self.input, top=True)
        lines = render(tokens("\n".join(lines), self.calls)).split("\n")
        blocks = {b.name for b in folder.blocks}
        lines = [numbered_as_seq(line, blocks) for line in compact(lines, blocks)]
        if not any(line.strip() for line in lines):
            lines = ["id"]  # a model that returns its input (nn.Identity)
        head = [f"network {self.name}", f"input {'x'.join(map(str, self.shape))}"]
        return "\n".join(head + folder.block_texts() + lines) + "\n"

    def write_body(self, nodes: list[fx.Node], base: list[str], start: fx.Node,
                   top: bool = False) -> tuple[list[str], fx.Node]:
        """The lines of `nodes` (one module's, or the model's), which start from `start`
        (named `t0` where read from afar), and the last node written. Two passes: the
        first finds which tensors are read from afar."""
        saved = {k: getattr(self, k, None) for k in
                 ("refs", "aliased", "alias_depth", "alias_names", "called", "last")}
        try:
            self.refs, self.aliased, self.alias_names, self.called = {}, set(), {}, {}
            self.body(nodes, base, start)  # dry run: collects self.refs
            if top:
                self.outputs()
            self.aliased = set(self.refs)
            self.alias_depth = dict(self.refs)
            self.alias_names = {start: "t0"}
            for n in self.nodes:
                if n in self.aliased and n is not start:
                    self.alias_names[n] = f"t{len(self.alias_names)}"
            self.called = {}
            lines = self.body(nodes, base, start)
            last = self.last
            if top:
                lines += self.outputs()
            if start in self.aliased:
                lines.insert(0, f"{'    ' * len(base)}({self.alias(start)}: id)")
            return lines, last
        finally:
            for k, v in saved.items():
                setattr(self, k, v)

    def items(self) -> list[fx.Node]:
        out = []
        for n in self.nodes:
            if n.op == "placeholder":
                self.input = n
                continue
            if n in self.swallowed:
                continue
            if not is_tensor(n):
                if n.op == "call_module":  # a module that returns a tuple: nn.GRU, ...
                    m = self.gm.get_submodule(n.target)
                    why = "returns something other than one tensor" if layers.is_known_module(m) \
                        else "no cnndsl layer for this module class"
                    self.problems.append(self.describe(n, why))
                continue  # x.size(0) and friends: arguments of a reshape
            try:
                self.check(n)
            except Unmapped as exc:
                self.problems.append(self.describe(n, str(exc)))
                continue
            out.append(n)
        return [n for n in out if n not in self.in_gate]

    def describe(self, n: fx.Node, why: str) -> str:
        if n.op == "call_module":
            m = self.gm.get_submodule(n.target)
            return f"`{n.target}` ({_class_name(type(m))}): {why}"
        where = self.scope(n)
        return f"`{n.name}` in `{'.'.join(where) or '(the model)'}`: {why}"

    def check(self, n: fx.Node) -> None:
        if n.op == "get_attr":
            raise Unmapped("a parameter or buffer used directly in forward")
        names = n.target.split(".") if n.op == "call_module" else self.scope(n)
        for part in names:
            label(part)
        self.text(n, dry=True)

    # -- what one node becomes
    def tensor_args(self, n: fx.Node) -> list[fx.Node]:
        if n in self.fused:
            return [self.fused[n].source]
        return [a for a in n.all_input_nodes if is_tensor(a)]

    def text(self, n: fx.Node, dry: bool = False) -> str:
        t = n.target
        if n in self.fused:
            fused = self.fused[n]
            return f"({label(fused.name)}: {fused.layer()})" if fused.name else fused.layer()
        if n.op == "call_module":
            return layers.module_layer(self.gm.get_submodule(t), n)
        if n.op == "call_function" and t in layers.ADD or n.op == "call_method" and t in ("add", "add_"):
            return self.merge(n, "add")
        if n.op == "call_function" and t in layers.CAT:
            dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)
            if dim not in (1, -3):
                raise Unmapped(f"concatenation along dim {dim} (cnndsl concatenates channels)")
            if not isinstance(n.args[0], (list, tuple)) or not all(
                    isinstance(a, fx.Node) and is_tensor(a) for a in n.args[0]):
                raise Unmapped("a concatenation of something other than a list of tensors")
            return "concat"
        if n.op == "call_function" and t in layers.MUL or n.op == "call_method" and t in ("mul", "mul_"):
            return self.mul(n, dry)
        if n.op == "call_method" and t in ("view", "reshape") or n.op == "call_function" and t is torch.reshape:
            src = self.tensor_args(n)[0].meta["tensor_meta"].shape
            out = n.meta["tensor_meta"].shape
            if len(out) == 2 and out[0] == src[0] and len(src) > 2:
                return "flatten"
            raise Unmapped(f"a reshape from {tuple(src)} to {tuple(out)}")
        return layers.function_layer(n)

    def merge(self, n: fx.Node, kind: str) -> str:
        args = [a for a in n.args if isinstance(a, fx.Node)]
        if len(args) != 2 or not all(is_tensor(a) for a in args) or n.kwargs.get("alpha", 1) != 1:
            raise Unmapped(f"`{kind}` of something other than two tensors")
        return kind

    def mul(self, n: fx.Node, dry: bool) -> str:
        tensors = [a for a in n.args if isinstance(a, fx.Node) and is_tensor(a)]
        if len(tensors) == 1:
            others = [a for a in n.args if not isinstance(a, fx.Node)]
            if len(others) == 1 and isinstance(others[0], (int, float)):
                return f"scale {float(others[0])!r}"
            raise Unmapped("a product with something other than a number or a tensor")
        if dry:
            self.gates[n] = self.gate_region(n)
            self.in_gate.update(self.gates[n][1])
        return "gate"

    def gate_region(self, n: fx.Node) -> tuple[fx.Node, list[fx.Node]]:
        """x * f(x): x and the nodes of f, which only f and the product read."""
        a, b = n.args[0], n.args[1]
        for x, g in ((a, b), (b, a)):
            region = self.between(x, g)
            if region is not None and all(u in region or u is n for r in region for u in self.users[r]) \
                    and all(i in region or i is x for r in region for i in self.tensor_args(r)):
                order = [m for m in self.nodes if m in region]
                return x, order
        raise Unmapped("a product of two tensors that is not a gate x * f(x)")

    def between(self, x: fx.Node, g: fx.Node) -> set[fx.Node] | None:
        region, todo = set(), [g]
        while todo:
            m = todo.pop()
            if m is x or m in region:
                continue
            if m.op == "placeholder":
                return None
            region.add(m)
            todo.extend(a for a in self.tensor_args(m))
        return region if x in {i for r in region for i in self.tensor_args(r)} else None

    # -- scopes
    def scope(self, n: fx.Node) -> list[str]:
        if n.op == "call_module":
            return n.target.split(".")[:-1]
        stack = n.meta.get("nn_module_stack") or {}
        if not stack:
            return []
        path = list(stack.values())[-1][0]
        return path.split(".") if path else []

    def item(self, n: fx.Node, current: fx.Node, stack: list[str]) -> str:
        text = self.text(n)
        if n.op == "call_module":
            leaf = n.target.split(".")[-1]
            m = self.gm.get_submodule(n.target)
            text = normalize_layer(text)
            if n.target in self.called:
                if any(True for _ in m.parameters()) or any(True for _ in m.buffers()):
                    raise CnnImportError(f"the module `{n.target}` ({_class_name(type(m))}) is "
                                         "called more than once: cnndsl has no shared weights",
                                         hint="call a separate module each time")
                self.called[n.target] += 1
                op = text.split(" ")[0]
                parent = self.gm.get_submodule(".".join(n.target.split(".")[:-1]))
                if not any(re.match(rf"^{op}\d+$", s) for s, _ in parent.named_children()):
                    return text  # named `relu1`, ... by cnndsl: no module has such a name here
                return f"(t_{re.sub(r'[^A-Za-z0-9_]', '_', leaf)}_{self.called[n.target]}: {text})"
            self.called[n.target] = 0
            return f"({label(leaf)}: {text})"
        if text in ("add", "concat"):
            args = n.args[0] if text == "concat" else n.args
            branches = ["id" if a is current else self.ref(a, stack) for a in args]
            return f"{text}< {' | '.join(branches)} >"
        if text == "gate":
            x, region = self.gates[n]
            body = self.body(region, stack, x)
            return "gate< " + " ".join(line.strip() for line in body) + " >"
        return text

    def folded_at(self, scope: list[str], base: list[str]):
        for d in range(len(base) + 1, len(scope) + 1):
            folded = self.folded.get(tuple(scope[:d]))
            if folded is not None:
                return folded
        return None

    def call(self, folded) -> str:
        """A placeholder for the call, filled in when the text is rendered (torch_structure)."""
        if folded.block is None:
            return folded.text
        self.calls.append((folded.block, folded.block.args[folded.path]))
        return f"\x00{len(self.calls) - 1}\x00"

    def ref(self, a: fx.Node, stack: list[str]) -> str:
        depth = min(_common(self.scope_of_tensor(a), stack), self.refs.get(a, 99))
        self.refs[a] = depth
        return f"@{self.alias(a)}"

    def alias(self, a: fx.Node) -> str:
        # in the first pass no tensor has a name yet
        return getattr(self, "alias_names", {}).get(a, f"t_{a.name}")

    def scope_of_tensor(self, a: fx.Node) -> list[str]:
        return [] if a.op == "placeholder" else self.scope(a)

    def body(self, nodes: list[fx.Node], base: list[str], current: fx.Node) -> list[str]:
        out: list[str] = []
        stack = list(base)
        pending: list[tuple[int, fx.Node]] = []

        def close_to(depth: int) -> None:
            while len(stack) > depth:
                stack.pop()
                out[-1] += ")"
                for d, p in list(pending):
                    if d == len(stack):
                        out.append(f"{'    ' * len(stack)}({self.alias(p)}: id)")
                        pending.remove((d, p))

        i = 0
        while i < len(nodes):
            n = nodes[i]
            i += 1
            scope = self.scope(n)
            if scope[:len(base)] != base:
                raise CnnImportError(f"`{n.name}` runs outside the module around it",
                                     hint=CUSTOM_LAYER_HINT)
            folded = self.folded_at(scope, base)
            if folded is not None:  # the module is a call of its block: its nodes are skipped
                while i < len(nodes) and nodes[i] in folded.nodes:
                    i += 1
                scope = list(folded.path[:-1])
            close_to(max(_common(stack, scope), len(base)))
            if pending:
                p = pending[0][1]
                raise CnnImportError(f"`{p.name}` is read outside its module, but is not the "
                                     "module's output: cnndsl cannot name it there",
                                     hint=CUSTOM_LAYER_HINT)
            while len(stack) < len(scope):
                out.append(f"{'    ' * len(stack)}({label(scope[len(stack)])}:")
                stack.append(scope[len(stack)])
            first = self.tensor_args(n)
            if n in self.gates:
                first = [self.gates[n][0]]
            if folded is not None:
                first = [folded.input]
            merge = folded is None and self.text(n) in ("add", "concat")
            if first and current not in first and not merge:
                out.append(f"{'    ' * len(stack)}concat< {self.ref(first[0], stack)} >")
                current = first[0]
            if folded is not None:
                n = folded.output
                text = f"({label(folded.path[-1])}: {self.call(folded)})"
            else:
                text = self.item(n, current, stack)
            if text.startswith("gate<") and out and out[-1].endswith(":"):
                # NOTE: a label around one composite names the composite and leaves its
                # body in the scope outside; an `id` first makes the label a scope.
                text = "id " + text
            out.append(f"{'    ' * len(stack)}{text}")
            current = n
            if n in self.aliased:
                depth = self.alias_depth[n]
                if depth >= len(stack):
                    out.append(f"{'    ' * len(stack)}({self.alias(n)}: id)")
                else:
                    pending.append((depth, n))
        close_to(len(base))
        if pending:
            raise CnnImportError(f"`{pending[0][1].name}` is read outside the part of the "
                                 "model that makes it", hint=CUSTOM_LAYER_HINT)
        self.last = current
        return out

    def outputs(self) -> list[str]:
        result = self.output.args[0]
        if isinstance(result, fx.Node):
            if result is self.last:
                return []
            return [f"concat< {self.ref(result, [])} >"]
        if isinstance(result, (tuple, list)) and all(isinstance(r, fx.Node) for r in result):
            return ["output " + " ".join(self.ref(r, []) for r in result)]
        raise CnnImportError("the model returns something other than a tensor or a tuple "
                             "of tensors", hint="return the tensors themselves")


LINE_WIDTH = 96


def compact(lines: list[str], blocks=frozenset()) -> list[str]:
    """Items of one scope share a line while it stays short; `blocks`: the names of the
    blocks written (a call without arguments is the name alone)."""
    lines = fold_scopes(lines, blocks)
    out: list[str] = []
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if out and not out[-1].endswith(":") and not line.endswith(":") and \
                len(out[-1]) - len(out[-1].lstrip()) == indent and \
                len(out[-1]) + len(line) - indent < LINE_WIDTH:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


LABELLED = re.compile(r'^(?P<label>"[^"]+"|[A-Za-z]\w*): (?P<rest>.*)$', re.S)
NUMBERED_ITEM = re.compile(r'^\("(\d+)": (.*)\)$', re.S)
CALL = re.compile(r"^[A-Za-z]\w*\(.*\)$")


def numbered_as_seq(line: str, blocks=frozenset()) -> str:
    """`(head: ("0": conv k3 16 nobias) ("1": bn))` -> `(head: seq< conv k3 16 nobias bn >)`:
    an nn.Sequential, numbered as seq< > numbers its children (inner groups first)."""
    out, i = [], 0
    while i < len(line):
        if line[i] == '"':
            j = line.index('"', i + 1) + 1
            out.append(line[i:j])
            i = j
        elif line[i] == "(":
            j = _closing(line, i)
            if j < 0:  # a scope that closes on a later line
                out.append("(")
                i += 1
                continue
            out.append(_as_seq("(" + numbered_as_seq(line[i + 1:j], blocks) + ")", blocks))
            i = j + 1
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def _closing(text: str, i: int) -> int:
    depth, quoted = 0, False
    for j in range(i, len(text)):
        c = text[j]
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1


def split_items(text: str) -> list[str]:
    """The items of a sequence, at the top level of (), < > and quotes."""
    items, depth, quoted, start = [], 0, False, 0
    for j, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif c in "(<":
            depth += 1
        elif c in ")>":
            depth -= 1
        elif c.isspace() and depth == 0:
            if text[start:j].strip():
                items.append(text[start:j].strip())
            start = j + 1
    if text[start:].strip():
        items.append(text[start:].strip())
    return items


COMPOSITES = {"id", "seq", "gate", "residual", "concat", "add", "inception", "dense", "aux"}


def _one_item(text: str, blocks) -> bool:
    """Whether `text` is one layer, call or composite (one child of a seq)."""
    from ..ops import layer_names

    heads = set(layer_names()) | set(blocks) | COMPOSITES
    starts = [re.match(r"^[A-Za-z_]\w*", item) for item in split_items(text)]
    firsts = [m is not None and m[0] in heads for m in starts]
    return bool(firsts) and firsts[0] and sum(firsts) == 1


def _as_seq(group: str, blocks) -> str:
    m = LABELLED.match(group[1:-1])
    if not m:
        return group
    numbered = seq_items(m["rest"], blocks)
    return group if numbered is None else f"({m['label']}: {numbered})"


def seq_items(text: str, blocks) -> str | None:
    """`("0": a) ("1": b)` -> `seq< a b >`, or None where the items are not numbered 0, 1, ..."""
    items = [NUMBERED_ITEM.match(item) for item in split_items(text)]
    if not items or not all(items) or [int(m[1]) for m in items] != list(range(len(items))):
        return None
    if not all(_one_item(m[2], blocks) for m in items):
        return None  # a child of several items, or a labelled one, is not one seq item
    texts = repeats([m[2].strip() for m in items], blocks)
    return f"seq< {' '.join(texts)} >"


def repeats(items: list[str], blocks) -> list[str]:
    """Runs of the same call: `bottleneck(64) * 2` (a seq numbers each repetition)."""
    out: list[str] = []
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[i]:
            j += 1
        n = j - i + 1
        call = CALL.match(items[i]) or items[i] in blocks
        out.append(f"{items[i]} * {n}" if n > 1 and call else items[i])
        if n > 1 and not call:
            out.extend(items[i + 1:j + 1])
        i = j + 1
    return out


def fold_scopes(lines: list[str], blocks) -> list[str]:
    """A scope whose whole text fits on a line is written on one line (innermost first)."""
    lines = list(lines)
    for i in range(len(lines) - 1, -1, -1):
        if not lines[i].endswith(":"):
            continue
        indent = _indent(lines[i])
        j = i + 1
        while j < len(lines) and _indent(lines[j]) > indent:
            j += 1
        plain = " ".join(line.strip() for line in lines[i:j])
        joined = numbered_as_seq(plain, blocks)
        if indent + len(joined) < LINE_WIDTH:
            lines[i:j] = [" " * indent + joined]
        elif joined != plain:  # a long seq< >: wrapped inside its brackets
            lines[i:j] = wrap(joined, indent)
    return lines


def wrap(text: str, indent: int) -> list[str]:
    """A long line broken between the items of its outermost `seq< >` or `residual< >`
    (or its outermost group), never inside a call or a labelled layer."""
    parts = text.split(" ")
    depths, depth, base = [], 0, None
    for word in parts:
        depth += word.count("(") + word.count("<") - word.count(")") - word.count(">")
        depths.append(depth)
        if base is None and word.endswith("<"):
            base = depth
    base = base if base is not None else (1 if text.startswith("(") else 0)
    words: list[str] = []
    for i, word in enumerate(parts):
        if words and (depths[i - 1] > base or not _starts_item(word)):
            words[-1] += " " + word
        else:
            words.append(word)
    while len(words) > 1 and re.match(r"^[>)]+$", words[-1]):
        words[-2:] = [" ".join(words[-2:])]
    out = [" " * indent]
    for word in words:
        if len(out[-1]) + len(word) >= LINE_WIDTH and out[-1].strip():
            out.append(" " * (indent + 4))
        out[-1] += word if not out[-1].strip() else " " + word
    return out


def _starts_item(word: str) -> bool:
    """Whether a word of a layer sequence starts a layer, call or group (not an option)."""
    from ..ops import layer_names

    if word[:1] in "(@>" or "<" in word or re.match(r"^[A-Za-z_]\w*\(", word):
        return True
    head = re.match(r"^[A-Za-z_]\w*", word)
    return head is not None and head[0] in set(layer_names()) | COMPOSITES


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _common(a: list[str], b: list[str]) -> int:
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return i


# --------------------------------------------------------------------------- verifying

def verify(model: nn.Module, text: str, shape: tuple[int, ...]) -> None:
    from ..torch_api import load

    try:
        net = load(text)
    except CnnError as exc:
        raise CnnImporterBug("the spec written for the model does not build (a bug in the "
                             f"importer):\n{exc}\n--- spec ---\n{text}") from None
    theirs = model.state_dict()
    try:
        net.load_state_dict(theirs, strict=True)
    except RuntimeError as exc:
        raise CnnImportError(f"the imported spec's module does not take the model's "
                             f"state_dict: {exc}", hint=CUSTOM_LAYER_HINT) from None
    net.eval()
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = model(x), net(x)
    want = want if isinstance(want, (tuple, list)) else (want,)
    got = got if isinstance(got, (tuple, list)) else (got,)
    for i, (w, g) in enumerate(zip(want, got)):
        scale = max(1.0, float(w.abs().max()))
        if w.shape != g.shape or not torch.allclose(w, g, rtol=1e-4, atol=1e-4 * scale):
            diff = float((w - g).abs().max()) if w.shape == g.shape else None
            raise CnnImportError(
                f"the imported spec computes something else than the model (output {i}: "
                f"shape {tuple(g.shape)} vs {tuple(w.shape)}, max difference {diff})",
                hint="please report it with the model: a call was mapped to the wrong layer")
    if len(want) != len(got):
        raise CnnImportError(f"the model returns {len(want)} tensors, the spec {len(got)}")
