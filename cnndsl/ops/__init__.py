"""The ops table. Importing this package registers every built-in layer."""
from . import activation, channels, conv, merge, norm, pool, tensor  # noqa: F401 (registration)
from .registry import (
    RESERVED,
    OpSpec,
    OptionSpec,
    RfWindow,
    Shape,
    ShapeProblem,
    all_ops,
    layer_names,
    lookup,
    register_layer,
    unregister_layer,
)
from .torch_emit import install as _install_torch

_install_torch()

__all__ = [
    "RESERVED",
    "OpSpec",
    "OptionSpec",
    "RfWindow",
    "Shape",
    "ShapeProblem",
    "all_ops",
    "layer_names",
    "lookup",
    "register_layer",
    "unregister_layer",
]
