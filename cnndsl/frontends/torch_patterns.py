"""Graph patterns of the PyTorch importer: several traced calls that are one cnndsl layer.

After tracing, a few idioms are spread over several fx nodes:

- `x.chunk(2, dim=1)` (or `torch.split(x, c, 1)`, `x[:, a:b]`) gives a tuple, and each
  `[i]` of it is a node: the part is `chunk n i=i` of `x`;
- torchvision's `channel_shuffle`: `x.view(b, g, c // g, h, w)`, `transpose(1, 2)`,
  `.contiguous()`, `.view(b, c, h, w)` is `shuffle g` of `x`;
- `self.layer_scale * x` with a bare parameter of shape (C, 1, 1) (ConvNeXt) is
  `layerscale`, labelled with the parameter's name.

`find_patterns` returns each such node with its layer text and the tensor it reads
(`Fused`), and the nodes it swallows (the views, the parameter read). `mark_layouts`
notes which tensors are channels-last (after `permute(0, 2, 3, 1)`), for `nn.LayerNorm`.
"""
from __future__ import annotations

import operator
from typing import NamedTuple

import torch
import torch.fx as fx

from torch.fx.passes.shape_prop import ShapeProp

from .torch_layers import Unmapped, num, permute_dims


class ValueProp(ShapeProp):
    """ShapeProp that also keeps the numbers a forward computes from shapes (`x.size(1)`,
    `x.shape[1] // 2`) in node.meta["value"]: fixed for the spec's input shape."""

    def run_node(self, n: fx.Node):
        result = super().run_node(n)
        if isinstance(result, (int, float, bool)) or isinstance(result, (tuple, list)) and \
                all(isinstance(v, int) for v in result):
            n.meta["value"] = result
        return result


def value(v):
    """An argument, with numbers computed in the forward replaced by their value."""
    if isinstance(v, fx.Node):
        return v.meta.get("value", v)
    if isinstance(v, slice):
        return slice(value(v.start), value(v.stop), value(v.step))
    if isinstance(v, (tuple, list)):
        return type(v)(value(i) for i in v)
    return v


class Fused(NamedTuple):
    text: str | None   # the layer; None: the pattern is there but does not map
    source: fx.Node     # the tensor it reads
    why: str = ""       # when text is None: why it does not map
    name: str = ""      # a label the layer must have (a parameter's name)

    def layer(self) -> str:
        if self.text is None:
            raise Unmapped(self.why)
        return self.text


def _shape(node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def _arg(node: fx.Node, i: int, name: str, default):
    if len(node.args) > i:
        return value(node.args[i])
    return value(node.kwargs.get(name, default))


def _is(node, method: str, *functions) -> bool:
    return isinstance(node, fx.Node) and (
        node.op == "call_method" and node.target == method
        or node.op == "call_function" and node.target in functions)


def find_patterns(gm: fx.GraphModule) -> tuple[dict[fx.Node, Fused], set[fx.Node]]:
    fused: dict[fx.Node, Fused] = {}
    swallowed: set[fx.Node] = set()
    for n in gm.graph.nodes:
        if n.op == "call_function" and n.target is operator.getitem:
            part = _channel_part(n)
            if part is not None:
                fused[n] = part
        elif _is(n, "view", torch.reshape) or _is(n, "reshape"):
            found = _shuffle(n)
            if found is not None:
                fused[n], inner = found
                swallowed.update(inner)
        elif _is(n, "mul", operator.mul, torch.mul):
            found = _layer_scale(gm, n)
            if found is not None:
                fused[n], param = found
                swallowed.add(param)
    # a parameter read by anything but a layer scale is reported where it is read
    for p in list(swallowed):
        if p.op == "get_attr" and any(u not in fused for u in p.users):
            swallowed.discard(p)
    return fused, swallowed


# -- chunk: one of n equal channel parts

def _channel_part(n: fx.Node) -> Fused | None:
    whole, index = n.args[0], value(n.args[1])
    if not isinstance(whole, fx.Node):
        return None
    if _is(whole, "chunk", torch.chunk) or _is(whole, "split", torch.split):
        x = whole.args[0]
        shape = _shape(x)
        if shape is None or not isinstance(index, int):
            return None
        dim = _arg(whole, 2, "dim", 0)
        if len(shape) != 4 or dim not in (1, -3):
            return Fused(None, x, f"a split along dim {dim} (cnndsl's `chunk` splits the channels)")
        c = shape[1]
        if _is(whole, "chunk", torch.chunk):
            parts = _arg(whole, 1, "chunks", None)
            sizes = [c // parts] * parts if parts and c % parts == 0 else None
        else:
            size = _arg(whole, 1, "split_size_or_sections", None)
            size = _arg(whole, 1, "split_size", size)
            sizes = ([size] * (c // size) if isinstance(size, int) and c % size == 0
                     else list(size) if isinstance(size, (list, tuple)) else None)
        if not sizes or len(set(sizes)) != 1:
            return Fused(None, x, f"a split of {c} channels into unequal parts "
                                  "(cnndsl's `chunk` takes one of n equal parts)")
        return Fused(f"chunk {len(sizes)} i={index % len(sizes)}", x)
    shape = _shape(whole)
    if shape is not None and len(shape) == 4 and isinstance(index, tuple):
        return _slice_part(whole, index, shape[1])
    return None


def _slice_part(x: fx.Node, index: tuple, c: int) -> Fused | None:
    """`x[:, a:b]` (and `x[:, a:b, :, :]`, `x[:, a:b, ...]`) as an equal channel part."""
    everything = slice(None, None, None)
    if len(index) < 2 or index[0] != everything or not isinstance(index[1], slice) or \
            any(i != everything and i is not Ellipsis for i in index[2:]):
        return None
    part = index[1]
    if part.step not in (None, 1) or any(isinstance(v, fx.Node) for v in (part.start, part.stop)):
        return Fused(None, x, "a channel slice with a step or a computed bound")
    a, b, _ = part.indices(c)
    width = b - a
    if width <= 0 or c % width or a % width:
        return Fused(None, x, f"channels {a}:{b} of {c}, not one of equal parts (cnndsl's "
                              "`chunk` takes one of n equal parts)")
    return Fused(f"chunk {c // width} i={a // width}", x)


# -- shuffle: view to groups, swap, view back

def _shuffle(last: fx.Node) -> tuple[Fused, list[fx.Node]] | None:
    """`last` is the final view of torchvision's channel_shuffle: walk back to its input."""
    inner = []
    node = last.args[0]
    if _is(node, "contiguous"):
        inner.append(node)
        node = node.args[0]
    if not (_is(node, "transpose", torch.transpose) and sorted(node.args[1:3]) == [1, 2]
            or _is(node, "permute", torch.permute)
            and permute_dims(node) == [0, 2, 1, 3, 4]):
        return None
    inner.append(node)
    first = node.args[0]
    if not (_is(first, "view", torch.reshape) or _is(first, "reshape")):
        return None
    inner.append(first)
    x = first.args[0]
    grouped, shape, out = _shape(first), _shape(x), _shape(last)
    if shape is None or grouped is None or len(shape) != 4 or len(grouped) != 5 or out != shape \
            or grouped[0] != shape[0] or grouped[1] * grouped[2] != shape[1] \
            or grouped[3:] != shape[2:]:
        return None
    if any(len(m.users) != 1 for m in inner):
        return None  # an intermediate is read elsewhere: not only a shuffle
    return Fused(f"shuffle {grouped[1]}", x), inner


# -- layer scale: a bare (C, 1, 1) parameter times the tensor

def _layer_scale(gm: fx.GraphModule, n: fx.Node) -> tuple[Fused, fx.Node] | None:
    args = [a for a in n.args if isinstance(a, fx.Node)]
    params = [a for a in args if a.op == "get_attr"]
    if len(args) != 2 or len(params) != 1:
        return None
    param = params[0]
    x = args[0] if args[1] is param else args[1]
    value = gm.get_parameter(param.target) if _is_parameter(gm, param.target) else None
    shape = _shape(x)
    path = param.target.split(".")
    scope = _scope(n)
    if value is None or shape is None or len(shape) != 4 or \
            tuple(value.shape) != (shape[1], 1, 1):
        return Fused(None, x, f"a product with `{param.target}`, which is not a per-channel "
                              "scale parameter of shape (C, 1, 1)"), param
    if path[:-1] != scope:
        return Fused(None, x, f"the parameter `{param.target}` is used outside its module "
                              f"(in `{'.'.join(scope) or '(the model)'}`)"), param
    if len(param.users) != 1:
        return Fused(None, x, f"the parameter `{param.target}` is used more than once "
                              "(cnndsl has no shared weights)"), param
    flat = value.detach().flatten()
    # the spec's init (float32 digits only); the weights are loaded anyway (a trained
    # scale is not uniform: the spec keeps the default, 1e-6)
    init = float(f"{float(flat[0]):.7g}")
    uniform = bool((flat == flat[0]).all()) and init != 1e-6
    return Fused(f"layerscale {num(init)}" if uniform else "layerscale", x,
                 name=path[-1]), param


def _is_parameter(gm: fx.GraphModule, target: str) -> bool:
    try:
        gm.get_parameter(target)
    except AttributeError:
        return False
    return True


def _scope(n: fx.Node) -> list[str]:
    stack = n.meta.get("nn_module_stack") or {}
    path = list(stack.values())[-1][0] if stack else ""
    return path.split(".") if path else []


# -- layouts

def mark_layouts(gm: fx.GraphModule) -> None:
    """node.meta["channels_last"]: the tensor is a feature map stored N, H, W, C (after a
    permute(0, 2, 3, 1) and before the permute back), as ConvNeXt's block has it."""
    for n in gm.graph.nodes:
        dims = None
        if n.op == "call_module":
            m = gm.get_submodule(n.target)
            dims = list(m.dims) if type(m).__name__ == "Permute" and hasattr(m, "dims") else None
        elif _is(n, "permute", torch.permute):
            dims = permute_dims(n)
        if dims == [0, 2, 3, 1]:
            n.meta["channels_last"] = True
        elif dims is not None:
            n.meta["channels_last"] = False
        else:
            first = next((a for a in n.all_input_nodes if _shape(a) is not None), None)
            n.meta["channels_last"] = bool(first is not None and first.meta.get("channels_last"))
