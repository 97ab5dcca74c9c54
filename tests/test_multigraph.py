"""The IR's own multigraph (cnndsl/ir/multigraph.py) against networkx's MultiDiGraph, which
it replaces for start-up time and memory, and the node attributes' mapping."""
import networkx as nx
import pytest

import cnndsl
from cnndsl.ir.graph import shared_options
from cnndsl.ir.multigraph import MultiDiGraph, NodeAttrs


def diamond_with_parallel_edges():
    g = MultiDiGraph()
    for n in range(5):
        g.add_node(n, op="x", opts={}, name=f"n{n}", meta={})
    for u, v, index in [(0, 1, 0), (0, 2, 0), (1, 3, 0), (2, 3, 1), (3, 4, 0), (3, 4, 1)]:
        g.add_edge(u, v, index=index)
    return g


def test_it_answers_as_networkx_does():
    g = diamond_with_parallel_edges()
    ref = g.to_networkx()
    assert isinstance(ref, nx.MultiDiGraph)
    assert list(g.nodes) == list(ref.nodes) and len(g) == len(ref) == g.number_of_nodes()
    assert g.number_of_edges() == ref.number_of_edges() == 6
    assert g.number_of_edges(3, 4) == ref.number_of_edges(3, 4) == 2
    for n in g:
        assert sorted(g.in_edges(n, data="index")) == sorted(ref.in_edges(n, data="index"))
        assert sorted(g.out_edges(n, data="index")) == sorted(ref.out_edges(n, data="index"))
        assert sorted(g.predecessors(n)) == sorted(ref.predecessors(n))
        assert sorted(g.successors(n)) == sorted(ref.successors(n))
        assert g.ancestors(n) == nx.ancestors(ref, n)
        assert dict(g.nodes[n]) == ref.nodes[n]
    assert g.is_acyclic() and nx.is_directed_acyclic_graph(ref)
    g.add_edge(4, 0, index=0)
    assert not g.is_acyclic()


def test_removing_a_node_removes_its_edges_and_copies_are_independent():
    g = diamond_with_parallel_edges()
    copy = g.copy()
    g.remove_node(3)
    assert 3 not in g and list(g.successors(1)) == [] and g.in_edges(4) == []
    assert g.number_of_edges() == 2
    assert 3 in copy and copy.number_of_edges() == 6
    copy.nodes[0]["name"] = "changed"
    assert g.nodes[0]["name"] == "n0"


def test_node_attributes_are_a_mapping():
    attrs = NodeAttrs({"op": "conv", "meta": {}, "extra": 1})
    assert attrs["op"] == "conv" and attrs.get("name") is None and "name" not in attrs
    assert "extra" in attrs and dict(attrs) == {"op": "conv", "meta": {}, "extra": 1}
    attrs["name"] = "conv1"
    del attrs["extra"]
    assert list(attrs) == ["op", "name", "meta"] and len(attrs) == 3
    assert attrs == {"op": "conv", "name": "conv1", "meta": {}}
    with pytest.raises(KeyError):
        attrs["extra"]
    with pytest.raises(KeyError):
        del attrs["span"]


def test_equal_plain_options_are_shared_and_others_not():
    table = {}
    a = shared_options(table, "conv", {"k": (3, 3), "bias": True})
    assert shared_options(table, "conv", {"k": (3, 3), "bias": True}) is a
    assert shared_options(table, "conv", {"k": (3, 3), "bias": 1}) is not a
    assert shared_options(table, "pool", {"k": (3, 3), "bias": True}) is not a

    class Symbol(int):
        pass
    sym = {"k": (Symbol(3), 3), "bias": True}
    assert shared_options(table, "conv", sym) is sym


def test_a_built_network_shares_option_dicts_and_its_copies_do_not(build_text):
    net = build_text("input 3x32x32\nconv k3 p1 8 relu conv k3 p1 8 relu\n")
    convs = [n for n in net.layers() if net.node(n)["op"] == "conv"]
    assert net.node(convs[0])["opts"] is net.node(convs[1])["opts"]
    copy = net.copy()
    assert copy.node(convs[0])["opts"] is not copy.node(convs[1])["opts"]
    assert cnndsl.build("input 3x32x32\nconv k3 8 bn conv k3 8\n").lint() == []
