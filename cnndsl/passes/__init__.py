"""Passes: pure functions `(network, **opts) -> network` that annotate or rewrite a copy.

The pipeline that `cnndsl.build` runs is `PIPELINE`, in order.

Meta keys, per node (`network.node(n)["meta"]`):
    shape   tuple: output shape, (C, H, W) or (F,)               lowering / infer_shapes
"""
from .check_contracts import check_contracts
from .infer_shapes import infer_shapes

PIPELINE = (check_contracts,)

__all__ = ["PIPELINE", "check_contracts", "infer_shapes"]
