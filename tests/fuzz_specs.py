"""Hypothesis strategies for .cnn specs: grammar-aware valid specs and mutations of them.
Shared by tests/test_fuzz.py (a short run in CI) and scripts/fuzz.py (a long run).

# NOTE: valid by construction
# Generated layers keep the spatial size (odd kernels with `p` = k//2) except pooling,
# which is only drawn while the map is at least 4 wide, so every generated spec should
# build; a CnnError on one is a failure of the test, not of the spec.
"""
from __future__ import annotations

from hypothesis import strategies as st

WORDS = ("conv", "k3", "p1", "s2", "bn", "relu", "residual<", "inception<", "|", ">", "<",
         "(", ")", "*", "x3", "@a", "a:", "block", "b(c):", "use", "\"x.cnn\"", "=", "[",
         "]", ",", "in", "//", "0", "-1", "1e999", "\t", "\n", "    ", "#", ":", "\x00",
         "\ufeff", "\r", "dense(n=2, k=4)", "fc", "flatten", "gap", "assert", "shape", "==",
         # issue 16: words that were once accepted silently or crashed
         "\u202e", "1e400", "param", "in=", "aux<", "gate<", "concat<", "@b", "b:", "b(4)",
         "use \"\x00\"", "1_6", "\uff11\uff16", "x0", "* 0")


# Labels that would clash with Python or with nn.Module if used raw as attribute names.
LABELS = ("stem", "class", "self", "forward", "__init__", "print", "def", "torch", "nn",
          "training", "x", "_modules")


@st.composite
def conv_layer(draw, width: int) -> str:
    k = draw(st.sampled_from((1, 3, 5)))
    c = draw(st.integers(1, 8))
    tail = draw(st.sampled_from(("", " bn", " bn relu", " relu")))
    return f"conv k{k} p{k // 2} {c}{tail}"


@st.composite
def item(draw, size: list[int], depth: int = 0) -> str:
    """One layer or composite; `size` (the map width) is updated when it pools."""
    kinds = ["conv", "act", "norm"]
    if size[0] >= 4:
        kinds.append("pool")
    if depth < 2:
        kinds += ["residual", "inception", "repeat"]
    kind = draw(st.sampled_from(kinds))
    if kind == "conv":
        return draw(conv_layer(size[0]))
    if kind == "act":
        return draw(st.sampled_from(("relu", "relu6", "gelu", "silu", "tanh", "sigmoid",
                                     "leaky(0.1)", "elu", "id", "dropout 0.1")))
    if kind == "norm":
        return draw(st.sampled_from(("bn", "ln", "inorm")))
    if kind == "pool":
        size[0] //= 2
        return draw(st.sampled_from(("maxpool k2", "avgpool k2")))
    if kind == "residual":
        body = " ".join(draw(st.lists(item([0], depth + 1), min_size=1, max_size=3)))
        return f"residual(proj)< {body} > relu"
    if kind == "inception":
        branches = [" ".join(draw(st.lists(item([0], depth + 1), min_size=1, max_size=2)))
                    for _ in range(draw(st.integers(1, 3)))]
        return "inception< " + " | ".join(branches) + " >"
    if kind == "repeat":
        return f"({draw(item([0], depth + 1))}) * {draw(st.integers(0, 3))}"


@st.composite
def valid_spec(draw) -> str:
    size = [draw(st.sampled_from((4, 8, 16)))]
    channels = draw(st.integers(1, 4))
    lines = [f"network {draw(st.sampled_from(('Net', 'class', 'import', 'N2')))}",
             f"input {channels}x{size[0]}x{size[0]}"]
    if draw(st.booleans()):
        lines += ["block unit(c, s=1):", "    conv k3 s=s p1 c bn relu"]
        lines.append(f"unit({draw(st.integers(1, 8))})")
    layers = draw(st.lists(item(size), min_size=1, max_size=6))
    labels = draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=len(layers)))
    lines += [f"{label}: {layer}" for label, layer in zip(labels, layers)]
    lines += layers[len(labels):]
    if draw(st.booleans()):
        lines.append("gap flatten fc 3")
    return "\n".join(lines) + "\n"


@st.composite
def mutated_spec(draw) -> str:
    """A valid spec with a few edits: a half-written spec from an editor."""
    text = draw(valid_spec())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(("insert", "delete", "duplicate", "truncate")))
        if edit == "insert":
            text = text[:at] + draw(st.sampled_from(WORDS)) + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
        elif edit == "duplicate":
            text = text[:at] + text[at:at + 20] * draw(st.integers(2, 40)) + text[at:]
        else:
            text = text[:at]
    return text


def word_soup() -> st.SearchStrategy[str]:
    """Random sequences of the language's words and junk."""
    return st.lists(st.sampled_from(WORDS) | st.text(max_size=3), max_size=40).map(" ".join)
