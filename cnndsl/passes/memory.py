"""memory: an estimate of the memory one training step needs.

Options: `batch` (default 1), `optimizer` (`sgd`, `momentum`, `rmsprop`, `adagrad`,
`adam` or `adamw`; default `sgd`), `dtype` (`fp32`, `fp16`, `bf16` or `fp64`: the dtype
the whole module and its inputs are in, as after `model.half()`; default `fp32`).
Per node: `meta["saved_bytes"]`, what autograd keeps of this node for backward (one
example). Network: `network.meta["memory"]` with `params_bytes`, `activations_bytes`,
`saved_bytes` (per example), `training_bytes`, `batch`, `optimizer` and `dtype`.

# NOTE: training memory
# training_bytes = P·(2 + m) + B·S, with P the parameter bytes (weights, and as much again
# for their gradients), m the optimizer's state per parameter in torch.optim with its
# defaults (sgd 0; momentum 1, its buffer; rmsprop 1, square_avg; adagrad 1, sum; adam and
# adamw 2, exp_avg and exp_avg_sq; each state tensor in the parameters' dtype),
# B the batch size and S the bytes autograd saves for backward per example: each tensor
# that some op keeps (the op's `saves` rule: its inputs, its output, int64 pooling indices,
# a byte-per-element dropout mask, an intermediate), counted once however many ops keep it
# (a view such as `flatten` is its input's tensor). Aux heads are included: they run in
# training. Left out: parameters saved by reference, per-channel statistics (batchnorm
# mean and inverse std), gradients in flight and the allocator's slack. Values take the
# dtype's bytes (fp32 4, fp16 and bf16 2, fp64 8); pooling indices stay int64 and dropout
# masks one byte. tests/test_analysis_torch.py checks S against torch's saved tensors
# within 2%, in each dtype, and m against the state torch.optim keeps.
"""
from __future__ import annotations

import math

from ..errors import CnnUsageError
from ..ops import lookup
from .count import BYTES_PER_VALUE

# copies of the parameters each optimizer keeps (see NOTE: training memory)
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "rmsprop": 1, "adagrad": 1, "adam": 2, "adamw": 2}
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "fp64": 8}


def memory(network, *, batch: int = 1, optimizer: str = "sgd", dtype: str = "fp32",
           inplace: bool = False, **_opts):
    if optimizer not in OPTIMIZER_STATE:
        raise CnnUsageError(f"unknown optimizer {optimizer!r}",
                            hint="choose one of " + ", ".join(OPTIMIZER_STATE))
    if dtype not in DTYPE_BYTES:
        raise CnnUsageError(f"unknown dtype {dtype!r}",
                            hint="choose one of " + ", ".join(DTYPE_BYTES))
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise CnnUsageError(f"the batch size must be a positive integer, got {batch!r}")
    net = network.for_pass(inplace)
    width = DTYPE_BYTES[dtype]
    saved: dict = {}  # tensor owner -> bytes; a node's extras keyed by (node, kind)
    nodes = net.graph.nodes  # their fields read as attributes (see NodeAttrs)
    for n in net.nodes():
        mine = _saved_tensors(net, n, width)
        saved.update(mine)
        nodes[n].meta["saved_bytes"] = sum(mine.values())
    per_example = sum(saved.values())
    params_bytes = width * sum(attrs.meta["params"] for attrs in nodes.values())
    net.meta["memory"] = {
        "params_bytes": net.meta["params_bytes"] // BYTES_PER_VALUE * width,
        "activations_bytes": net.meta["activations_bytes"] // BYTES_PER_VALUE * width,
        "saved_bytes": per_example,
        "training_bytes": params_bytes * (2 + OPTIMIZER_STATE[optimizer]) + batch * per_example,
        "batch": batch,
        "optimizer": optimizer,
        "dtype": dtype,
    }
    return net


def _saved_tensors(net, n, width: int = BYTES_PER_VALUE) -> dict:
    """The tensors node `n` keeps for backward, keyed by the node that owns their memory."""
    nodes = net.graph.nodes
    attrs = nodes[n]
    spec = lookup(attrs.op)
    out = attrs.meta["shape"]
    tokens = spec.saves
    if callable(tokens):
        ins = [nodes[i].meta["shape"] for i in net.inputs(n)]
        tokens = tokens(attrs.opts, ins, out)
    kept = {}
    for what in tokens:
        if what == "input":
            for i in net.inputs(n):
                owner = _owner(net, i)
                kept[owner] = width * math.prod(nodes[owner].meta["shape"])
        elif what == "output":
            owner = _owner(net, n)
            kept[owner] = width * math.prod(nodes[owner].meta["shape"])
        elif what == "indices":
            kept[(n, what)] = 8 * math.prod(out)
        elif what == "mask":
            kept[(n, what)] = math.prod(out)
        elif what == "scratch":
            kept[(n, what)] = width * math.prod(out)
        elif isinstance(what, tuple) and what[0] == "scratch":
            kept[(n, what)] = width * what[1]
    return kept


def _owner(net, n) -> int:
    """The node whose output memory `n`'s output is (itself, unless it is a view)."""
    nodes = net.graph.nodes
    while lookup(nodes[n].op).view:
        n = net.inputs(n)[0]
    return n
