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
    MAX_ELEMENTS,
    RESERVED,
    ChannelsLast,
    OpSpec,
    OptionSpec,
    RfWindow,
    Shape,
    ShapeProblem,
    all_ops,
    is_interned,
    layer_names,
    lookup,
    node_shape,
    register_layer,
    same_layout,
    unregister_layer,
)
from .torch_emit import install as _install_torch

_install_torch()

__all__ = [
    "MAX_ELEMENTS",
    "RESERVED",
    "ChannelsLast",
    "OpSpec",
    "OptionSpec",
    "RfWindow",
    "Shape",
    "ShapeProblem",
    "all_ops",
    "is_interned",
    "layer_names",
    "lookup",
    "node_shape",
    "register_layer",
    "same_layout",
    "unregister_layer",
]
