"""Source text and spans: where in which file a piece of a spec was written."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, eq=False)
class Source:
    """One spec text and the name it is reported under (a path, or `<string>`)."""

    text: str
    name: str = "<string>"
    path: Path | None = None
    _line_starts: list[int] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        self._line_starts.extend(starts)

    def line_text(self, line: int) -> str:
        """The text of 1-based `line`, without its newline."""
        if not 1 <= line <= len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        lo, hi = 0, len(self._line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self._line_starts[lo] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        return Span(self, start, max(end, start), line, col)


@dataclass(frozen=True, eq=False)
class Span:
    """A range of characters in a source; `line` and `col` are 1-based."""

    source: Source
    start: int
    end: int
    line: int
    col: int

    def __repr__(self) -> str:
        return f"Span({self.source.name}:{self.line}:{self.col})"

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of `other`."""
        if other.source is not self.source:
            return self
        return Span(self.source, self.start, max(self.end, other.end), self.line, self.col)

    @property
    def text(self) -> str:
        return self.source.text[self.start:self.end]

    @property
    def location(self) -> str:
        return f"{self.source.name}:{self.line}:{self.col}"
