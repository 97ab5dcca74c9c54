"""Shared arithmetic of sliding windows (the seed formulas) used by several ops."""
from __future__ import annotations

import math

from .registry import ChannelsLast, Shape, ShapeProblem


def window_out(n: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False,
               p_after: int | None = None) -> int:
    """n_out = floor((n + 2p - d(k-1) - 1)/s) + 1 (or ceil, as pooling's ceil_mode does);
    `p_after` pads the end differently from the start (TensorFlow's SAME)."""
    span = n + p + (p if p_after is None else p_after) - d * (k - 1) - 1
    if ceil:
        out = math.ceil(span / s) + 1
        if (out - 1) * s >= n + p:  # torch: the last window must start inside the input
            out -= 1
        return out
    return span // s + 1


def spatial(ins: list[Shape], op: str) -> tuple[int, int, int]:
    """The (C, H, W) of a layer's one input, or a located complaint about a flat input."""
    shape = ins[0]
    if len(shape) != 3:
        raise ShapeProblem(f"`{op}` needs a CxHxW feature map, but its input is a flat "
                           f"vector of {shape[0]}",
                           "move it before `flatten`, or use `fc` on flat vectors")
    return shape


def slide(op: str, hw: tuple[int, int], k, s, p, d=(1, 1), ceil=False,
          p_after=None) -> tuple[int, int]:
    """Output (H, W) of a sliding window, with the errors a user can cause."""
    out = []
    after = p if p_after is None else p_after
    for axis, n in enumerate(hw):
        reach = d[axis] * (k[axis] - 1) + 1
        padded = n + p[axis] + after[axis]
        if reach > padded:
            raise ShapeProblem(
                f"`{op}` kernel {fmt_pair(k)}"
                f"{' (dilated to ' + str(reach) + ')' if d[axis] > 1 else ''} is larger than "
                f"its padded input {fmt_pair(tuple(x + 2 * q for x, q in zip(hw, p)))}",
                "use a smaller kernel, add padding, or remove a downsampling layer before it")
        out.append(window_out(n, k[axis], s[axis], p[axis], d[axis], ceil, after[axis]))
    if min(out) <= 0:
        raise ShapeProblem(f"`{op}` gives an empty output ({fmt_pair(tuple(out))})",
                           "use a smaller stride or kernel")
    return out[0], out[1]


def dropped(n: int, k: int, s: int, p: int, d: int = 1) -> int:
    """How many input rows a window never reaches because of floor division."""
    out = window_out(n, k, s, p, d)
    covered = (out - 1) * s + d * (k - 1) + 1
    return max(0, n + 2 * p - covered - p)  # padding on the far side is never real data


def fmt_pair(pair) -> str:
    return "x".join(str(v) for v in pair)


def fmt_shape(shape: Shape) -> str:
    text = "x".join(str(v) for v in shape)
    return f"{text} channels-last" if isinstance(shape, ChannelsLast) else text
