"""Dense blocks as torchvision writes them: one layer class whose `forward` concatenates
the features it is given, and one block class that builds its layers in a loop.

# NOTE: dense blocks
# `dense(n, k)< body >` lowers to layers `denselayer1..n`, layer i reading the concatenation
# of the block's input and the outputs of the layers before it (a `concat1` inside the
# layer from the second on), and a last concat of them all. Written out, each layer would
# need a class of its own (its input channels and its arity differ), so a dense block whose
# layers fit the pattern becomes
#
#     class DenseBlock(nn.ModuleDict):
#         def __init__(self, in_channels, n, k):
#             super().__init__()
#             for i in range(n):
#                 self.add_module(f"denselayer{i + 1}", DenseLayer(in_channels + i * k, k))
#
#         def forward(self, x):
#             features = [x]
#             for layer in self.values():
#                 features.append(layer(features))
#             return torch.cat(features, dim=1)
#
# with `DenseLayer(in_channels, k)`, whose `forward(self, features: list[torch.Tensor])`
# (annotated for torch.jit.script) starts with
# `x = torch.cat(features, dim=1)` (a cat of one tensor for the first layer). The loop is
# over modules, not data: torch.fx, export and compile unroll it. Module paths stay those
# of the summary. Correct by construction, as the NOTE in torch_params.py says for blocks:
# - each layer's body is lowered again alone (a probe) with its input channels a Sym
#   `in_channels` and the growth rate a Sym `k` (the other variables it sees are plain
#   numbers), and checked against the real layer node for node, the layer's concat standing
#   for the probe's input;
# - every layer of the block must give the same class text, and layer i's input channels
#   must be the block's input channels plus i times the growth (the first layer's output
#   channels, written over `k`);
# - the block's wiring is checked: each layer's concat reads the input and the earlier
#   layers' outputs in order, and the block's last concat reads them all.
# `n`, `k` and the input channels are passed as the enclosing class has them (expressions
# over a block's parameters in a block's class, numbers in the network's). Anything else
# (a body that reads a label outside it, an auxiliary head in it, layers that disagree, a
# growth depending on the input channels) keeps the classes written out layer by layer.
"""
from __future__ import annotations

import re

from ..errors import CnnError
from ..ir import Network
from ..ir.evaluate import Env
from ..ir.lower import Frame, _dense_default
from .torch_params import (
    IN_CHANNELS,
    INDENT,
    DenseSite,
    Probe,
    ProbeLowering,
    ProbeSource,
    _literal,
    network_env,
)
from .torch_symbolic import Sym, plain
from .torch_tree import ModuleTree, join

GROWTH = "k"
_FORWARD = (f"{INDENT}def forward(self, x):\n"
            f"{INDENT * 2}features = [x]\n"
            f"{INDENT * 2}for layer in self.values():\n"
            f"{INDENT * 3}features.append(layer(features))\n"
            f"{INDENT * 2}return torch.cat(features, dim=1)\n")


def dense_block_expr(planner, path: str, network: Network, tree: ModuleTree,
                     sites: dict[str, DenseSite]) -> str | None:
    """`DenseBlock(in_ch, n, k)` for the dense block at `path`, or None (the classes
    written so far for it are then taken back)."""
    site = sites.get(path)
    if site is None or planner.blocks is None:
        return None
    source = planner.source
    state = (source.class_text, source.class_by_body, source.used_names, source.helpers,
             source.class_stem, source.renames, planner.memo, planner.probes)
    saved = [type(part)(part) for part in state]
    saved[-1] = {key: list(probes) for key, probes in planner.probes.items()}
    try:
        name = _block_class(planner, path, site)
    except (CnnError, RecursionError, ArithmeticError, TypeError, ValueError):
        name = None
    if name is None:  # no class written for it stays, nor a nested call's memo naming one
        for now, before in zip(state, saved):
            now.clear()
            now.update(before)
        return None
    in_ch = network.node(tree.containers[path].inputs[0])["meta"]["shape"][0]
    return f"{name}({_literal(in_ch)}, {_literal(site.n)}, {_literal(site.k)})"


def _block_class(planner, path: str, site: DenseSite) -> str | None:
    real, tree = planner.network, planner.tree
    box = tree.containers.get(path)
    n = int(site.n)
    layers = [f"denselayer{i}" for i in range(1, n + 1)]
    if box is None or box.kind != "plain" or len(box.inputs) != 1 or \
            len(box.outputs) != 1 or box.children[:-1] != layers:
        return None
    last = box.outputs[0]
    if real.node(last)["op"] != "concat" or \
            real.node(last)["name"] != join(path, box.children[-1]):
        return None
    features = [box.inputs[0]]
    layer_class = growth = None
    for i, local in enumerate(layers):
        layer_path = join(path, local)
        layer = tree.containers.get(layer_path)
        if layer is None or len(layer.outputs) != 1 or set(layer.inputs) != set(features):
            return None
        entry = features[0]
        if i:
            entry = tree.leaf_of.get(join(layer_path, "concat1"))
            if entry is None or real.node(entry)["op"] != "concat" or \
                    real.inputs(entry) != features:
                return None
        made = _layer_class(planner, layer_path, entry, site, i > 0)
        if made is None or layer_class not in (None, made[0]):
            return None
        layer_class, out_ch = made
        growth = out_ch if growth is None else growth
        c_in = real.node(entry)["meta"]["shape"][0]
        if c_in != real.node(features[0])["meta"]["shape"][0] + i * growth or \
                out_ch != growth or str(out_ch) != str(growth):
            return None
        features.append(layer.outputs[0])
    if real.inputs(last) != features:
        return None
    if isinstance(growth, Sym) and growth.names() - {GROWTH}:
        return None  # the growth depends on the input channels
    step = str(growth)
    step = step if step.isidentifier() or step.isdigit() else f"({step})"
    body = (f"{INDENT}def __init__(self, {IN_CHANNELS}, n, {GROWTH}):\n"
            f"{INDENT * 2}super().__init__()\n"
            f"{INDENT * 2}for i in range(n):\n"
            f"{INDENT * 3}self.add_module(f\"denselayer{{i + 1}}\", "
            f"{layer_class}({IN_CHANNELS} + i * {step}, {GROWTH}))\n\n" + _FORWARD)
    return planner.source.register_class("nn.ModuleDict", body, "DenseBlock")


def _layer_class(planner, path: str, entry: int, site: DenseSite, concat: bool):
    """(the layer class, its output channels as a Sym over `in_channels` and `k`) from a
    probe of the layer at `path`, or None where the probe does not agree with it."""
    real = planner.network
    box = planner.tree.containers[path]
    planner.budget -= len(box.nodes)
    if planner.budget < 0:
        return None
    c_in, *rest = real.node(entry)["meta"]["shape"]
    shape = (Sym(IN_CHANNELS, c_in), *plain(tuple(rest)))
    seen = {name: plain(site.env.lookup(name)) for name in site.env.names()}
    env = Env(seen).child({GROWTH: Sym(GROWTH, int(site.k))})
    lowering = ProbeLowering(planner.spec, planner.blocks, network_env(real), shape)
    scope = real.node(min(box.nodes))["scope"][:path.count(".") + 1]
    frame = Frame(scope, "denselayer")
    if concat:
        frame.fresh("concat")  # the layer's own concat took this name
    lowering.calls = [s.block for s in scope if s.kind == "block"]
    body = site.body if site.body is not None else _dense_default()
    out = lowering.sequence(body, 0, frame, env)
    network = Network(lowering.graph, "probe", shape, out, aux_outputs=lowering.aux,
                      blocks=real.blocks, source=real.source)
    network = planner.fold_like_the_network(network, lowering)
    probe = Probe(path, None, network, lowering, ModuleTree(network))
    if path in probe.tree.containers:
        probe.tree.containers[path].kind = "plain"  # a class with a forward, whatever it holds
    for optional in lowering.optional:  # as in ParamPlanner.probe
        if probe.tree.ordered_children(optional.rsplit(".", 1)[0]) is None:
            return None
    if lowering.aux or not planner._agrees(path, probe, entry):
        return None
    name = DenseLayerSource(planner, probe).layer_class()
    return None if name is None else (name, network.node(out)["meta"]["shape"][0])


class DenseLayerSource(ProbeSource):
    """Writes a dense layer's class from its probe: `(self, in_channels, k)`, its forward
    taking the list of features."""

    def __init__(self, planner, probe: Probe) -> None:
        super().__init__(planner, probe, names={GROWTH: GROWTH})

    def layer_class(self) -> str | None:
        box = self.tree.containers.get(self.path)
        if box is None or box.inputs != [self.network.input]:
            return None
        constructor = self._constructor(self.path, f", {IN_CHANNELS}, {GROWTH}")
        forward = self._forward(self.path)
        head = f"{INDENT}def forward(self, x):\n"
        if not forward.startswith(head) or re.search(r"\bfeatures\b", forward):
            return None
        forward = (f"{INDENT}def forward(self, features: list[torch.Tensor]):\n"
                   f"{INDENT * 2}x = torch.cat(features, dim=1)\n" + forward[len(head):])
        return self.register_class("nn.Module", constructor + "\n" + forward, "DenseLayer")
