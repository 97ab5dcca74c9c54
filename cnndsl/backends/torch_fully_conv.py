"""A trained module in its fully convolutional form (torch is imported here).

The rules are those of the NOTE in cnndsl/passes/fully_conv.py, read from the module
itself: a torch.fx trace (every module without children a leaf, as in torch_fold.py) in
eval mode, run once on a zero input of the size the Linear layers were made for (fx's
ShapeProp) to learn the map each flatten reads. Then
- a flatten of an NCHW map (nn.Flatten, torch.flatten, Tensor.flatten, or a view or
  reshape to (N, C*H*W)) goes;
- the Linear that reads the flattened map becomes Conv2d(C, out, (H, W)) and every Linear
  after it Conv2d(in, out, 1): the weight viewed as the kernel, the bias kept, under the
  same module path, so the state_dict keeps its keys;
- an adaptive pool just before the flatten that is the identity at that size (torchvision's
  AdaptiveAvgPool2d((7, 7)) on VGG's 7x7 map) becomes nn.Identity, and one that pools by
  a whole factor the plain pool of that factor (either would fix the size of the map and
  so of the score map); one that pools to 1x1 is a global pool: nothing to convert;
- what lies between acts per element, or after the first Linear per channel, and stays
  (BatchNorm1d becomes BatchNorm2d, a Softmax over the features Softmax(dim=1)); any other
  layer there is an error naming it.
The result is an `fx.GraphModule` for inference: traced in eval mode, so training-only
branches (auxiliary heads) are left out.
"""
from __future__ import annotations

import copy
import linecache
import operator
import re

import torch
from torch import fx, nn
from torch.nn import functional as F

from ..errors import CnnUsageError
from .torch_fold import _LeafTracer

VECTOR = "vector"  # as in passes/fully_conv.py; a flattened map's kind is its (C, H, W)

_ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softplus,
    nn.Dropout, nn.AlphaDropout, nn.Identity,
)
_ELEMENTWISE_HELPERS = ("Scale", "StochasticDepth")  # cnndsl's and torchvision's classes
_ELEMENTWISE_FUNCTIONS = (
    operator.add, operator.mul, operator.sub, operator.truediv, torch.add, torch.mul,
    torch.relu, torch.sigmoid, torch.tanh, F.relu, F.relu6, F.leaky_relu, F.elu, F.gelu,
    F.silu, F.hardswish, F.hardsigmoid, F.sigmoid, F.tanh, F.dropout,
)
_ELEMENTWISE_METHODS = ("relu", "sigmoid", "tanh", "add", "mul", "sub", "div",
                        "contiguous", "clone")
_ADAPTIVE = {nn.AdaptiveAvgPool2d: nn.AvgPool2d, nn.AdaptiveMaxPool2d: nn.MaxPool2d}


def convert_module(module: nn.Module, input_shape: tuple[int, ...] | None) -> fx.GraphModule:
    inner = getattr(module, "_orig_mod", module)
    inner = getattr(inner, "module", inner)  # DistributedDataParallel
    if input_shape is None:
        input_shape = generated_input_shape(inner)
    if len(input_shape) != 3:
        raise CnnUsageError(f"fully_conv needs a CxHxW input shape, got "
                            f"{'x'.join(map(str, input_shape))}",
                            hint="pass input_shape=(C, H, W), the input the Linear layers "
                                 "were made for")
    model = copy.deepcopy(inner).eval()
    try:
        graph = _LeafTracer().trace(model)
    except Exception as exc:
        raise CnnUsageError(f"cannot trace the module to find its Linear layers: {exc}",
                            hint="fully_conv converts modules whose forward torch.fx can "
                                 "trace") from None
    traced = fx.GraphModule(model, graph, type(inner).__name__)
    _propagate_shapes(traced, input_shape)
    _Rewriter(traced).run()
    return traced.eval()


def _propagate_shapes(traced: fx.GraphModule, input_shape: tuple[int, ...]) -> None:
    """`node.meta["shape"]` for every tensor of the graph, run once on a batch of one
    zero `input_shape` input. (The meta device would spare the arithmetic, but its first
    use costs torch seconds, more than VGG-16's forward pass at 224x224.)"""
    first = next(iter(traced.state_dict().values()), None)
    x = torch.zeros(1, *input_shape,
                    dtype=first.dtype if first is not None and first.is_floating_point()
                    else None, device=first.device if first is not None else None)
    shapes = {}

    class Recorder(fx.Interpreter):
        def run_node(self, node):
            out = super().run_node(node)
            shapes[node] = tuple(out.shape) if isinstance(out, torch.Tensor) else None
            return out

    try:
        with torch.no_grad():
            Recorder(traced).run(x)
    except Exception as exc:
        raise CnnUsageError(f"the module does not run on a {'x'.join(map(str, input_shape))} "
                            f"input: {type(exc).__name__}: {exc}",
                            hint="pass input_shape=, the input the Linear layers were made "
                                 "for") from None
    for node in traced.graph.nodes:
        node.meta["shape"] = shapes.get(node)


def generated_input_shape(module: nn.Module) -> tuple[int, ...]:
    """The input a module written by cnndsl was made for, from its file's header
    (`# Input 3x224x224, output 1000.`, cnndsl/backends/torch_source.py)."""
    code = getattr(type(module).__init__, "__code__", None)
    lines = linecache.getlines(code.co_filename) if code is not None else []
    if lines and lines[0].startswith("# Generated by cnndsl"):
        for line in lines[1:4]:
            match = re.match(r"# Input (\d+(?:x\d+)*),", line)
            if match:
                return tuple(int(v) for v in match.group(1).split("x"))
    raise CnnUsageError(f"fully_conv does not know the input size {type(module).__name__}'s "
                        "Linear layers were made for",
                        hint="pass input_shape=(C, H, W), e.g. (3, 224, 224)")


def _shape(node) -> tuple[int, ...] | None:
    return node.meta.get("shape") if isinstance(node, fx.Node) else None


class _Rewriter:
    """One pass over the traced graph in order, with the kind of each converted tensor."""

    def __init__(self, traced: fx.GraphModule) -> None:
        self.traced = traced
        self.kinds: dict[fx.Node, object] = {}
        self.flattens: list[fx.Node] = []
        self.converted: list[str] = []
        self.flat_linear: str | None = None  # a Linear on a flat input, for the error

    def run(self) -> None:
        for node in list(self.traced.graph.nodes):
            ins = [a for a in node.all_input_nodes if a in self.kinds]
            if self._is_flatten(node):
                self._flatten(node, self.kinds.get(node.all_input_nodes[0]))
            elif node.op == "output" or not ins:
                if self._module(node, nn.Linear) is not None and self.flat_linear is None:
                    self.flat_linear = node.target
            else:
                self._carry(node, ins)
        for end in self.traced.graph.find_nodes(op="output"):
            for node in end.all_input_nodes:
                if isinstance(self.kinds.get(node), tuple):
                    raise CnnUsageError(f"fully_conv: no Linear follows `{_name(node)}`, so "
                                        "the module would return the map itself")
        if not self.converted:
            where = f"`{self.flat_linear}` reads a flat vector" if self.flat_linear else \
                "the module has no Linear layer"
            raise CnnUsageError(f"fully_conv: no Linear reads a flattened spatial map "
                                f"({where})", hint="fully_conv converts the Linear layers "
                                                   "that follow a flatten of a CxHxW map")
        for node in self.flattens:
            node.replace_all_uses_with(node.all_input_nodes[0])
            self.traced.graph.erase_node(node)
        self.traced.graph.lint()
        self.traced.delete_all_unused_submodules()
        self.traced.recompile()

    # --- recognising layers ---------------------------------------------------------------
    def _module(self, node: fx.Node, kinds):
        if node.op != "call_module":
            return None
        module = self.traced.get_submodule(node.target)
        return module if isinstance(module, kinds) else None

    def _is_flatten(self, node: fx.Node) -> bool:
        source = node.all_input_nodes[0] if node.all_input_nodes else None
        before, after = _shape(source), _shape(node)
        if before is None or after is None or len(after) != 2 or after[0] != before[0]:
            return False
        flat = self._module(node, nn.Flatten)
        if flat is not None:
            return flat.start_dim == 1 and flat.end_dim == -1
        if node.op == "call_function" and node.target is torch.flatten or \
                node.op == "call_method" and node.target in ("flatten", "view", "reshape"):
            return len(before) == 2 or after[1] == _product(before[1:])
        return False

    # --- rewriting ----------------------------------------------------------------------
    def _flatten(self, node: fx.Node, kind) -> None:
        source = node.all_input_nodes[0]
        if kind is None and len(_shape(source)) != 4:
            return  # a flat vector or a sequence: nothing to convert here
        if kind is None:
            self._free_map_size(source)
            kind = _shape(source)[1:]
        self.kinds[node] = kind  # a converted tensor flattened again stays as it is
        self.flattens.append(node)

    def _free_map_size(self, node: fx.Node) -> None:
        """An adaptive pool the flatten reads (through elementwise layers) must not fix the
        size of the map (see the module's docstring)."""
        while node.op != "placeholder":
            module = self.traced.get_submodule(node.target) if node.op == "call_module" \
                else None
            if module is not None and type(module) in _ADAPTIVE:
                self._replace_adaptive(node, module)
                return
            if not self._elementwise(node) or len(node.all_input_nodes) != 1:
                return
            node = node.all_input_nodes[0]

    def _replace_adaptive(self, node: fx.Node, module: nn.Module) -> None:
        before, after = _shape(node.all_input_nodes[0])[2:], _shape(node)[2:]
        if after == (1, 1) and before != (1, 1):
            raise CnnUsageError(
                f"fully_conv: `{node.target}` ({type(module).__name__}) pools the whole map "
                "to 1x1 before the Linear, so there is no window to slide: the Linear sees "
                "one vector at any input size",
                hint=f"pool over the map's size with stride 1 (nn.AvgPool2d({before[0]}, 1)) "
                     "for a score map, or keep the module as it is")
        if any(b % a for a, b in zip(after, before)):
            raise CnnUsageError(
                f"fully_conv: `{node.target}` ({type(module).__name__}) pools a "
                f"{_size(before)} map to {_size(after)}, not by a whole factor, so it has "
                "no fixed window to slide")
        factor = tuple(b // a for a, b in zip(after, before))
        plain = nn.Identity() if factor == (1, 1) else _ADAPTIVE[type(module)](factor)
        self._set(node.target, plain)

    def _carry(self, node: fx.Node, ins: list[fx.Node]) -> None:
        kind = self._merged_kind(node, ins)
        linear = self._module(node, nn.Linear)
        if linear is not None:
            self._set(node.target, _linear_as_conv(linear, kind, node.target))
            self.converted.append(node.target)
            self.kinds[node] = VECTOR
            return
        if not (self._elementwise(node) or kind == VECTOR and self._per_channel(node)):
            what = "acts on the whole flattened map" if kind != VECTOR else \
                "is not known to act per position"
            raise CnnUsageError(f"fully_conv: `{_name(node)}` after the flatten {what}",
                                hint="fully_conv converts heads of Linear, activation, "
                                     "dropout and BatchNorm layers")
        self.kinds[node] = kind

    def _merged_kind(self, node: fx.Node, ins: list[fx.Node]):
        tensors = [a for a in node.all_input_nodes if _shape(a) is not None]
        kinds = {self.kinds.get(a) for a in tensors}
        if len(kinds) != 1:
            raise CnnUsageError(f"fully_conv: `{_name(node)}` combines a converted tensor "
                                "with another kind of tensor")
        return kinds.pop()

    def _elementwise(self, node: fx.Node) -> bool:
        if node.op == "call_module":
            module = self.traced.get_submodule(node.target)
            if isinstance(module, nn.PReLU):
                return module.num_parameters == 1
            return isinstance(module, _ELEMENTWISE_MODULES) or \
                type(module).__name__ in _ELEMENTWISE_HELPERS
        if node.op == "call_function":
            return node.target in _ELEMENTWISE_FUNCTIONS
        return node.op == "call_method" and node.target in _ELEMENTWISE_METHODS

    def _per_channel(self, node: fx.Node) -> bool:
        """Layers that act per channel on the score map as they did per feature; the ones
        that need another module are replaced here."""
        module = self._module(node, (nn.BatchNorm1d, nn.Softmax, nn.LogSoftmax, nn.PReLU))
        if module is None:
            return node.op == "call_function" and node.target is torch.cat and \
                node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0) in (1, -1)
        if isinstance(module, nn.BatchNorm1d):
            self._set(node.target, _batchnorm_2d(module))
        elif isinstance(module, (nn.Softmax, nn.LogSoftmax)):
            if module.dim not in (1, -1):
                return False
            self._set(node.target, type(module)(dim=1))
        return True

    def _set(self, path: str, new: nn.Module) -> None:
        parent, _, name = path.rpartition(".")
        setattr(self.traced.get_submodule(parent), name, new)


def _linear_as_conv(linear: nn.Linear, kind, path: str) -> nn.Conv2d:
    """The Conv2d computing `linear` at each position (see the NOTE)."""
    c, h, w = (linear.in_features, 1, 1) if kind == VECTOR else kind
    if c * h * w != linear.in_features:
        raise CnnUsageError(f"fully_conv: `{path}` takes {linear.in_features} features, not "
                            f"the {c}x{h}x{w} map before it")
    weight = linear.weight
    conv = nn.Conv2d(c, linear.out_features, (h, w), bias=linear.bias is not None,
                     device="meta")  # no initialisation: the weights are the Linear's
    conv.weight = nn.Parameter(weight.detach().reshape(linear.out_features, c, h, w),
                               weight.requires_grad)
    if linear.bias is not None:
        conv.bias = nn.Parameter(linear.bias.detach(), linear.bias.requires_grad)
    return conv


def _batchnorm_2d(bn: nn.BatchNorm1d) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(bn.num_features, bn.eps, bn.momentum, bn.affine,
                         bn.track_running_stats)
    new.load_state_dict(bn.state_dict())
    return new.to(next(iter(bn.state_dict().values())).device)


def _name(node: fx.Node) -> str:
    if node.op == "call_module":
        return node.target
    return getattr(node.target, "__name__", str(node.target))


def _product(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _size(hw) -> str:
    return "x".join(map(str, hw))
