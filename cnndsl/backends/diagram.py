"""What an architecture diagram shows: the network's layers grouped into boxes and clusters.

This module decides the grouping; `cnndsl.backends.graphviz` draws it. Nothing here knows
about graphviz, and nothing here changes the network.

# NOTE: diagram grouping
# Scopes (labels, block calls, branches, dense blocks and layers, aux heads) form a tree.
# At depth d, a scope nested d levels deep or less is a cluster; a deeper scope becomes one
# box. Consecutive sibling boxes for scopes of the same block (or the same dense layer
# kind) with the same structure and output shape, each feeding the next, merge into one
# box `bottleneck x5` carrying the run's summed figures: how a paper's table writes stages.
# Inside a cluster, a chain of layers is folded into one box around its one "heavy" layer
# (conv, pool, fc, ...): normalisations, activations, dropout and flatten read as part of
# it (`conv 3x3, 64 · bn · relu`), as paper figures draw them. Lights following a heavy
# layer join it; in a chain that opens with lights and ends with a heavy layer (DenseNet's
# pre-activation `bn relu conv bn relu conv`) lights join the heavy layer after them;
# lights right after a merge, with no heavy layer after them, join the merge (`+ · relu`).
# The default depth is the deepest one whose diagram stays at most DEFAULT_BOX_LIMIT
# boxes, so a ResNet-152 shows its stages, each as a few `bottleneck xN` boxes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.graph import Network, Scope
from ..ops import lookup

DEFAULT_BOX_LIMIT = 60
LIGHT_FAMILIES = ("norm", "activation")
LIGHT_OPS = ("dropout", "flatten", "droppath", "nhwc", "nchw")
RUN_KINDS = ("block", "denselayer")


@dataclass
class ScopeNode:
    """A scope and what it directly holds: layer ids and child scopes, in network order."""

    path: tuple[str, ...]
    scope: Scope | None
    members: list = field(default_factory=list)  # int (a layer) or ScopeNode
    outer: tuple[Scope, ...] = ()  # scopes that held nothing but this one (absorbed)

    @property
    def title_scope(self) -> Scope | None:
        """The scope that names it: the outermost of a chain of wrappers."""
        return self.outer[0] if self.outer else self.scope

    @property
    def is_aux(self) -> bool:
        return any(s.kind == "aux" for s in (*self.outer, self.scope) if s is not None)

    def layers(self) -> list[int]:
        """Every layer inside, however deep."""
        found = []
        for m in self.members:
            found.extend(m.layers() if isinstance(m, ScopeNode) else [m])
        return sorted(found)

    def height(self) -> int:
        return 1 + max((m.height() for m in self.members if isinstance(m, ScopeNode)),
                       default=0)


@dataclass
class Box:
    """One drawn node: a folded chain of layers, a merge, or a collapsed scope (run)."""

    key: str
    kind: str  # layer, merge, scope, input, output
    nodes: list[int]
    scopes: list[ScopeNode] = field(default_factory=list)  # for kind == scope: the run
    aux: bool = False
    named_by: ScopeNode | None = None  # the scope it alone fills, if any


@dataclass
class Cluster:
    """A scope drawn as a frame around its contents."""

    key: str
    scope: ScopeNode
    children: list = field(default_factory=list)  # Box or Cluster
    aux: bool = False


@dataclass
class Edge:
    tail: str
    head: str
    source: int  # the IR node whose output the edge carries
    aux: bool = False


@dataclass
class Diagram:
    network: Network
    depth: int
    max_depth: int
    root: Cluster
    boxes: dict[str, Box]
    edges: list[Edge]

    def box_count(self) -> int:
        return len(self.boxes)


def scope_tree(network: Network) -> ScopeNode:
    root = ScopeNode((), None)
    index: dict[tuple[str, ...], ScopeNode] = {(): root}
    for n in network.layers():
        scopes = network.node(n)["scope"]
        parent = root
        for level, scope in enumerate(scopes, 1):
            path = tuple(s.name for s in scopes[:level])
            if path not in index:
                index[path] = ScopeNode(path, scope)
                parent.members.append(index[path])
            parent = index[path]
        parent.members.append(n)
    _absorb_wrappers(root)
    return root


def _absorb_wrappers(node: ScopeNode) -> None:
    """A scope holding only one scope (`inception3a: module(...)` calling `v1_module`) is
    drawn once, named by the outer and holding what the inner holds."""
    for member in node.members:
        if not isinstance(member, ScopeNode):
            continue
        while len(member.members) == 1 and isinstance(member.members[0], ScopeNode):
            inner = member.members[0]
            member.outer = (*member.outer, member.scope, *inner.outer)
            member.path, member.scope, member.members = inner.path, inner.scope, inner.members
        _absorb_wrappers(member)


def layout(network: Network, depth: int | None = None) -> Diagram:
    """The diagram of `network` with scopes expanded `depth` levels (None: automatic)."""
    tree = scope_tree(network)
    max_depth = tree.height() - 1
    if depth is None:
        depth = _default_depth(network, tree, max_depth)
    depth = max(0, min(depth, max_depth))
    return _Builder(network, tree).build(depth, max_depth)


def _default_depth(network: Network, tree: ScopeNode, max_depth: int) -> int:
    for depth in range(max_depth, 0, -1):
        if _Builder(network, tree).build(depth, max_depth).box_count() <= DEFAULT_BOX_LIMIT:
            return depth
    return min(1, max_depth)


def contents(network: Network, tree: ScopeNode, scope: ScopeNode) -> list[Box]:
    """What `scope` holds, one box per item at the next level (for a collapsed box's rows)."""
    level = len(scope.path)
    return _Builder(network, tree)._fill(scope, level, level)


def is_light(network: Network, n: int) -> bool:
    op = network.node(n)["op"]
    spec = lookup(op)
    return op in LIGHT_OPS or (spec is not None and spec.family in LIGHT_FAMILIES)


def is_merge(network: Network, n: int) -> bool:
    spec = lookup(network.node(n)["op"])
    return spec is not None and spec.family == "merge"


class _Builder:
    def __init__(self, network: Network, tree: ScopeNode) -> None:
        self.net = network
        self.tree = tree
        self.boxes: dict[str, Box] = {}
        self.owner: dict[int, str] = {}
        self.aux_nodes = set(network.graph.nodes) - network.main_nodes()

    def build(self, depth: int, max_depth: int) -> Diagram:
        root = Cluster("root", self.tree)
        self._add_box(Box("input", "input", [self.net.input]))
        root.children.append(self.boxes["input"])
        root.children.extend(self._fill(self.tree, 0, depth))
        taps = self.net.outputs
        outputs = [*taps, *self.net.aux_outputs]
        for i, n in enumerate(outputs):
            key = "output" if i == 0 else f"output{i + 1}" if i < len(taps) else \
                f"output_aux{i - len(taps) + 1}"
            root.children.append(self._add_box(Box(key, "output", [n], aux=i >= len(taps))))
        return Diagram(self.net, depth, max_depth, root, self.boxes, self._edges(outputs))

    # --- grouping -----------------------------------------------------------------------
    def _fill(self, scope: ScopeNode, level: int, depth: int) -> list:
        children: list = []
        pending: list[int] = []
        for member in scope.members:
            if isinstance(member, int):
                pending.append(member)
                continue
            children.extend(self._fold(pending))
            pending = []
            if level + 1 <= depth:
                inside = self._fill(member, level + 1, depth)
                if len(inside) == 1 and isinstance(inside[0], Box):
                    inside[0].named_by = member  # a frame around one box says nothing more
                    children.append(inside[0])
                    continue
                cluster = Cluster("cluster_" + "_".join(member.path), member,
                                  aux=member.is_aux)
                cluster.children = inside
                children.append(cluster)
            else:
                children.append(member)
        children.extend(self._fold(pending))
        return self._collapse_runs(children)

    def _collapse_runs(self, children: list) -> list:
        """Turn collapsed scopes (ScopeNodes left in `children`) into boxes, merging runs."""
        out: list = []
        run: list[ScopeNode] = []
        for child in children + [None]:
            if isinstance(child, ScopeNode) and run and self._continues(run[-1], child):
                run.append(child)
                continue
            if run:
                out.append(self._scope_box(run))
                run = []
            if isinstance(child, ScopeNode):
                run = [child]
            elif child is not None:
                out.append(child)
        return out

    def _continues(self, previous: ScopeNode, scope: ScopeNode) -> bool:
        if scope.outer or scope.scope.kind not in RUN_KINDS or self.signature(scope) != \
                self.signature(previous):
            return False
        inside = set(previous.layers())
        first = scope.layers()[0]
        feeds = self.net.inputs(first)
        return previous.layers()[-1] in feeds or (bool(feeds) and set(feeds) <= inside)

    def signature(self, scope: ScopeNode) -> tuple:
        """What makes two scopes the same box: block, structure, options, output shape."""
        layers = scope.layers()
        depth = len(scope.path)
        body = []
        for n in layers:
            attrs = self.net.node(n)
            rel = tuple(s.name for s in attrs["scope"][depth:])
            if not is_merge(self.net, n):  # dense layers differ only in their concat
                body.append((attrs["op"], rel, repr(sorted(attrs["opts"].items()))))
        last = self.net.node(layers[-1])["meta"].get("shape")
        return (scope.scope.kind, scope.scope.block, tuple(body), last)

    def _scope_box(self, run: list[ScopeNode]) -> Box:
        key = "s_" + "_".join(run[0].path)
        nodes = [n for scope in run for n in scope.layers()]
        return self._add_box(Box(key, "scope", nodes, scopes=run,
                                 aux=run[0].is_aux or
                                 all(n in self.aux_nodes for n in nodes)))

    def _fold(self, layers: list[int]) -> list[Box]:
        """Layers of one scope, folded into chains around their heavy layer (see NOTE)."""
        boxes: list[Box] = []
        for chain in self._chains(layers):
            for group in self._split(chain):
                kind = "merge" if is_merge(self.net, group[0]) else "layer"
                key = f"n{group[0]}"
                boxes.append(self._add_box(Box(key, kind, group,
                                               aux=all(n in self.aux_nodes for n in group))))
        return boxes

    def _chains(self, layers: list[int]) -> list[list[int]]:
        """Maximal runs where each layer is the only consumer of the one before."""
        chains: list[list[int]] = []
        members = set(layers)
        for n in layers:
            ins = self.net.inputs(n)
            prev = chains[-1][-1] if chains else None
            if prev is not None and ins == [prev] and self.net.consumers(prev) == [n] \
                    and not is_merge(self.net, n) and prev in members:
                chains[-1].append(n)
            else:
                chains.append([n])
        return chains

    def _split(self, chain: list[int]) -> list[list[int]]:
        heavy = [i for i, n in enumerate(chain) if not is_light(self.net, n)]
        if is_merge(self.net, chain[0]) and len(heavy) > 1:
            return [chain[:1], *self._split(chain[1:])]
        if not heavy:
            return [chain]
        if heavy[0] != 0 and heavy[-1] == len(chain) - 1:
            # Pre-activation (`bn relu conv bn relu conv`): lights join the heavy layer after.
            starts = [0] + [h + 1 for h in heavy[:-1]]
        else:
            starts = [0] + heavy[1:]  # lights join the heavy layer before them
        bounds = starts + [len(chain)]
        return [chain[a:b] for a, b in zip(bounds, bounds[1:])]

    def _add_box(self, box: Box) -> Box:
        self.boxes[box.key] = box
        for n in box.nodes:
            self.owner.setdefault(n, box.key)
        return box

    # --- edges --------------------------------------------------------------------------
    def _edges(self, outputs: list[int]) -> list[Edge]:
        edges: list[Edge] = []
        seen: set[tuple[str, str, int]] = set()
        pairs = sorted(self._drawn_edges()) + [(n, None) for n in outputs]
        repeat = 0
        for i, (u, v) in enumerate(pairs):
            # A tensor read twice by one layer (`concat< id | id >`) is drawn twice.
            repeat = repeat + 1 if i and pairs[i - 1] == (u, v) else 0
            tail = self.owner[u]
            head = self._output_key(v, outputs, u) if v is None else self.owner[v]
            if tail == head or (tail, head, repeat) in seen:
                continue
            seen.add((tail, head, repeat))
            aux = (v is not None and v in self.aux_nodes) or \
                (v is None and u in self.aux_nodes)
            edges.append(Edge(tail, head, u, aux))
        return edges

    def _drawn_edges(self) -> list[tuple[int, int]]:
        """The IR's edges, with DenseNet's growing concatenations drawn as a chain.

        A concat whose inputs begin with all of an earlier concat's inputs is drawn fed by
        that concat plus the rest: concat(concat(a, b), c) is concat(a, b, c), and a dense
        block keeps a linear number of edges instead of a quadratic one (which `dot` takes
        minutes to lay out).
        """
        by_inputs: dict[tuple[int, ...], int] = {}
        pairs = []
        for v in self.net.nodes():
            ins = self.net.inputs(v)
            if self.net.node(v)["op"] == "concat":
                for k in range(len(ins) - 1, 1, -1):
                    earlier = by_inputs.get(tuple(ins[:k]))
                    if earlier is not None:
                        ins = [earlier, *ins[k:]]
                        break
                by_inputs[tuple(self.net.inputs(v))] = v
            pairs.extend((u, v) for u in ins)
        return pairs

    @staticmethod
    def _output_key(v, outputs: list[int], u: int) -> str:
        i = outputs.index(u)
        return "output" if i == 0 else f"output_aux{i}"
