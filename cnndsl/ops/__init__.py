"""The ops table. Importing this package registers every built-in layer."""
from . import (  # noqa: F401 (registration)
    activation,
    channels,
    conv,
    layout,
    merge,
    norm,
    pool,
    tensor,
)
from .registry import (
    RESERVED,
    ChannelsLast,
    OpSpec,
    OptionSpec,
    RfWindow,
    Shape,
    ShapeProblem,
    all_ops,
    layer_names,
    lookup,
    register_layer,
    same_layout,
    unregister_layer,
)
from .torch_emit import install as _install_torch

_install_torch()

__all__ = [
    "RESERVED",
    "ChannelsLast",
    "OpSpec",
    "OptionSpec",
    "RfWindow",
    "Shape",
    "ShapeProblem",
    "all_ops",
    "layer_names",
    "lookup",
    "register_layer",
    "same_layout",
    "unregister_layer",
]
