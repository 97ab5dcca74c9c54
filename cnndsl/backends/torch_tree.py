"""The module tree of a network, read from its node names, and what flows through it.

A node named `layer2.0.conv1` is the leaf `conv1` of the container `layer2.0`, itself the
child `0` of the container `layer2`; the root container has the path "". A container's
inputs are the tensors made outside it that its nodes read (sorted by node), its outputs
the tensors made inside it that are read outside it or returned by the network.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from ..ir import Network


@dataclass
class Container:
    path: str
    children: list[str] = field(default_factory=list)  # local names, in order of first node
    nodes: set[int] = field(default_factory=set)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    kind: str = "plain"  # plain, sequential (a chain of numbered children), list (numbered)


def join(path: str, local: str) -> str:
    return f"{path}.{local}" if path else local


class ModuleTree:
    """Containers by path, and for each child of a container the nodes it holds."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.containers: dict[str, Container] = {"": Container("")}
        self.leaf_of: dict[str, int] = {}
        known: dict[str, set[str]] = {}  # children per path, for O(1) membership
        for n in network.layers():
            parts = network.node(n)["name"].split(".")
            self.leaf_of[network.node(n)["name"]] = n
            for depth in range(len(parts)):
                path = ".".join(parts[:depth])
                box = self.containers.setdefault(path, Container(path))
                box.nodes.add(n)
                if parts[depth] not in known.setdefault(path, set()):
                    known[path].add(parts[depth])
                    box.children.append(parts[depth])
        ends = {*network.outputs, *network.aux_outputs}
        for box in self.containers.values():
            box.inputs = sorted({u for n in box.nodes for u in network.inputs(n)
                                 if u not in box.nodes})
            box.outputs = sorted(n for n in box.nodes if n in ends or any(
                v not in box.nodes for v in network.consumers(n)))
        for box in self.containers.values():
            box.kind = self._kind(box)

    def is_container(self, path: str) -> bool:
        return path in self.containers

    def unit_nodes(self, path: str) -> set[int]:
        """The nodes a child holds: a container's nodes, or one leaf."""
        if path in self.containers:
            return self.containers[path].nodes
        return {self.leaf_of[path]}

    def unit_io(self, path: str) -> tuple[list[int], list[int]]:
        """A child's inputs (a leaf: in edge order) and outputs."""
        if path in self.containers:
            box = self.containers[path]
            return box.inputs, box.outputs
        n = self.leaf_of[path]
        return self.network.inputs(n), [n]

    def ordered_children(self, path: str) -> list[str] | None:
        """The children of a container in an order that computes them, or None where two
        children need each other's tensors (the caller then inlines every leaf)."""
        box = self.containers[path]
        owner = {}
        for local in box.children:
            for n in self.unit_nodes(join(path, local)):
                owner[n] = local
        deps = nx.DiGraph()
        deps.add_nodes_from(box.children)
        for n, local in owner.items():
            for u in self.network.inputs(n):
                if u in owner and owner[u] != local:
                    deps.add_edge(owner[u], local)
        if not nx.is_directed_acyclic_graph(deps):
            return None
        first = {local: i for i, local in enumerate(box.children)}  # children are unique
        return list(nx.lexicographical_topological_sort(deps, key=first.__getitem__))

    def _kind(self, box: Container) -> str:
        numbered = [c for c in box.children if c.isdigit()]
        if not box.path or not numbered or any(
                self.is_parameter(join(box.path, c)) for c in box.children):
            return "plain"  # a bare parameter needs a class to hold it
        if len(numbered) < len(box.children) or numbered != [str(i) for i in
                                                             range(len(numbered))]:
            return "plain"
        return "sequential" if self.is_chain(box) else "list"

    def is_chain(self, box: Container) -> bool:
        if len(box.inputs) != 1 or len(box.outputs) != 1:
            return False
        current = box.inputs[0]
        for local in box.children:
            path = join(box.path, local)
            ins, outs = self.unit_io(path)
            if ins != [current] or len(outs) != 1:
                return False
            if path not in self.containers and self._op(self.leaf_of[path]).torch is None:
                return False
            current = outs[0]
        return box.outputs == [current]

    def is_parameter(self, path: str) -> bool:
        """A leaf that is a bare nn.Parameter of its container (`layerscale`)."""
        return path not in self.containers and \
            bool(self._op(self.leaf_of[path]).extras.get("torch_parameter"))

    def _op(self, n: int):
        from ..ops import lookup

        return lookup(self.network.node(n)["op"])
