"""Diagnostics: every error and warning of an analysis, located, with its hint.

A problem inside a used file is published on that file (when the editor does not have it
open: then its own analysis speaks for it) and, in the document, at the `use` line that
brings it in. A hint of the form "did you mean `x`?" travels in the diagnostic's `data`
for the code action (actions.py)."""
from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as lsp

from ..errors import Diagnostic
from .analysis import Analysis, use_base
from .convert import LineMap

SOURCE = "cnndsl"
_SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning,
             "note": lsp.DiagnosticSeverity.Information}
_DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")


def to_lsp(diag: Diagnostic, lines: LineMap) -> lsp.Diagnostic:
    span = diag.span
    where = lines.range(span.start, span.end) if span is not None else lines.range(0, 0)
    message = diag.message + (f"\nhint: {diag.hint}" if diag.hint else "")
    data = None
    if diag.hint and (fix := _DID_YOU_MEAN.search(diag.hint)):
        data = {"replacement": fix.group(1)}
    return lsp.Diagnostic(range=where, message=message, source=SOURCE, data=data,
                          severity=_SEVERITY.get(diag.severity, lsp.DiagnosticSeverity.Error))


def publishable(analysis: Analysis) -> tuple[list[lsp.Diagnostic], dict[Path, list]]:
    """The document's diagnostics, and those of the used files it reports, by path."""
    own: list[lsp.Diagnostic] = []
    elsewhere: dict[Path, list[lsp.Diagnostic]] = {}
    uses = _use_spans(analysis)
    for diag in analysis.diagnostics:
        span = diag.span
        if span is None or span.source.name == analysis.source_name:
            if diag.severity == "note" and diag.message == "the file is used here":
                continue  # said below, with the used file's message
            own.append(to_lsp(diag, analysis.lines))
            continue
        path = span.source.path.resolve() if span.source.path is not None else None
        if path is not None:
            elsewhere.setdefault(path, []).append(to_lsp(diag, LineMap(span.source.text)))
        use = uses.get(path) or (next(iter(uses.values())) if uses else None)
        if use is not None:
            shown = f"{Path(span.source.name).name}:{span.line}:{span.col}"
            own.append(to_lsp(Diagnostic(f"in the used file {shown}: {diag.message}", use,
                                         diag.hint, diag.severity), analysis.lines))
    return own, elsewhere


def _use_spans(analysis: Analysis) -> dict:
    """The `use` lines of the document, by the real path of the file they bring in (a file
    used through another is reported at the first `use`)."""
    spec = analysis.spec
    if spec is None:
        return {}
    found = {}
    base = use_base(spec)
    for use in spec.uses:
        found[(base / use.path).resolve()] = use.span
    return found
