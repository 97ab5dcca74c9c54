"""Breaking long generated lines at commas, as a person (or a formatter) would, so the
generated code stays within ruff's line length."""
from __future__ import annotations

LINE_LENGTH = 100
_OPEN, _CLOSE = "([", ")]"


def wrap_lines(text: str) -> str:
    return "\n".join(wrap(line) for line in text.split("\n"))


def wrap(line: str) -> str:
    """`line` as it is if it fits, else broken inside its first bracket, items packed
    greedily onto continuation lines; items that still do not fit are broken in turn."""
    if len(line) <= LINE_LENGTH or line.lstrip().startswith("#"):
        return line
    start = next((i for i, ch in enumerate(line) if ch in _OPEN), None)
    if start is None:
        return line
    end = _matching(line, start)
    items = _split_items(line[start + 1:end])
    if end is None or len(items) == 0:
        return line
    indent = line[:len(line) - len(line.lstrip())]
    inner = indent + "    "
    # In parentheses that group an expression (`(c0 + k) // 2`), a trailing comma would
    # make a tuple.
    comma = "" if len(items) == 1 and _groups(line, start) else ","
    rows, current = [], ""
    for item in items:
        candidate = f"{current} {item}{comma}" if current else f"{inner}{item}{comma}"
        if current and len(candidate) > LINE_LENGTH:
            rows.append(current)
            candidate = f"{inner}{item}{comma}"
        current = candidate
    rows.append(current)
    rows = [wrap(row) for row in rows]
    return f"{line[:start + 1]}\n" + "\n".join(rows) + f"\n{indent}{line[end:]}"


def _groups(line: str, start: int) -> bool:
    """Whether the bracket at `start` is a parenthesis around an expression (not a call,
    an index or a list)."""
    before = line[:start].rstrip()
    return line[start] == "(" and not (before and (before[-1].isalnum() or
                                                   before[-1] in "_)]"))


def _matching(line: str, start: int) -> int | None:
    depth = 0
    for i in range(start, len(line)):
        if line[i] in _OPEN:
            depth += 1
        elif line[i] in _CLOSE:
            depth -= 1
            if depth == 0:
                return i
    return None


def _split_items(inside: str) -> list[str]:
    items, depth, current = [], 0, ""
    for ch in inside:
        if ch == "," and depth == 0:
            items.append(current.strip())
            current = ""
            continue
        depth += ch in _OPEN
        depth -= ch in _CLOSE
        current += ch
    if current.strip():
        items.append(current.strip())
    return items
