"""check_contracts: every `assert` in the spec holds, or a located error says why not.

A metric is measured on the tensor at the assert's place: `shape`, `channels`, and the
figures of `count`/`receptive_field` (see METRICS) for what that tensor depends on.
"""
from __future__ import annotations

import operator

from ..errors import CnnContractError
from ..ops.geometry import fmt_shape
from .count import totals

_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}


def _shape(net, n):
    return net.node(n)["meta"]["shape"]


def _channels(net, n):
    return net.node(n)["meta"]["shape"][0]


def _rf(net, n):
    """The smaller of the two axes' sizes: `rf >= r` then holds for both."""
    return min(axis.size for axis in net.node(n)["meta"]["rf"])


def _upstream(net, n) -> dict:
    return totals(net, net.graph.ancestors(n) | {n})


METRICS = {
    "shape": _shape,
    "channels": _channels,
    "rf": _rf,
    "params": lambda net, n: _upstream(net, n)["params"],
    "macs": lambda net, n: _upstream(net, n)["macs"],
    "flops": lambda net, n: 2 * _upstream(net, n)["macs"],
}


def check_contracts(network, **_opts):
    errors = []
    for contract in network.contracts:
        measure = METRICS.get(contract.metric)
        if measure is None:
            continue  # not measured by the passes run (see cnndsl.passes.PIPELINE)
        actual = measure(network, contract.node)
        expected = contract.value
        if contract.metric == "shape":
            ok = _COMPARE[contract.comparison](actual, expected) \
                if contract.comparison in ("==", "!=") else None
            if ok is None:
                errors.append(CnnContractError("shapes can only be compared with == or !=",
                                               contract.span))
                continue
        else:
            ok = _COMPARE[contract.comparison](actual, expected)
        if not ok:
            errors.append(CnnContractError(
                f"assert {contract.metric} {contract.comparison} {_fmt(expected)} fails: "
                f"{contract.metric} is {_fmt(actual)}", contract.span))
    if errors:
        raise CnnContractError.collect(errors)
    return network


def _fmt(value) -> str:
    if isinstance(value, tuple):
        return fmt_shape(value)
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return f"{value:g}" if isinstance(value, float) else str(value)
