"""The PyTorch side of the API: generated source, `load`, `fuse_bn`. Imports torch lazily,
so `import cnndsl` and the commands that do not need torch never load it."""
from __future__ import annotations

import itertools
import linecache
import types

from .api import SpecSource, build, read_spec
from .backends.torch_source import network_class_name, torch_source
from .errors import CnnUsageError
from .syntax import ast

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_loaded = itertools.count(1)


def compile_source(src: SpecSource | ast.Spec, *, params: dict | None = None,
                   fuse_bn: bool = False, class_name: str | None = None,
                   input_shape: tuple[int, ...] | str | None = None,
                   fully_conv: bool = False) -> str:
    """The standalone PyTorch module (Python source text) for a spec; `fuse_bn` and
    `fully_conv` as in `cnndsl.build`."""
    spec = read_spec(src)
    network = build(spec, params=params, input_shape=input_shape, fuse_bn=fuse_bn,
                    fully_conv=fully_conv)
    require_torch_rules(network)
    path = spec.source.path
    return torch_source(network, class_name=class_name,
                        spec_name=str(path) if path else None)


def require_torch_rules(network) -> None:
    """Every layer of `network` must say which torch module it becomes: a custom layer
    registered without `torch=` can be checked and summarised, not run."""
    from .ops import lookup

    for n in network.layers():
        attrs = network.node(n)
        spec = lookup(attrs["op"])
        if spec is not None and spec.torch is None and not spec.internal \
                and "torch_inline" not in spec.extras:  # chunk, shuffle: an expression
            raise CnnUsageError(
                f"layer `{attrs['op']}` (`{attrs['name']}`, at {attrs['span'].location}) has "
                "no PyTorch module: it was registered without `torch=`",
                hint="give its OpSpec `torch=`, a rule (opts, ins, out) -> a constructor "
                     "expression, and any class it needs as `extras={\"torch_helpers\": "
                     "{name: source}}` (docs/torch_backend.md)")


def module_class(source: str, class_name: str, module_name: str | None = None):
    """Run generated source in a fresh module namespace and return its network class.

    Only text produced by `torch_source` is executed: it holds sanitised identifiers and
    numbers from the spec, never a spec's text itself (see cnndsl/ir/names.py).
    `module_name` names the module (by default a fresh `cnndsl_generated_N`).
    """
    name = module_name or f"cnndsl_generated_{next(_loaded)}"
    filename = f"<{name}>"
    module = types.ModuleType(name)
    module.__file__ = filename
    # Registering the text lets tracebacks, inspect and torch.compile show the lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), module.__dict__)
    return getattr(module, class_name)


def load(src: SpecSource | ast.Spec, *, params: dict | None = None, fuse_bn: bool = False,
         input_shape: tuple[int, ...] | str | None = None, device=None,
         channels_last: bool = False, compile: bool | str = False, weights=None,
         strict: bool = True, fully_conv: bool = False):
    """An `nn.Module` for the spec, built from the same source `cnndsl compile` writes.

    `src` is a spec file, spec text or a zoo network's name (`"resnet50"`).
    `params` and `input_shape` override the spec's params and input, as in `build`.
    `weights` (a checkpoint path, `.pth`/`.pt`/`.safetensors`, or a state_dict) is loaded
    by name, `strict` as in `load_state_dict` (see cnndsl/weights.py and
    docs/weights.md). `fuse_bn=True` gives the folded architecture (no foldable bn
    layers, biases instead), with `weights` folded in. `fully_conv=True` gives the fully
    convolutional network (its fc layers after a spatial map are convs, docs/fully_conv.md),
    with the fc weights of `weights` reshaped to conv kernels. `compile=True` or a mode
    name wraps the module in `torch.compile`.
    """
    import torch

    spec = read_spec(src)
    fold_after = fuse_bn and weights is not None  # fold the trained numbers, not fresh ones
    network = build(spec, params=params, input_shape=input_shape,
                    fuse_bn=fuse_bn and not fold_after, fully_conv=fully_conv)
    require_torch_rules(network)
    source = torch_source(network)
    model = module_class(source, network_class_name(network))()
    if weights is not None:
        from .weights import load_weights, read_checkpoint

        if fully_conv:
            weights = fc_as_conv_weights(read_checkpoint(weights), model.state_dict())
        load_weights(model, weights, strict=strict)
    if fold_after:
        model = fuse_bn_module(model.eval())
    if device is not None:
        model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if compile:
        mode = None if compile is True else compile
        if mode is not None and mode not in COMPILE_MODES:
            raise CnnUsageError(f"unknown torch.compile mode {compile!r}",
                                hint="one of " + ", ".join(COMPILE_MODES))
        model = torch.compile(model, mode=mode)
    return model


def fuse_bn(module):
    """A copy of a generated module in eval mode with its BatchNorm layers folded into the
    layers next to them (see the NOTE in cnndsl/passes/fold_batchnorm.py)."""
    import copy

    from .backends.torch_fold import fold_module

    inner = getattr(module, "_orig_mod", module)
    inner = getattr(inner, "module", inner)  # DistributedDataParallel
    if inner.training:
        raise CnnUsageError("fuse_bn folds the running statistics of BatchNorm, which is "
                            "only right in eval mode", hint="call model.eval() first")
    folded = copy.deepcopy(inner)
    fold_module(folded)
    return folded


fuse_bn_module = fuse_bn  # `load` has a parameter of that name


def fc_as_conv_weights(checkpoint: dict, state: dict) -> dict:
    """`checkpoint` (of the fc network) with its Linear weights viewed as the conv kernels
    that `state` (of the fully convolutional one) holds under the same keys (flatten's
    order is the kernel's: C, H, W; see the NOTE in cnndsl/passes/fully_conv.py)."""
    reshaped = dict(checkpoint)
    for key, tensor in checkpoint.items():
        target = state.get(key)
        if target is not None and tensor.dim() == 2 and target.dim() == 4 and \
                tensor.shape[0] == target.shape[0] and tensor.numel() == target.numel():
            reshaped[key] = tensor.reshape(target.shape)
    return reshaped


def fully_conv(module, *, input_shape: tuple[int, ...] | str | None = None):
    """A copy of `module` (eval mode) whose Linear layers after a flattened map are Conv2d
    layers with the same weights, reshaped: it gives a score map on larger inputs (see
    docs/fully_conv.md). `input_shape` (CxHxW) is the input the Linear layers were made
    for; a module generated by cnndsl states it in its file's header, so it may be left
    out there."""
    from .backends.torch_fully_conv import convert_module

    if isinstance(input_shape, str):
        from .api import parse_shape

        input_shape = parse_shape(input_shape)
    return convert_module(module, input_shape)
