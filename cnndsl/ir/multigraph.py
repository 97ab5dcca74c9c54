"""The IR's graph store: a directed multigraph with the part of networkx's API cnndsl uses.

# NOTE: why not networkx.MultiDiGraph
# Importing networkx takes about 8x the start-up of a bare `python` (it loads every
# algorithm module and scans entry points for backends), so a `cnndsl check` of a small
# spec spent most of its time there (issue 17). The IR needs only nodes with attribute
# dicts and edges with their input `index`, so it keeps them here, under the names
# networkx uses (`nodes[n]`, `add_node`, `add_edge`, `in_edges`, ...), and code that wants
# networkx's algorithms converts with `to_networkx()` (which imports networkx then).
# A node's edges are one flat tuple (neighbour, index, neighbour, index, ...) rather than
# networkx's three levels of dicts per edge: a third of the memory of a lowered layer.
"""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping


class MultiDiGraph:
    """Nodes (ints) with attribute dicts; edges u -> v, each with its input `index`, and
    as many edges between the same two nodes as there are uses (see NOTE: parallel edges
    in graph.py)."""

    __slots__ = ("_node", "_in", "_out")

    def __init__(self) -> None:
        self._node: dict[int, dict] = {}
        self._in: dict[int, tuple[int, ...]] = {}   # v -> (u, index, u, index, ...)
        self._out: dict[int, tuple[int, ...]] = {}  # u -> (v, index, v, index, ...)

    # --- nodes ----------------------------------------------------------------------------
    @property
    def nodes(self) -> dict[int, dict]:
        """Node id -> attribute dict (iterating gives the ids, in insertion order)."""
        return self._node

    def __contains__(self, n) -> bool:
        return n in self._node

    def __iter__(self) -> Iterator[int]:
        return iter(self._node)

    def __len__(self) -> int:
        return len(self._node)

    def number_of_nodes(self) -> int:
        return len(self._node)

    def add_node(self, n: int, **attrs) -> None:
        if n in self._node:
            self._node[n].update(attrs)
            return
        self._node[n] = NodeAttrs(attrs)
        self._in[n] = ()
        self._out[n] = ()

    def remove_node(self, n: int) -> None:
        for u, _ in _pairs(self._in.pop(n)):
            self._out[u] = _flat((v, i) for v, i in _pairs(self._out[u]) if v != n)
        for v, _ in _pairs(self._out.pop(n)):
            self._in[v] = _flat((u, i) for u, i in _pairs(self._in[v]) if u != n)
        del self._node[n]

    # --- edges ----------------------------------------------------------------------------
    def add_edge(self, u: int, v: int, *, index: int) -> None:
        for n in (u, v):
            if n not in self._node:
                self.add_node(n)
        self._out[u] += (v, index)
        self._in[v] += (u, index)

    def number_of_edges(self, u: int | None = None, v: int | None = None) -> int:
        if u is None:
            return sum(len(edges) for edges in self._in.values()) // 2
        return self._out.get(u, ())[::2].count(v)

    def in_edges(self, n: int, data: str | bool = False) -> list[tuple]:
        """(u, n) per edge into `n`, or (u, n, index) with `data="index"`."""
        if data:
            return [(u, n, i) for u, i in _pairs(self._in[n])]
        return [(u, n) for u in self._in[n][::2]]

    def out_edges(self, n: int, data: str | bool = False) -> list[tuple]:
        if data:
            return [(n, v, i) for v, i in _pairs(self._out[n])]
        return [(n, v) for v in self._out[n][::2]]

    def out_degree(self, n: int) -> int:
        """How many edges leave `n` (a node read twice by one layer counts twice)."""
        return len(self._out[n]) // 2

    def in_degree(self, n: int) -> int:
        return len(self._in[n]) // 2

    def in_flat(self, n: int) -> tuple[int, ...]:
        """The edges into `n` as stored: (u, index, u, index, ...) in the order added."""
        return self._in[n]

    def out_flat(self, n: int) -> tuple[int, ...]:
        """The edges out of `n` as stored: (v, index, v, index, ...) in the order added."""
        return self._out[n]

    def predecessors(self, n: int) -> Iterator[int]:
        """Each node with an edge into `n`, once."""
        return iter(dict.fromkeys(self._in[n][::2]))

    def successors(self, n: int) -> Iterator[int]:
        return iter(dict.fromkeys(self._out[n][::2]))

    def is_multigraph(self) -> bool:
        return True

    def is_directed(self) -> bool:
        return True

    # --- whole graph ----------------------------------------------------------------------
    def copy(self) -> MultiDiGraph:
        """The same nodes and edges; each node's attribute dict copied (not deeply)."""
        new = MultiDiGraph()
        new._node = {n: NodeAttrs(attrs) for n, attrs in self._node.items()}
        new._in = dict(self._in)  # the edge tuples are immutable: shared
        new._out = dict(self._out)
        return new

    def ancestors(self, n: int) -> set[int]:
        """Every node with a path to `n` (not `n` itself)."""
        seen: set[int] = set()
        todo = [n]
        while todo:
            for u in self._in[todo.pop()][::2]:
                if u not in seen:
                    seen.add(u)
                    todo.append(u)
        return seen

    def is_acyclic(self) -> bool:
        """Whether the graph has no directed cycle (Kahn's algorithm)."""
        waiting = {n: len(edges) // 2 for n, edges in self._in.items()}
        ready = [n for n, count in waiting.items() if count == 0]
        done = 0
        while ready:
            u = ready.pop()
            done += 1
            for v in self._out[u][::2]:
                waiting[v] -= 1
                if waiting[v] == 0:
                    ready.append(v)
        return done == len(self._node)

    def to_networkx(self):
        """The same graph as a `networkx.MultiDiGraph` (sharing the attribute dicts' values),
        for networkx's algorithms."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for n, attrs in self._node.items():
            g.add_node(n, **attrs)
        for v, edges in self._in.items():
            for u, index in _pairs(edges):
                g.add_edge(u, v, index=index)
        return g


class NodeAttrs(MutableMapping):
    """A node's attributes: a mapping, as networkx's are dicts, but the attributes every
    node has (see ir/graph.py) are slots (a dict of them was the largest object of a node),
    and any others go to a dict made when first needed. The per-node loops of lowering and
    the passes read those fields as attributes (`attrs.op`, `attrs.meta`): `attrs["op"]` is
    a call of the Python method below, and they make several a node."""

    __slots__ = ("op", "opts", "span", "scope", "name", "meta", "_more")

    def __init__(self, attrs=()) -> None:
        self._more = None
        for key, value in dict(attrs).items():
            if key in _SLOT_SET:  # __setitem__ inline: one node per layer is made here
                setattr(self, key, value)
            else:
                self[key] = value

    def __getitem__(self, key):
        if key in _SLOT_SET:
            try:
                return getattr(self, key)
            except AttributeError:
                raise KeyError(key) from None
        if self._more is None:
            raise KeyError(key)
        return self._more[key]

    def __setitem__(self, key, value) -> None:
        if key in _SLOT_SET:
            setattr(self, key, value)
        elif self._more is None:
            self._more = {key: value}
        else:
            self._more[key] = value

    def __delitem__(self, key) -> None:
        if key in _SLOT_SET:
            try:
                delattr(self, key)
            except AttributeError:
                raise KeyError(key) from None
        elif self._more is None:
            raise KeyError(key)
        else:
            del self._more[key]

    def __iter__(self):
        for key in _SLOTS:
            if hasattr(self, key):
                yield key
        if self._more is not None:
            yield from self._more

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return repr(dict(self))

    def copy(self) -> NodeAttrs:
        return NodeAttrs(self)


_SLOTS = ("op", "opts", "span", "scope", "name", "meta")
_SLOT_SET = frozenset(_SLOTS)


def _pairs(flat: tuple[int, ...]):
    return zip(flat[::2], flat[1::2])


def _flat(pairs) -> tuple[int, ...]:
    return tuple(x for pair in pairs for x in pair)
