"""The errors a user can cause, and how they are printed.

Every error is a `CnnError` holding one or more `Diagnostic`s. A diagnostic prints as

    path:line:col: error: message
        conv k3 s2 p1 6O bn
                      ^^
    hint: ...

Warnings and notes use the same `Diagnostic` with another severity; passes collect them in
the network's `warnings` list instead of raising.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .syntax.source import Span


@dataclass(frozen=True)
class Diagnostic:
    message: str
    span: Span | None = None
    hint: str | None = None
    severity: str = "error"

    def render(self) -> str:
        where = f"{self.span.location}: " if self.span is not None else ""
        lines = [f"{where}{self.severity}: {self.message}"]
        if self.span is not None:
            lines.extend(_excerpt(self.span))
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def as_json(self) -> dict:
        return {
            "severity": self.severity,
            "file": self.span.source.name if self.span else None,
            "line": self.span.line if self.span else None,
            "col": self.span.col if self.span else None,
            "message": self.message,
            "hint": self.hint,
        }


def _excerpt(span: Span) -> list[str]:
    text = span.source.line_text(span.line)
    if not text.strip():
        return []
    shown = text.expandtabs(1)
    line_end = len(text) + 1
    width = max(1, min(span.end - span.start, line_end - span.col))
    return ["    " + shown, "    " + " " * (span.col - 1) + "^" * width]


class CnnError(Exception):
    """The root of every error a spec (or a call of the API) can cause."""

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None,
                 *, diagnostics: Iterable[Diagnostic] | None = None) -> None:
        diags = list(diagnostics) if diagnostics is not None else [Diagnostic(message, span, hint)]
        self.diagnostics = diags
        super().__init__(message)

    @property
    def span(self) -> Span | None:
        return self.diagnostics[0].span

    @property
    def hint(self) -> str | None:
        return self.diagnostics[0].hint

    @property
    def message(self) -> str:
        return self.diagnostics[0].message

    def __str__(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)

    @classmethod
    def collect(cls, errors: list[CnnError]) -> CnnError:
        """One error reporting all of `errors` together (the first one's class)."""
        if len(errors) == 1:
            return errors[0]
        return type(errors[0])(errors[0].message,
                               diagnostics=[d for e in errors for d in e.diagnostics])


class CnnSyntaxError(CnnError):
    """The text does not follow the grammar."""


class CnnNameError(CnnError):
    """An unknown or misused name: layer, option, block, param, label, file."""


class CnnValueError(CnnError):
    """A value that is out of range, of the wrong kind, or cannot be computed."""


class CnnShapeError(CnnError):
    """Tensor shapes that do not fit together."""


class CnnContractError(CnnError):
    """An `assert` in the spec does not hold."""


class CnnLimitError(CnnError):
    """The spec is larger or deeper than cnndsl accepts."""


class CnnFileError(CnnError):
    """A spec file that cannot be read: missing, a folder, a FIFO or device, unreadable."""


class CnnUsageError(CnnError):
    """A bad call of the API or the command line (not located in a spec)."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, if one is close enough."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
