"""Where generated code may compute in place: `nn.ReLU(inplace=True)`, `out += identity`.

# NOTE: in-place steps
# torchvision's models apply their ReLUs in place and add a residual's shortcut into the
# body's output (`out += identity`); doing the same saves a memory pass per activation,
# which measured 5-20 % of eager CPU inference (docs/benchmarks.md). An in-place step
# overwrites the tensor it reads, so it is written only where that cannot change a result:
# - nothing else reads the tensor: it has exactly one reader in the IR (counting edges, so
#   `x + x` does not qualify), it is not the network's input (the caller's data) nor an
#   output, and it is not made inside a module that may be None (an optional projection
#   returns its input unchanged, so its "output" may be another step's tensor), nor a
#   merge of one tensor (`concat< @x >`, written as that tensor);
# - it is a new tensor that autograd does not need: the layer that made it says so in the
#   ops table (`extras["torch_fresh_output"]`: never its input or a view of it, in train
#   and eval mode alike, which leaves out dropout, flatten and custom layers), and its
#   `saves` does not include its output (a sigmoid's or a ReLU's backward reads the result,
#   so `relu relu` keeps its second ReLU out of place); or the layer passes its input
#   through (`extras["torch_passes_through"]`: stochastic depth and dropout return their
#   input itself in eval, and in training a new tensor their backward does not read), and
#   its input qualifies by these rules in turn (as torchvision's `result =
#   self.stochastic_depth(result); result += input`);
# - the in-place step itself has a correct backward: activations opt in through
#   `extras["torch_inplace"]` (True, or a rule over the options: a leaky ReLU's in-place
#   backward needs a positive slope); an add needs two inputs of the output's shape.
# Everything is decided on the graph the class is written from: a block's class is written
# from a probe of its body (torch_params.py), whose input stands for the block's input and
# is never overwritten, and whose nodes have the same readers as the instance's.
"""
from __future__ import annotations

from ..ir import Network
from ..ops import lookup


def overwritable(network: Network, n: int, aliased: set[int]) -> bool:
    """Whether a step that is `n`'s only reader may overwrite `n`'s output (see the NOTE)."""
    if n == network.input or n in network.outputs or n in network.aux_outputs or n in aliased:
        return False
    if network.graph.out_degree(n) != 1 or network.is_identity(n):
        return False
    attrs = network.node(n)
    spec = lookup(attrs["op"])
    if spec is not None and spec.extras.get("torch_passes_through"):
        ins = network.inputs(n)
        return len(ins) == 1 and overwritable(network, ins[0], aliased)
    if spec is None or spec.view or not spec.extras.get("torch_fresh_output"):
        return False
    saves = spec.saves
    if callable(saves):
        ins = [network.node(u)["meta"]["shape"] for u in network.inputs(n)]
        saves = saves(attrs["opts"], ins, attrs["meta"]["shape"])
    return "output" not in saves


def activation_in_place(network: Network, n: int, aliased: set[int]) -> bool:
    """Whether the activation `n` may be written `inplace=True`."""
    attrs = network.node(n)
    rule = lookup(attrs["op"]).extras.get("torch_inplace")
    if not rule or (callable(rule) and not rule(attrs["opts"])):
        return False
    ins = network.inputs(n)
    return len(ins) == 1 and overwritable(network, ins[0], aliased)


def add_in_place(network: Network, n: int, aliased: set[int]) -> bool:
    """Whether the add `n` may be written `first += second`."""
    ins = network.inputs(n)
    shape = network.node(n)["meta"]["shape"]
    return (len(ins) == 2 and all(network.node(u)["meta"]["shape"] == shape for u in ins)
            and overwritable(network, ins[0], aliased))


def with_inplace(expr: str) -> str:
    """`nn.ReLU()` -> `nn.ReLU(inplace=True)`, `nn.LeakyReLU(0.1)` -> `nn.LeakyReLU(0.1,
    inplace=True)`: the keyword every torch activation with an in-place form takes."""
    head = expr[:-1]
    return f"{head}{'' if head.endswith('(') else ', '}inplace=True)"
