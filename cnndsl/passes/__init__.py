"""Passes: functions `(network, **opts) -> network` that annotate or rewrite a copy.

A pass never changes the network it is given, except with `inplace=True`: a caller that
owns the network (`cnndsl.build`, on what lowering just made) lets the annotating passes
write into it instead of copying it once each; it also passes `lowered=True` when the
network is lowering's output, unchanged (infer_shapes then keeps the shapes lowering
computed by the same rules). The pipeline that `cnndsl.build` runs is `PIPELINE`, in order.

Meta keys, per node (`network.node(n)["meta"]`):
    shape   tuple: output shape, (C, H, W) or (F,)               lowering / infer_shapes
    rf      (RfAxis, RfAxis): (size, jump, start) for H and W    receptive_field
    rf_global  bool: some path saw the whole input               receptive_field
    rf_global_branch  bool: a spatial map a global branch fed    receptive_field
    params, macs, connections  int                               count
    activation_bytes  int: the output tensor, fp32, one example  count
    saved_bytes  int: what autograd keeps of it for backward     memory

Network keys (`network.meta`): `params`, `macs`, `flops`, `connections`, `params_bytes`,
`activations_bytes`, `aux {params, macs}` (count); `memory {...}` (memory); `fully_conv`,
the names of the fc layers it turned into convs (fully_conv, which `cnndsl.build` runs
before the pipeline when asked: passes/fully_conv.py).
"""
from .check_contracts import check_contracts
from .count import count
from .infer_shapes import infer_shapes
from .memory import memory
from .receptive_field import receptive_field

PIPELINE = (infer_shapes, receptive_field, count, memory, check_contracts)

__all__ = ["PIPELINE", "check_contracts", "count", "infer_shapes", "memory",
           "receptive_field"]
