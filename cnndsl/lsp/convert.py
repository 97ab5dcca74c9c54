"""Offsets in a spec's text <-> LSP positions (lines from 0, columns in UTF-16 code units)."""
from __future__ import annotations

from lsprotocol import types as lsp


class LineMap:
    """Line starts of one text, for both directions of the conversion."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        pos = text.find("\n")
        while pos >= 0:
            self.starts.append(pos + 1)
            pos = text.find("\n", pos + 1)

    def line_of(self, offset: int) -> int:
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def line_text(self, line: int) -> str:
        if not 0 <= line < len(self.starts):
            return ""
        start = self.starts[line]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def position(self, offset: int) -> lsp.Position:
        offset = max(0, min(offset, len(self.text)))
        line = self.line_of(offset)
        prefix = self.text[self.starts[line]:offset]
        return lsp.Position(line=line, character=_utf16_len(prefix))

    def range(self, start: int, end: int) -> lsp.Range:
        return lsp.Range(start=self.position(start), end=self.position(max(start, end)))

    def offset(self, position: lsp.Position) -> int:
        if position.line >= len(self.starts):
            return len(self.text)
        line = self.line_text(position.line)
        units = 0
        for i, ch in enumerate(line):
            if units >= position.character:
                return self.starts[position.line] + i
            units += 2 if ord(ch) > 0xFFFF else 1
        return self.starts[position.line] + len(line)


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
