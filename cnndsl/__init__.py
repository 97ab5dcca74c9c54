"""cnndsl: a compiler for .cnn network specs.

    import cnndsl
    net = cnndsl.build("zoo_specs/resnet50.cnn")      # parse, lower, check
"""
from . import ops as _ops  # noqa: F401  (registers the built-in layers)
from .api import Summary, build, check_library, format, parse, read_spec, render, summary
from .errors import (
    CnnContractError,
    CnnError,
    CnnFileError,
    CnnImporterBug,
    CnnImportError,
    CnnLimitError,
    CnnNameError,
    CnnShapeError,
    CnnSyntaxError,
    CnnUsageError,
    CnnValueError,
    CnnWeightsError,
    Diagnostic,
)
from .ir import Network
from .ops import OpSpec, OptionSpec, RfWindow, ShapeProblem, register_layer, unregister_layer

__all__ = [
    "CnnContractError",
    "CnnError",
    "CnnFileError",
    "CnnImportError",
    "CnnImporterBug",
    "CnnLimitError",
    "CnnNameError",
    "CnnShapeError",
    "CnnSyntaxError",
    "CnnUsageError",
    "CnnValueError",
    "CnnWeightsError",
    "Diagnostic",
    "Network",
    "OpSpec",
    "OptionSpec",
    "RfWindow",
    "ShapeProblem",
    "Summary",
    "build",
    "check_library",
    "format",
    "parse",
    "read_spec",
    "register_layer",
    "render",
    "summary",
    "unregister_layer",
]

_TORCH_API = ("compile_source", "fully_conv", "fuse_bn", "load")
_WEIGHTS_API = ("load_weights", "read_checkpoint", "remap_by_structure")
_IMPORT_API = ("from_torch",)


def __getattr__(name: str):
    # The PyTorch side and the diagram backend are imported on first use, so that
    # `import cnndsl` (and `cnndsl check`) loads neither torch nor graphviz.
    if name in _TORCH_API:
        from . import torch_api

        return getattr(torch_api, name)
    if name in _IMPORT_API:
        from .frontends import torch_import

        return getattr(torch_import, name)
    if name in _WEIGHTS_API:
        from . import weights

        return getattr(weights, name)
    raise AttributeError(f"module 'cnndsl' has no attribute {name!r}")
