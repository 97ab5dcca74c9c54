"""The IR: a multigraph (ir/multigraph.py) with one node per layer, wrapped with what passes need.

Node attributes (set by lowering; passes never change them in place, they copy):
    op      the op's name in the ops table (`conv`, `add`, `input`, ...)
    opts    the resolved options (dict; see the op's OptionSpecs). Nodes with equal options
            may share one dict (`shared_options`): never change it in place, replace it
    span    where the layer was written (a Span), or None for the input
    scope   a tuple of `Scope`s from the network down to the layer's parent
    name    the dotted path of the layer in the generated module (`layer2.0.conv1`)
    meta    a dict the passes fill, under keys documented in cnndsl/passes/__init__.py
Edge attribute `index`: the position of the edge's source among the target's inputs.

# NOTE: parallel edges
# One tensor can feed a layer more than once: `concat< id | id >` concatenates x with itself
# and `add< id | id >` doubles it. Each use is its own edge, so the graph is a MultiDiGraph
# (a DiGraph would keep one edge of the two and the merge would lose an input). Read inputs
# with `Network.inputs` (one entry per edge, in index order) and readers with
# `Network.consumers` (each node once), never with `predecessors`/`successors` alone.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic
from ..syntax.source import Span
from .multigraph import MultiDiGraph


def shared_options(table: dict, op: str, opts: dict) -> dict:
    """`opts`, or the equal dict of the same op already in `table` (lowering's): most layers
    of a long network repeat a few option sets, and a dict each was a fifth of its memory.
    So a node's `opts` must never be changed in place (`Network.copy` unshares them).
    Only plain values are compared (by repr, where True and 1, 2 and 2.0 differ): the
    torch backend's probes put symbolic values that equal numbers in options."""
    if not _all_plain(opts.values()):
        return opts
    return table.setdefault((op, repr(opts)), opts)


def _all_plain(values) -> bool:
    # A loop, not all() over a generator: this runs for every option of every layer.
    for value in values:
        kind = type(value)
        if kind not in _PLAIN and (kind is not tuple or not _all_plain(value)):
            return False
    return True


_PLAIN = frozenset((int, float, bool, str, type(None)))


@dataclass(frozen=True)
class Scope:
    """One level of naming: a block call, a label, a branch, a dense layer, an aux head."""

    name: str
    kind: str  # block, label, branch, shortcut, dense, denselayer, aux
    block: str | None = None
    args: tuple[tuple[str, Any], ...] = ()
    span: Span | None = None


@dataclass(frozen=True)
class Contract:
    """An `assert` at a point of the network: `metric comparison value` about tensor `node`."""

    node: int
    metric: str
    comparison: str
    value: Any
    span: Span


@dataclass(repr=False)
class Network:
    """A lowered network: the graph plus what the passes add. (In a notebook it shows as
    its diagram: cnndsl/api.py gives it `_repr_svg_`, since the IR imports no backend.)"""

    graph: MultiDiGraph
    name: str
    input_shape: tuple[int, ...]
    output: int
    aux_outputs: list[int] = field(default_factory=list)
    extra_outputs: list[int] = field(default_factory=list)  # `output @a @b`: taps after the first
    output_names: list[str] = field(default_factory=list)  # as `output` names them
    init: str = "torch"  # the weight initialisation (`init resnet`)
    contracts: list[Contract] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, Any] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    source: Any = None

    # --- reading ---------------------------------------------------------------------
    def nodes(self) -> Iterator[int]:
        """Node ids in topological order (lowering numbers nodes in creation order)."""
        return iter(sorted(self.graph.nodes))

    def node(self, n: int) -> dict:
        return self.graph.nodes[n]

    def inputs(self, n: int) -> list[int]:
        """The nodes feeding `n`, one per edge, in input order (concat order): a node that
        feeds `n` twice appears twice (see NOTE: parallel edges)."""
        edges = self.graph.in_flat(n)  # (source, index, source, index, ...) as added
        if len(edges) == 2:  # the common case
            return [edges[0]]
        return [u for _, u in sorted(zip(edges[1::2], edges[::2]))]

    def consumers(self, n: int) -> list[int]:
        """The nodes reading `n`, each once however many of its inputs `n` is."""
        return sorted(set(self.graph.successors(n)))

    def is_identity(self, n: int) -> bool:
        """Whether `n` is a merge of one tensor (`concat< @x >`, `inception< conv k1 8 >`):
        the identity, which generated code writes as that tensor and BN folding looks
        through."""
        return self.graph.nodes[n]["op"] in ("concat", "add", "mul") and \
            len(self.inputs(n)) == 1

    def layers(self) -> Iterator[int]:
        """Every node except the input."""
        return (n for n in self.nodes() if self.graph.nodes[n]["op"] != "input")

    def by_name(self, name: str) -> int:
        for n in self.nodes():
            if self.graph.nodes[n]["name"] == name:
                return n
        raise KeyError(name)

    @property
    def input(self) -> int:
        return 0

    @property
    def outputs(self) -> list[int]:
        """What the network returns in eval mode: its output, then any further taps."""
        return [self.output, *self.extra_outputs]

    def main_nodes(self) -> set[int]:
        """Nodes the outputs depend on (what runs in eval mode)."""
        found = set(self.outputs)
        for out in self.outputs:
            found |= self.graph.ancestors(out)
        return found

    def __repr__(self) -> str:
        layers = sum(1 for _ in self.layers())
        out = "x".join(map(str, self.graph.nodes[self.output]["meta"]["shape"])) \
            if self.output in self.graph else "?"
        aux = f", {len(self.aux_outputs)} aux head{'s' if len(self.aux_outputs) > 1 else ''}" \
            if self.aux_outputs else ""
        return (f"<Network {self.name}: {'x'.join(map(str, self.input_shape))} -> {out}, "
                f"{layers} layer{'s' if layers != 1 else ''}{aux}>")

    # --- writing (passes work on a copy) --------------------------------------------------
    def for_pass(self, inplace: bool) -> Network:
        """What a pass annotates: a copy, or the network itself where the caller owns it and
        said so (`cnndsl.build` on the network lowering just made; see cnndsl/passes)."""
        return self if inplace else self.copy()

    def copy(self) -> Network:
        new = copy.copy(self)
        new.graph = self.graph.copy()
        for n in new.graph.nodes:
            attrs = new.graph.nodes[n]
            attrs["opts"] = dict(attrs["opts"])
            attrs["meta"] = dict(attrs["meta"])
        new.warnings = list(self.warnings)
        new.meta = dict(self.meta)
        new.aux_outputs = list(self.aux_outputs)
        return new

    def lint(self) -> list[str]:
        """Invariant violations (an empty list for a well-formed IR)."""
        problems = []
        g = self.graph
        if not g.is_multigraph():
            problems.append("the graph is not a MultiDiGraph (see NOTE: parallel edges)")
        if not g.is_acyclic():
            problems.append("the graph has a cycle")
        names = {}
        for n in g.nodes:
            attrs = g.nodes[n]
            for key in ("op", "opts", "scope", "name", "meta"):
                if key not in attrs:
                    problems.append(f"node {n} lacks `{key}`")
            if any(u >= n for u in g.predecessors(n)):
                problems.append(f"node {n} has an input numbered after it")
            indices = sorted(i for _, _, i in g.in_edges(n, data="index"))
            if indices != list(range(len(indices))):
                problems.append(f"node {n} has input indices {indices}")
            if attrs.get("op") != "input" and not indices:
                problems.append(f"node {n} ({attrs.get('name')}) has no input")
            name = attrs.get("name")
            if name in names:
                problems.append(f"nodes {names[name]} and {n} share the name {name!r}")
            names[name] = n
        if self.output not in g:
            problems.append("the output is not a node")
        return problems
