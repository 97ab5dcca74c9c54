"""cnndsl: a compiler for .cnn network specs.

    import cnndsl
    net = cnndsl.build("zoo_specs/resnet50.cnn")      # parse, lower, check
"""
from . import ops as _ops  # noqa: F401  (registers the built-in layers)
from .api import Summary, build, format, parse, read_spec, summary
from .backends.graphviz import render
from .errors import (
    CnnContractError,
    CnnError,
    CnnLimitError,
    CnnNameError,
    CnnShapeError,
    CnnSyntaxError,
    CnnUsageError,
    CnnValueError,
    Diagnostic,
)
from .ir import Network
from .ops import OpSpec, OptionSpec, RfWindow, ShapeProblem, register_layer, unregister_layer

__all__ = [
    "CnnContractError",
    "CnnError",
    "CnnLimitError",
    "CnnNameError",
    "CnnShapeError",
    "CnnSyntaxError",
    "CnnUsageError",
    "CnnValueError",
    "Diagnostic",
    "Network",
    "OpSpec",
    "OptionSpec",
    "RfWindow",
    "ShapeProblem",
    "Summary",
    "build",
    "format",
    "parse",
    "read_spec",
    "register_layer",
    "render",
    "summary",
    "unregister_layer",
]

_TORCH_API = ("compile_source", "fuse_bn", "load")


def __getattr__(name: str):
    # The PyTorch side is imported on first use, so `import cnndsl` never loads torch.
    if name in _TORCH_API:
        from . import torch_api

        return getattr(torch_api, name)
    raise AttributeError(f"module 'cnndsl' has no attribute {name!r}")
