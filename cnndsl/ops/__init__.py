"""The ops table. Importing this package registers every built-in layer."""
from . import activation, channels, conv, merge, norm, pool, tensor  # noqa: F401 (registration)
from .registry import (
    MAX_ELEMENTS,
    RESERVED,
    OpSpec,
    OptionSpec,
    RfWindow,
    Shape,
    ShapeProblem,
    all_ops,
    layer_names,
    lookup,
    node_shape,
    register_layer,
    unregister_layer,
)
from .torch_emit import install as _install_torch

_install_torch()

__all__ = [
    "MAX_ELEMENTS",
    "RESERVED",
    "OpSpec",
    "OptionSpec",
    "RfWindow",
    "Shape",
    "ShapeProblem",
    "all_ops",
    "layer_names",
    "lookup",
    "node_shape",
    "register_layer",
    "unregister_layer",
]
