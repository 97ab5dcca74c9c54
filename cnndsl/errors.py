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
        where = f"{printable(self.span.location)}: " if self.span is not None else ""
        lines = [f"{where}{self.severity}: {printable(self.message)}"]
        if self.span is not None:
            lines.extend(_excerpt(self.span))
        if self.hint:
            lines.append(f"hint: {printable(self.hint)}")
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


# NOTE: echoing source lines
# A diagnostic quotes the line it is about, so what the line holds reaches a terminal. A
# character that is not printable (a control character, a bidirectional override such as
# U+202E that would reorder the text shown) is written as its escape (`\u202e`), and a
# line longer than EXCERPT_WIDTH is quoted only around the span, with `...` for the rest:
# a 1 MB line gives a line of about a hundred characters, not a megabyte and its caret.
EXCERPT_WIDTH = 100
_CONTEXT = 20  # characters kept before the span in a long line


def _excerpt(span: Span) -> list[str]:
    text = span.source.line_text(span.line)
    if not text.strip():
        return []
    start = span.col - 1
    width = max(1, min(span.end - span.start, len(text) + 1 - span.col))
    left, right = 0, len(text)
    if len(text) > EXCERPT_WIDTH:
        left = max(0, min(start - _CONTEXT, len(text) - EXCERPT_WIDTH))
        right = min(len(text), left + EXCERPT_WIDTH)
        width = max(1, min(width, right - start))
    shown, caret_at, caret_width = "...", 3, 0
    if left == 0:
        shown, caret_at = "", 0
    for i in range(left, right):
        piece = _shown_char(text[i])
        if i < start:
            caret_at += len(piece)
        elif i < start + width:
            caret_width += len(piece)
        shown += piece
    if right < len(text):
        shown += "..."
    return ["    " + shown, "    " + " " * caret_at + "^" * max(1, caret_width)]


def _shown_char(ch: str) -> str:
    if ch == "\t":
        return " "
    return ch if ch.isprintable() else ascii(ch)[1:-1]


def printable(text: str) -> str:
    """`text` with every character that is not printable escaped, newlines kept."""
    if text.isprintable():
        return text
    return "\n".join("".join(_shown_char(ch) if ch != "\t" else ch for ch in line)
                     for line in text.split("\n"))


class CnnError(Exception):
    """The root of every error a spec (or a call of the API) can cause."""

    internal = False  # a bug of cnndsl's found by its own check (exit status 3)

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


class CnnWeightsError(CnnError):
    """A checkpoint that cannot be read, or does not fit the network (cnndsl/weights.py)."""


class CnnUsageError(CnnError):
    """A bad call of the API or the command line (not located in a spec)."""


class CnnImportError(CnnError):
    """A PyTorch model that cannot be imported exactly (cnndsl.from_torch, `cnndsl import`)."""


class CnnImporterBug(CnnImportError):
    """The spec the importer wrote does not build: a bug of the importer, not the model's."""

    internal = True


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, if one is close enough."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
