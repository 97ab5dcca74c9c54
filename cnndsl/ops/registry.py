"""The ops table: one `OpSpec` per layer type, saying everything cnndsl knows about it.

Passes and backends never switch on op names; they ask the op's entry. A user adds a layer
with `register_layer(OpSpec(...))` (see "Custom layers" in docs/language.md) and then
writes it in specs like a built-in.

# NOTE: rule signatures
# Every rule takes the layer's resolved options `opts` (a dict, see `OpSpec.options`) and
# the shapes of its inputs `ins` (a list of `Shape`s, in edge order); rules that count also
# take the output shape `out`. A rule that finds its inputs unacceptable raises
# `ShapeProblem(message, hint)`; the caller turns it into an error located at the layer.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]  # (C, H, W) for feature maps, (F,) for flat vectors


class ChannelsLast(tuple):
    """The shape (C, H, W) of a feature map stored channels-last, (N, H, W, C).

    # NOTE: channels-last regions
    # Between `nhwc` and `nchw` (torchvision's Permute modules, as in ConvNeXt's block) the
    # tensor is stored (N, H, W, C), and `ln` and `fc` act per position on its last dim:
    # nn.LayerNorm(C), nn.Linear(C, out). Shapes stay (C, H, W) logically, so the rules,
    # counts and the summary read them as usual; the type of the shape tuple is the layout
    # flag. Only ops with `channels_last=True` take such an input (pointwise ones, `ln`,
    # `fc`, `dropout`, `droppath`, `add`, `nchw`); any other is an error whose hint is
    # `nchw`, and so is a network that ends channels-last.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"ChannelsLast({tuple(self)!r})"


def same_layout(like: Shape, shape) -> Shape:
    """`shape` as a tuple in the layout of `like` (see ChannelsLast)."""
    return ChannelsLast(shape) if isinstance(like, ChannelsLast) else tuple(shape)


class ShapeProblem(Exception):
    """Raised by a rule: the layer cannot take these inputs or options."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class OptionSpec:
    """One option of a layer.

    kind: `int`, `float`, `pair` (an int or HxW pair: `k3`, `k1x7`, `k=[1,7]`), `padding`
    (a pair or `same`), `flag` (a bool set by a bare word), `choice` (one of `choices`),
    `table` (a connection table: a list of lists of input maps).
    """

    name: str
    kind: str
    default: Any = None
    compact: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    below: float | None = None  # an exclusive upper bound
    above: float | None = None  # an exclusive lower bound (`eps` > 0)
    maximum: float | None = None
    doc: str = ""


def _identity_shape(opts: dict, ins: list[Shape]) -> Shape:
    return ins[0]


def _zero(opts: dict, ins: list[Shape], out: Shape) -> int:
    return 0


@dataclass(frozen=True)
class RfWindow:
    """How a layer moves the receptive field along each axis (H, W): a sliding window."""

    k: tuple[int, int]
    s: tuple[float, float]
    p: tuple[float, float]
    d: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class OpSpec:
    """Everything cnndsl knows about one layer type.

    name        the keyword in specs
    family      conv, pool, norm, activation, tensor, lecun, merge or custom (colours, docs)
    options     the options it takes; `positional` is the option a bare value fills
    flags       bare words that set an option: {"nobias": ("bias", False)}
    resolve     (opts, ins) -> opts: fills values that depend on the input (`dw`, `p=same`)
    shape       (opts, ins) -> the output shape
    rf          (opts, ins) -> an RfWindow, "global" (sees the whole input), or None
                (pointwise: the receptive field passes through unchanged)
    params, macs, connections
                (opts, ins, out) -> int: see cnndsl/passes/count.py for the conventions
    saves       what autograd keeps for the backward pass in training: any of "input"
                (every input tensor), "output", "indices" (int64, one per output element),
                "mask" (one byte per output element), "scratch" (an fp32 intermediate of
                the output's size) or ("scratch", elements); or a rule (opts, ins, out)
                giving them. See cnndsl/passes/memory.py
    view        the output is a view of the input (no new memory), e.g. `flatten`
    torch       (opts, ins, out) -> a torch constructor expression as source text, or None
                for layers without a module (see cnndsl/backends/torch_source.py)
    internal    an IR-only op (the merges), not a layer keyword
    channels_last  it takes a channels-last input (see ChannelsLast)
    """

    name: str
    family: str
    doc: str = ""
    options: tuple[OptionSpec, ...] = ()
    positional: str | None = None
    flags: Mapping[str, tuple[str, Any]] = field(default_factory=dict)
    resolve: Callable[[dict, list[Shape]], dict] | None = None
    shape: Callable[[dict, list[Shape]], Shape] = _identity_shape
    rf: Callable[[dict, list[Shape]], Any] | None = None
    params: Callable[[dict, list[Shape], Shape], int] = _zero
    macs: Callable[[dict, list[Shape], Shape], int] = _zero
    connections: Callable[[dict, list[Shape], Shape], int] | None = None
    saves: tuple | Callable[[dict, list[Shape], Shape], tuple] = ("input",)
    view: bool = False
    torch: Callable[[dict, list[Shape], Shape], str | None] | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    internal: bool = False
    channels_last: bool = False

    def option(self, name: str) -> OptionSpec | None:
        return self._by_name.get(name)

    @functools.cached_property
    def _by_name(self) -> dict[str, OptionSpec]:
        # Looked up for every option of every layer; the first of a name, as a scan finds.
        by_name: dict[str, OptionSpec] = {}
        for opt in self.options:
            by_name.setdefault(opt.name, opt)
        return by_name

    def compact_option(self, letter: str) -> OptionSpec | None:
        for opt in self.options:
            if opt.compact == letter:
                return opt
        return None

    def flag(self, word: str) -> tuple[str, Any] | None:
        """What a bare word sets: a `flags` entry, or a flag option by its own name."""
        if word in self.flags:
            return self.flags[word]
        opt = self.option(word)
        return (word, True) if opt is not None and opt.kind == "flag" else None

    def defaults(self) -> dict:
        return dict(self._defaults)

    @functools.cached_property
    def _defaults(self) -> dict:
        return {opt.name: opt.default for opt in self.options}


MAX_ELEMENTS = 2**34  # one activation this large (64 GiB in fp32) is certainly a mistake


def node_shape(spec: OpSpec, opts: dict, ins: list[Shape]) -> Shape:
    """The output shape of one layer by its op's rule, checked: positive whole sizes, and
    no more than MAX_ELEMENTS per example. Raises `ShapeProblem`."""
    from .geometry import fmt_shape

    for shape in ins:
        if type(shape) is not tuple:
            _check_layout(spec, ins)
            break
    out = spec.shape(opts, ins)
    out = out if isinstance(out, ChannelsLast) else tuple(out)
    if not out:
        raise ShapeProblem(f"`{spec.name}` gives an invalid shape {tuple(out)}")
    size, plain = 1, True
    for v in out:  # a loop rather than any(...): this runs for every layer
        if type(v) is not int:
            plain = False
            if not isinstance(v, int):
                raise ShapeProblem(f"`{spec.name}` gives an invalid shape {tuple(out)}")
        if v <= 0:
            raise ShapeProblem(f"`{spec.name}` gives an invalid shape {tuple(out)}")
        size *= v
    if size > MAX_ELEMENTS:
        raise ShapeProblem(f"`{spec.name}` output {fmt_shape(out)} has {size:,} elements per "
                           "example, more than any memory holds",
                           "check the channel counts and the input size")
    # Equal shapes share one tuple (a long network has few distinct shapes and a tuple a
    # node); a channels-last shape and symbolic sizes (the torch backend's probes, which
    # equal plain numbers) are kept apart.
    if len(_SHAPES) >= 100_000 or type(out) is not tuple or not plain:
        return out
    return _SHAPES.setdefault(out, out)


_SHAPES: dict[tuple[int, ...], tuple[int, ...]] = {}


def is_interned(shape) -> bool:
    """Whether `shape` is the one tuple `node_shape` keeps for its value: a channels-first
    shape of plain ints (never one with symbolic sizes, which equal plain numbers)."""
    return _SHAPES.get(shape) is shape


def _check_layout(spec: OpSpec, ins: list[Shape]) -> None:
    """Channels-last inputs only where the op takes them (the NOTE on ChannelsLast)."""
    last = [isinstance(shape, ChannelsLast) for shape in ins]
    if not any(last):
        return
    if not spec.channels_last:
        raise ShapeProblem(f"`{spec.name}` needs a channels-first feature map, but its input "
                           "is channels-last (after `nhwc`)", "put `nchw` before it")
    if not all(last):
        raise ShapeProblem("cannot merge a channels-last tensor (after `nhwc`) with a "
                           "channels-first one", "put `nchw` at the end of the channels-last "
                                                 "branch")


_REGISTRY: dict[str, OpSpec] = {}

# Names with a meaning of their own in the language; no layer may take them.
RESERVED = frozenset({
    "residual", "inception", "concat", "add", "gate", "dense", "aux", "seq", "repeat", "id",
    "in", "block", "param", "use", "assert", "network", "input", "output", "init", "default",
    "min", "max", "round", "ceil", "floor", "divisible", "regnet_width", "regnet_depth",
    "regnet_group", "regnet_stages",
})


def register_layer(spec: OpSpec, *, replace: bool = False) -> OpSpec:
    """Add a layer type to the language. Returns the spec, so it works as a decorator's end."""
    from ..errors import CnnUsageError

    if not spec.name.isidentifier() or spec.name.startswith("_"):
        raise CnnUsageError(f"a layer name must be an identifier, got {spec.name!r}")
    if spec.name in RESERVED and not spec.internal:
        raise CnnUsageError(f"`{spec.name}` is a word of the language, not a layer name")
    if spec.name in _REGISTRY and not replace:
        raise CnnUsageError(f"a layer named `{spec.name}` is already registered",
                            hint="pass replace=True to redefine it")
    _REGISTRY[spec.name] = spec
    return spec


def unregister_layer(name: str) -> None:
    _REGISTRY.pop(name, None)


def lookup(name: str) -> OpSpec | None:
    return _REGISTRY.get(name)


def layer_names() -> list[str]:
    """Every keyword a spec may use as a layer."""
    return sorted(n for n, s in _REGISTRY.items() if not s.internal)


def all_ops() -> dict[str, OpSpec]:
    return dict(_REGISTRY)
