"""Fold BatchNorm layers into the layer next to them, for inference code.

# NOTE: which bn folds
# A bn folds into the conv, deconv or fc that feeds it when that layer feeds nothing else:
# in eval mode the bn is a per-channel affine map of that layer's output, so scaling the
# weights and shifting the bias gives the same result. A bn also folds forward into the conv
# it alone feeds when that conv has no padding and no groups: the conv then only ever sees
# normalised values, so the affine map moves into its weights. With padding it does not fold,
# because the padded zeros were never normalised and would turn into a per-channel shift.
# `fold_plan` decides; the IR pass and `cnndsl.fuse_bn` (on trained weights) both follow it.
"""
from __future__ import annotations

from ..ir import Network

FOLDS_AFTER = ("conv", "deconv", "fc")


def fold_plan(network: Network) -> list[tuple[int, int, str]]:
    """(layer, bn, "after" | "before") for every bn that folds, in node order. A merge of
    one tensor (`inception< conv k1 8 >`: the generated module has no torch.cat there) is
    the identity, and the rules look through it."""
    ends = {*network.outputs, *network.aux_outputs}
    plan, used = [], set()
    for bn in network.nodes():
        if network.node(bn)["op"] != "bn":
            continue
        reader, src = bn, network.inputs(bn)[0]
        while network.is_identity(src) and network.consumers(src) == [reader] \
                and src not in ends:
            reader, src = src, network.inputs(src)[0]
        if (network.node(src)["op"] in FOLDS_AFTER and network.consumers(src) == [reader]
                and src not in ends):
            plan.append((src, bn, "after"))
            used.add(bn)
    for bn in network.nodes():
        if network.node(bn)["op"] != "bn" or bn in used or bn in ends:
            continue
        consumers = network.consumers(bn)
        while len(consumers) == 1 and network.is_identity(consumers[0]) \
                and consumers[0] not in ends:
            consumers = network.consumers(consumers[0])
        if len(consumers) == 1 and _takes_bn_before(network, consumers[0]):
            plan.append((consumers[0], bn, "before"))
    return sorted(plan, key=lambda fold: fold[1])


def _takes_bn_before(network: Network, n: int) -> bool:
    attrs = network.node(n)
    opts = attrs["opts"]
    return (attrs["op"] == "conv" and opts["p"] == (0, 0) and not opts.get("p_after")
            and opts["g"] == 1 and opts.get("table") is None)


def fold_batchnorm(network: Network, **opts) -> Network:
    """A copy of `network` with every foldable bn removed and its layer given a bias."""
    new = network.copy()
    g = new.graph
    for layer, bn, _ in fold_plan(network):
        # The bn's readers read what it read: the layer (after), or what the bn normalised,
        # which the layer now reads (before); a one-tensor merge between them stays.
        source = new.inputs(bn)[0]
        for _, consumer, index in list(g.out_edges(bn, data="index")):
            g.add_edge(source, consumer, index=index)
        g.remove_node(bn)
        attrs = g.nodes[layer]
        attrs["opts"]["bias"] = True
        attrs["meta"] = {"shape": attrs["meta"]["shape"],
                         "folded": (*attrs["meta"].get("folded", ()), network.node(bn)["name"])}
        _redirect(new, bn, source)
    return new


def _redirect(network: Network, old: int, new: int) -> None:
    """Point the outputs and contracts that named the removed bn at its layer."""
    import dataclasses

    if network.output == old:
        network.output = new
    network.aux_outputs = [new if a == old else a for a in network.aux_outputs]
    network.extra_outputs = [new if a == old else a for a in network.extra_outputs]
    network.contracts = [dataclasses.replace(c, node=new) if c.node == old else c
                         for c in network.contracts]
