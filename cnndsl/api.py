"""The public API. Everything the command line does goes through these functions."""
from __future__ import annotations

from pathlib import Path

from .errors import CnnError, CnnUsageError, Diagnostic
from .ir import Network, lower
from .passes import PIPELINE
from .syntax import ast
from .syntax import parse as _parse

SpecSource = str | Path


def parse(text: str | bytes, path: str | Path | None = None) -> ast.Spec:
    """Parse spec text (reported as `path` in errors) into its AST."""
    return _parse(text, path)


def read_spec(src: SpecSource | ast.Spec) -> ast.Spec:
    """A spec from a path, from spec text, or an already parsed spec."""
    if isinstance(src, ast.Spec):
        return src
    if isinstance(src, Path) or (isinstance(src, str) and _looks_like_path(src)):
        path = Path(src)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CnnUsageError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise CnnUsageError(f"{path}: is a folder, not a spec") from None
        except OSError as exc:
            raise CnnUsageError(f"{path}: cannot read it ({exc.strerror})") from None
        return _parse(data, path)
    if not isinstance(src, str):
        raise CnnUsageError(f"expected a path or spec text, got {type(src).__name__}")
    return _parse(src, None)


def _looks_like_path(text: str) -> bool:
    if "\n" in text:
        return False
    if text.endswith(".cnn"):
        return True
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # one line of spec text: too long a name, or a NUL byte
        return False


def build(src: SpecSource | ast.Spec, *, params: dict | None = None,
          input_shape: tuple[int, ...] | str | None = None,
          fuse_bn: bool = False) -> Network:
    """Parse, lower and run every pass: the checked network, or a `CnnError`.
    `fuse_bn=True` then folds BatchNorm layers for inference (passes/fold_batchnorm.py)."""
    if isinstance(input_shape, str):
        input_shape = parse_shape(input_shape)
    network = lower(read_spec(src), params=params, input_shape=input_shape)
    # Nothing else holds the network lowering just made, so the passes annotate it in
    # place instead of copying it once each (a third of `check` on a 10,000-layer spec).
    for run_pass in PIPELINE:
        network = run_pass(network, inplace=True)
    if fuse_bn:
        from .passes import check_contracts
        from .passes.fold_batchnorm import fold_batchnorm

        # The analyses describe the folded network; the contracts were about the spec's.
        network = fold_batchnorm(network)
        for run_pass in PIPELINE:
            if run_pass is not check_contracts:
                network = run_pass(network, inplace=True)
        network.warnings = _once(network.warnings)
    return network


def _once(warnings: list[Diagnostic]) -> list[Diagnostic]:
    """Each warning once: the analyses re-run on a folded network find the same ones."""
    unique: dict = {}
    for w in warnings:
        unique.setdefault((w.severity, w.message, w.span.location if w.span else None), w)
    return list(unique.values())


def summary(src: SpecSource | ast.Spec | Network, *, depth: int | None = None,
            batch: int = 1, optimizer: str = "sgd", params: dict | None = None,
            input_shape: tuple[int, ...] | str | None = None) -> Summary:
    """The per-layer table and totals of a spec (or a built network); see docs/analysis.md.

    `str(result)` is the table, `result.json()` the JSON document, `result.data` the dict.
    """
    from .backends.summary import summary_data
    from .passes.memory import memory

    network = src if isinstance(src, Network) else \
        build(src, params=params, input_shape=input_shape)
    network = memory(network, batch=batch, optimizer=optimizer)
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
    """`width=32` -> ("width", 32): a --set value."""
    from .syntax.transform import number_value

    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name.isidentifier():
        raise CnnUsageError(f"bad --set {text!r}", hint="write it as name=value, e.g. width=32")
    try:
        number = number_value(value)
    except (ValueError, IndexError):
        raise CnnUsageError(f"bad --set {text!r}: {value!r} is not a number") from None
    return name, number


__all__ = ["CnnError", "Summary", "build", "format", "parse", "parse_assignment", "parse_shape",
           "read_spec", "summary"]
