"""memory: an estimate of the memory one training step needs.

Options: `batch` (default 1), `optimizer` (`sgd`, `momentum` or `adam`; default `sgd`).
Per node: `meta["saved_bytes"]`, what autograd keeps of this node for backward (one
example). Network: `network.meta["memory"]` with `params_bytes`, `activations_bytes`,
`saved_bytes` (per example), `training_bytes`, `batch` and `optimizer`.

# NOTE: training memory
# training_bytes = P·(2 + m) + B·S, with P the parameter bytes (weights, and as much again
# for their gradients), m the optimizer's state per parameter (sgd 0, momentum 1, adam 2),
# B the batch size and S the bytes autograd saves for backward per example: each tensor
# that some op keeps (the op's `saves` rule: its inputs, its output, int64 pooling indices,
# a byte-per-element dropout mask, an intermediate), counted once however many ops keep it
# (a view such as `flatten` is its input's tensor). Aux heads are included: they run in
# training. Left out: parameters saved by reference, per-channel statistics (batchnorm
# mean and inverse std), gradients in flight and the allocator's slack;
# tests/test_analysis_torch.py checks S against torch's saved tensors within 2%.
"""
from __future__ import annotations

import math

from ..errors import CnnUsageError
from ..ops import lookup
from .count import BYTES_PER_VALUE

OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}  # copies of the parameters


def memory(network, *, batch: int = 1, optimizer: str = "sgd", inplace: bool = False,
           **_opts):
    if optimizer not in OPTIMIZER_STATE:
        raise CnnUsageError(f"unknown optimizer {optimizer!r}",
                            hint="choose one of " + ", ".join(OPTIMIZER_STATE))
    if not isinstance(batch, int) or batch < 1:
        raise CnnUsageError(f"the batch size must be a positive integer, got {batch!r}")
    net = network.for_pass(inplace)
    saved: dict = {}  # tensor owner -> bytes; a node's extras keyed by (node, kind)
    for n in net.nodes():
        mine = _saved_tensors(net, n)
        saved.update(mine)
        net.node(n)["meta"]["saved_bytes"] = sum(mine.values())
    per_example = sum(saved.values())
    params_bytes = BYTES_PER_VALUE * sum(net.node(n)["meta"]["params"] for n in net.nodes())
    net.meta["memory"] = {
        "params_bytes": net.meta["params_bytes"],
        "activations_bytes": net.meta["activations_bytes"],
        "saved_bytes": per_example,
        "training_bytes": params_bytes * (2 + OPTIMIZER_STATE[optimizer]) + batch * per_example,
        "batch": batch,
        "optimizer": optimizer,
    }
    return net


def _saved_tensors(net, n) -> dict:
    """The tensors node `n` keeps for backward, keyed by the node that owns their memory."""
    attrs = net.node(n)
    spec = lookup(attrs["op"])
    out = attrs["meta"]["shape"]
    elements = math.prod(out)
    tokens = spec.saves
    if callable(tokens):
        ins = [net.node(i)["meta"]["shape"] for i in net.inputs(n)]
        tokens = tokens(attrs["opts"], ins, out)
    kept = {}
    for what in tokens:
        if what == "input":
            for i in net.inputs(n):
                owner = _owner(net, i)
                kept[owner] = net.node(owner)["meta"]["activation_bytes"]
        elif what == "output":
            kept[_owner(net, n)] = net.node(n)["meta"]["activation_bytes"]
        elif what == "indices":
            kept[(n, what)] = 8 * elements
        elif what == "mask":
            kept[(n, what)] = elements
        elif what == "scratch":
            kept[(n, what)] = BYTES_PER_VALUE * elements
        elif isinstance(what, tuple) and what[0] == "scratch":
            kept[(n, what)] = BYTES_PER_VALUE * what[1]
    return kept


def _owner(net, n) -> int:
    """The node whose output memory `n`'s output is (itself, unless it is a view)."""
    while lookup(net.node(n)["op"]).view:
        n = net.inputs(n)[0]
    return n
