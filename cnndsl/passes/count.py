"""count: parameters, multiply-accumulates, connections and activation bytes of every node.

Per node: `meta["params"]`, `meta["macs"]`, `meta["connections"]`,
`meta["activation_bytes"]` (its output, fp32, one example).
Network (`network.meta`): `params`, `macs`, `flops`, `connections`, `params_bytes`,
`activations_bytes` for the nodes that run in eval mode, and `aux` with `params` and
`macs` of the auxiliary heads alone.

# NOTE: counting conventions
# Parameters are the trainable values of the generated module (`sum(p.numel())`); fixed
# values such as the RBF centres are not parameters. MACs are the multiply-accumulates of
# conv, deconv, fc, connection-table conv and rbf (k·k·C_in/g·C_out·H_out·W_out, the bias
# left out): torchvision's "GFLOPS" are these MACs. FLOPs = 2·MACs. Connections are
# LeCun's: an op's own rule where it has one (`subsample`), else MACs plus one per output
# element when the op adds a bias. Activation bytes are 4 per element of each node's output
# (the input included), views too. Figures are exact integers; units are decimal.
"""
from __future__ import annotations

import math

from ..ops import lookup

BYTES_PER_VALUE = 4  # fp32


def count(network, *, inplace: bool = False, **_opts):
    net = network.for_pass(inplace)
    nodes = net.graph.nodes
    for n in net.nodes():
        nodes[n].meta.update(node_counts(net, n))
    main = net.main_nodes()
    aux = [n for n in net.nodes() if n not in main]
    net.meta.update(totals(net, main))
    net.meta["flops"] = 2 * net.meta["macs"]
    aux_totals = totals(net, aux)
    net.meta["aux"] = {"params": aux_totals["params"], "macs": aux_totals["macs"]}
    return net


def node_counts(net, n) -> dict:
    nodes = net.graph.nodes
    attrs = nodes[n]  # its fields read as attributes (see NodeAttrs)
    out = attrs.meta["shape"]
    elements = math.prod(out)
    if attrs.op == "input":
        return {"activation_bytes": BYTES_PER_VALUE * elements, "params": 0, "macs": 0,
                "connections": 0}
    spec = lookup(attrs.op)
    ins = [nodes[i].meta["shape"] for i in net.inputs(n)]
    opts = attrs.opts
    params, macs = spec.params(opts, ins, out), spec.macs(opts, ins, out)
    if spec.connections is not None:
        connections = spec.connections(opts, ins, out)
    else:
        connections = macs + (elements if opts.get("bias") else 0)
    return {"activation_bytes": BYTES_PER_VALUE * elements, "params": params, "macs": macs,
            "connections": connections}


def totals(net, nodes) -> dict:
    """Sums over `nodes`: what a contract or a summary reports for them."""
    graph_nodes = net.graph.nodes
    metas = [graph_nodes[n].meta for n in nodes]
    params = sum(m["params"] for m in metas)
    return {
        "params": params,
        "macs": sum(m["macs"] for m in metas),
        "connections": sum(m["connections"] for m in metas),
        "params_bytes": BYTES_PER_VALUE * params,
        "activations_bytes": sum(m["activation_bytes"] for m in metas),
    }
