"""Source text and spans: where in which file a piece of a spec was written."""
from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, eq=False)
class Source:
    """One spec text and the name it is reported under (a path, or `<string>`)."""

    text: str
    name: str = "<string>"
    path: Path | None = None
    # Offsets of the lines' starts, as machine integers (8 bytes a line, not 36).
    _line_starts: array = field(default_factory=lambda: array("q"), repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = self._line_starts
        starts.append(0)
        find = self.text.find
        at = find("\n")
        while at >= 0:
            starts.append(at + 1)
            at = find("\n", at + 1)

    def line_text(self, line: int) -> str:
        """The text of 1-based `line`, without its newline."""
        if not 1 <= line <= len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        line = bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def span(self, start: int, end: int) -> Span:
        return Span(self, start, end if end > start else start)


class Span:
    """A range of characters in a source. `line` and `col` (1-based) are worked out when
    asked for: a spec's AST has several spans a layer and few are ever shown."""

    __slots__ = ("source", "start", "end")

    def __init__(self, source: Source, start: int, end: int) -> None:
        self.source = source
        self.start = start
        self.end = end

    def __repr__(self) -> str:
        return f"Span({self.source.name}:{self.line}:{self.col})"

    def __reduce__(self):
        return Span, (self.source, self.start, self.end)

    @property
    def line(self) -> int:
        return self.source.position(self.start)[0]

    @property
    def col(self) -> int:
        return self.source.position(self.start)[1]

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of `other`."""
        if other.source is not self.source:
            return self
        return Span(self.source, self.start, self.end if self.end > other.end else other.end)

    @property
    def text(self) -> str:
        return self.source.text[self.start:self.end]

    @property
    def location(self) -> str:
        line, col = self.source.position(self.start)
        return f"{self.source.name}:{line}:{col}"
