"""One analysis of a document: its tokens, AST, built network and diagnostics.

Made by the public API (`cnndsl.parse`, `cnndsl.build`) on the editor's text, never by a
pipeline of its own. A text that does not parse or build still gets an analysis (with the
errors and whatever came before them); the server keeps the last analysis that built for
the features that need a network (see server.py, NOTE: stale analyses).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import api
from ..errors import CnnError, Diagnostic
from ..ir import Network
from ..syntax import ast
from .convert import LineMap


@dataclass
class Analysis:
    uri: str
    path: Path | None
    version: int | None
    text: str
    lines: LineMap
    spec: ast.Spec | None = None
    network: Network | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    used: dict[Path, ast.Spec] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def source_name(self) -> str:
        """The name the document's spans are reported under (as `cnndsl.parse` names it)."""
        return str(self.path) if self.path is not None else "<string>"

    @property
    def source(self):
        return self.spec.source if self.spec is not None else None

    def owns(self, span) -> bool:
        """Whether `span` was written in this document."""
        return span is not None and self.spec is not None and span.source is self.spec.source


def analyse(uri: str, text: str, version: int | None = None,
            path: Path | None = None) -> Analysis:
    started = time.perf_counter()
    result = Analysis(uri, path, version, text, LineMap(text))
    try:
        result.spec = api.parse(text, path)
        result.used = used_specs(result.spec)
        if result.spec.body is None and result.spec.blocks:
            _check_library(result.spec)
        else:
            result.network = api.build(result.spec)
            result.diagnostics.extend(result.network.warnings)
    except CnnError as exc:
        result.diagnostics[:0] = exc.diagnostics
    result.seconds = time.perf_counter() - started
    return result


def _check_library(spec: ast.Spec) -> None:
    """A file of blocks alone: its params, used files and block bodies must be right."""
    api.check_library(spec)


_PARSED: dict[Path, tuple[tuple[int, int], ast.Spec]] = {}


def used_specs(spec: ast.Spec) -> dict[Path, ast.Spec]:
    """The files `spec` uses, directly or not, parsed (those that parse), by real path."""
    found: dict[Path, ast.Spec] = {}
    pending = [spec]
    while pending:
        current = pending.pop()
        base = use_base(current)
        for use in current.uses:
            target = (base / use.path).resolve()
            if target in found or not target.is_file():
                continue
            used = _parse_cached(target)
            if used is not None:
                found[target] = used
                pending.append(used)
    return found


def use_base(spec: ast.Spec) -> Path:
    """The folder `use` paths of `spec` are relative to."""
    path = spec.source.path
    return (path.parent if path is not None else Path.cwd()).resolve()


def _parse_cached(path: Path) -> ast.Spec | None:
    try:
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        if path in _PARSED and _PARSED[path][0] == key:
            return _PARSED[path][1]
        spec = api.parse(path.read_bytes(), path)
    except (OSError, CnnError):
        return None
    _PARSED[path] = (key, spec)
    return spec
