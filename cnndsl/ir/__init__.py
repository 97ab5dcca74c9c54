"""The IR graph and the lowering that builds it."""
from .graph import Contract, Network, Scope
from .lower import check_library, lower

__all__ = ["Contract", "Network", "Scope", "lower"]
