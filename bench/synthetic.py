"""Synthetic specs of a chosen number of layers, in three shapes that stress different code:
a plain chain (long sequences), residual blocks through `block` + `*` repeats (calls,
scopes, merges) and inception-style concats (branches, wide merges)."""
from __future__ import annotations

SHAPES = ("chain", "residual", "concat")
_HEADER = "network Synthetic\ninput 16x32x32\n"


def synthetic_spec(layers: int, shape: str) -> str:
    """Spec text with about `layers` layers (exact for chain; within one block otherwise)."""
    if shape == "chain":
        # Two layers a line, as people write them: `conv ... relu`.
        return _HEADER + "conv k3 p1 16 relu\n" * max(1, layers // 2)
    if shape == "residual":
        # Seven layers per block: two conv+bn, a relu, the add and the relu after it.
        block = ("block unit(c):\n"
                 "    residual< conv k3 p1 c bn relu conv k3 p1 c bn > relu\n\n")
        return _HEADER + block + f"unit(16) * {max(1, layers // 7)}\n"
    if shape == "concat":
        # Four layers a line: two branch convs, the concat and a 1x1 conv that restores c.
        return _HEADER + "inception< conv k1 8 | conv k3 p1 8 > conv k1 16\n" * max(1, layers // 4)
    raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
