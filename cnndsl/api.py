"""The public API. Everything the command line does goes through these functions."""
from __future__ import annotations

from pathlib import Path

from .errors import CnnError, CnnFileError, CnnUsageError, Diagnostic
from .ir import Network, lower
from .passes import PIPELINE
from .syntax import ast
from .syntax import parse as _parse

SpecSource = str | Path


def parse(text: str | bytes, path: str | Path | None = None) -> ast.Spec:
    """Parse spec text (reported as `path` in errors) into its AST."""
    return _parse(text, path)


def read_spec(src: SpecSource | ast.Spec) -> ast.Spec:
    """A spec from a path, from spec text, or an already parsed spec.

    A `Path`, or a string of one line, names a file (see `locate_spec`); a string holding
    a newline is spec text."""
    if isinstance(src, ast.Spec):
        return src
    if isinstance(src, Path):
        return read_spec_file(src)
    if not isinstance(src, str):
        raise CnnUsageError(f"expected a path or spec text, got {type(src).__name__}")
    if "\n" in src or "\r" in src:
        return _parse(src, None)
    return read_spec_file(locate_spec(src))


# NOTE: naming a spec
# A spec named on the command line (or as a one-line string in the API) is always a file:
# cnndsl never guesses that a name which is not a file is spec text (`cnndsl check resnet50`
# once said "the spec does not say its input shape"). Spec text comes through `-`, stdin.
# `locate_spec` is the one place a name becomes a file: a bare name (no `/`, no `.`) is a
# network of the zoo (see NOTE: names and paths in cnndsl/zoo.py).
STDIN = "-"


def locate_spec(name: str | Path) -> Path:
    """The spec file that `name` (a command-line argument) stands for."""
    from .zoo import is_zoo_name, zoo_path

    if isinstance(name, str) and is_zoo_name(name):
        return zoo_path(name)
    return Path(name)


def read_spec_file(path: str | Path) -> ast.Spec:
    """Parse the spec file at `path`; a `CnnFileError` when it cannot be read (missing, a
    folder, a FIFO or device: anything but a regular file)."""
    from .syntax.files import UnreadableFile, read_spec_bytes, shown_path

    try:
        data = read_spec_bytes(path)
    except UnreadableFile as exc:
        raise CnnFileError(f"{shown_path(path)}: {exc}") from None
    return _parse(data, path)


def open_spec(argument: str, stdin=None) -> ast.Spec:
    """The spec a command-line argument names: `-` reads spec text from `stdin` (a binary
    stream, sys.stdin's by default); anything else is a file (see NOTE: naming a spec)."""
    if argument == STDIN:
        import sys

        from .syntax.parser import MAX_FILE_BYTES

        stream = stdin if stdin is not None else sys.stdin.buffer
        return _parse(stream.read(MAX_FILE_BYTES + 1), None, name="<stdin>")
    return read_spec_file(locate_spec(argument))


def check_library(src: SpecSource | ast.Spec, *, params: dict | None = None) -> int:
    """Check a file of blocks alone (no network) as far as it can be without a call: its
    `use`s, params and block bodies (see ir/block_check.py); its number of blocks, or a
    `CnnError`."""
    from .ir import check_library as check

    return check(read_spec(src), params)


def build(src: SpecSource | ast.Spec, *, params: dict | None = None,
          input_shape: tuple[int, ...] | str | None = None,
          fuse_bn: bool = False, fully_conv: bool = False) -> Network:
    """Parse, lower and run every pass: the checked network, or a `CnnError`.
    `fuse_bn=True` then folds BatchNorm layers for inference (passes/fold_batchnorm.py);
    `fully_conv=True` turns the fc layers after a spatial map into convs, so that a larger
    `input_shape` gives a score map (passes/fully_conv.py, docs/fully_conv.md)."""
    if isinstance(input_shape, str):
        input_shape = parse_shape(input_shape)
    spec = read_spec(src)
    del src  # so that the AST is freed once lowered, unless the caller holds it (check does not)
    if fully_conv:
        network = _fully_conv_network(spec, params, input_shape)
    else:
        network = lower(spec, params=params, input_shape=input_shape)
        # Nothing else holds the network lowering just made, so the passes annotate it in
        # place instead of copying it once each (a third of `check` on a 10,000-layer spec),
        # and infer_shapes keeps the shapes lowering computed (`lowered`).
        network = _analyse(network, lowered=True)
    del spec
    if fuse_bn:
        from .passes.fold_batchnorm import fold_batchnorm

        # The analyses describe the folded network; the contracts were about the spec's.
        network = _analyse(fold_batchnorm(network), contracts=False)
        network.warnings = _once(network.warnings)
    return network


def _analyse(network: Network, *, contracts: bool = True, lowered: bool = False) -> Network:
    """`network` annotated in place by the passes of the pipeline (`lowered`: as lowering
    made it, its shapes already inferred)."""
    from .passes import check_contracts

    for run_pass in PIPELINE:
        if contracts or run_pass is not check_contracts:
            network = run_pass(network, inplace=True, lowered=lowered)
    return network


def _fully_conv_network(spec: ast.Spec, params: dict | None,
                        input_shape: tuple[int, ...] | None) -> Network:
    """The spec's network with its fcs converted (passes/fully_conv.py), at `input_shape`.

    The fcs were made for the spec's own input: the network is built and checked there
    first (its `assert`s hold there), and the kernels come from its map sizes. The
    converted network is then lowered at `input_shape`; the asserts are not checked again
    (its MACs grow with the input)."""
    from .passes.fully_conv import fully_conv

    own = spec.input_shape.dims if spec.input_shape else input_shape
    trained = _analyse(lower(spec, params=params, input_shape=own))
    target = trained if input_shape in (None, own) else \
        lower(spec, params=params, input_shape=input_shape)
    network = _analyse(fully_conv(target, trained=trained), contracts=False)
    network.warnings = _once(network.warnings)
    return network


def _once(warnings: list[Diagnostic]) -> list[Diagnostic]:
    """Each warning once: the analyses re-run on a folded network find the same ones."""
    unique: dict = {}
    for w in warnings:
        unique.setdefault((w.severity, w.message, w.span.location if w.span else None), w)
    return list(unique.values())


def summary(src: SpecSource | ast.Spec | Network, *, depth: int | None = None,
            batch: int = 1, optimizer: str = "sgd", dtype: str = "fp32",
            params: dict | None = None,
            input_shape: tuple[int, ...] | str | None = None,
            fully_conv: bool = False) -> Summary:
    """The per-layer table and totals of a spec (or a built network); see docs/analysis.md.

    `depth` folds deeper rows into their scope's (0: totals only); `batch`, `optimizer`
    and `dtype` are those of the training-memory estimate (passes/memory.py);
    `params`, `input_shape` and `fully_conv` as in `build`.
    `str(result)` is the table, `result.json()` the JSON document, `result.data` the dict.
    """
    from .backends.summary import summary_data
    from .passes.memory import memory

    network = src if isinstance(src, Network) else \
        build(src, params=params, input_shape=input_shape, fully_conv=fully_conv)
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)
                              or depth < 0):
        raise CnnUsageError(f"depth must be a whole number, 0 or more, got {depth!r}")
    network = memory(network, batch=batch, optimizer=optimizer, dtype=dtype)
    return Summary(summary_data(network, depth), network.warnings)


class Summary:
    """A network's summary: `data` (the JSON schema), `text()` and `json()`; `warnings`
    holds the network's warnings and notes as diagnostics, located in their own files."""

    def __init__(self, data: dict, warnings: list[Diagnostic] | None = None) -> None:
        self.data = data
        self.warnings = list(warnings or [])

    def text(self) -> str:
        from .backends.summary import summary_text

        return summary_text(self.data)

    def json(self) -> str:
        from .backends.summary import summary_json

        return summary_json(self.data)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        """The table: what a notebook or a REPL shows for a summary."""
        return self.text()

    def _repr_html_(self) -> str:
        from html import escape

        return f"<pre>{escape(self.text())}</pre>"


def render(src: SpecSource | ast.Spec | Network, *, depth: int | None = None,
           rankdir: str | None = None, shapes: bool = True, params: dict | None = None,
           input_shape: tuple[int, ...] | str | None = None, fully_conv: bool = False):
    """The architecture diagram (a graphviz `Digraph`) of a spec or a built network; see
    cnndsl/backends/graphviz.py for `depth`, `rankdir` and `shapes`."""
    from .backends.graphviz import render as draw

    network = src if isinstance(src, Network) else \
        build(src, params=params, input_shape=input_shape, fully_conv=fully_conv)
    return draw(network, depth=depth, rankdir=rankdir, shapes=shapes)


# NOTE: notebook display
# The IR imports no backend (the layers run one way: tests/test_architecture.py), so the
# API, which knows both, teaches a `Network` to show itself as its diagram in a notebook.
def _network_svg(network: Network) -> str:
    from .backends.graphviz import pipe

    return pipe(render(network), "svg").decode("utf-8")


Network._repr_svg_ = _network_svg


def format(text: str | bytes, path: str | Path | None = None) -> str:
    """`text` in the canonical layout of `cnndsl fmt` (docs/editor.md): idempotent, every
    comment kept, the same AST. Raises the spec's `CnnError` if it does not parse."""
    from .syntax.format import format_text

    return format_text(text, path)


def parse_shape(text: str) -> tuple[int, ...]:
    """`3x224x224` -> (3, 224, 224)."""
    try:
        dims = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CnnUsageError(f"bad shape {text!r}", hint="write it as CxHxW, e.g. 3x224x224") \
            from None
    if len(dims) not in (1, 3) or min(dims) <= 0:
        raise CnnUsageError(f"bad shape {text!r}", hint="write it as CxHxW, e.g. 3x224x224")
    return dims


def parse_assignment(text: str) -> tuple[str, int | float]:
    """`width=32` -> ("width", 32): a --set value, written as a number is in a spec (no
    `1_6`, no full-width digits, nothing infinite), with an optional leading `-`."""
    import math

    from .ir.evaluate import MAX_MAGNITUDE
    from .syntax.parser import number_pattern
    from .syntax.transform import number_value

    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name.isidentifier() or not name.isascii():
        raise CnnUsageError(f"bad --set {text!r}", hint="write it as name=value, e.g. width=32")
    digits = value.removeprefix("-")
    if not number_pattern().fullmatch(digits):
        raise CnnUsageError(f"bad --set {text!r}: {value!r} is not a number",
                            hint="write it as in a spec: 32, 0.5, 1e-3, 30M")
    number = number_value(digits)
    if not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
        raise CnnUsageError(f"bad --set {text!r}: {value!r} is too large")
    return name, -number if value.startswith("-") else number


__all__ = ["CnnError", "STDIN", "Summary", "build", "format", "locate_spec", "open_spec",
           "parse", "parse_assignment", "parse_shape", "read_spec", "read_spec_file",
           "render", "summary"]
