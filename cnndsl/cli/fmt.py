"""`cnndsl fmt [--check] [--diff] FILE...`: rewrite specs in the canonical layout."""
from __future__ import annotations

import difflib
import sys

from ..api import format as format_spec
from ..errors import CnnError, CnnUsageError
from ..outputs import write_atomic
from ..syntax.files import UnreadableFile, read_spec_bytes, shown_path


def add_parser(sub, parent) -> None:
    p = sub.add_parser("fmt", help="rewrite specs in the canonical layout",
                       description="Rewrite .cnn specs in one canonical layout, keeping every "
                                   "comment; a spec that does not parse is left alone. "
                                   "`-` formats standard input to standard output.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a file is not formatted")
    p.add_argument("--diff", action="store_true",
                   help="write nothing; print what would change as a unified diff")
    p.set_defaults(run=run)


def run(args) -> int:
    status = 0
    changed = 0
    for name in args.files:
        try:
            data = _read(name)
            result = format_spec(data, None if name == "-" else name)
        except CnnUsageError as exc:
            print(f"cnndsl: {exc}", file=sys.stderr)
            status = max(status, 1)
            continue
        except CnnError as exc:
            print(exc, file=sys.stderr)
            status = max(status, 1)
            continue
        if name == "-" and not (args.check or args.diff):
            sys.stdout.write(result)
            continue
        text = data.decode("utf-8")  # it parsed, so it is UTF-8
        if result == text:
            continue
        changed += 1
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(True), result.splitlines(True), name, f"{name} (formatted)"))
        elif args.check:
            print(f"would reformat {name}", file=sys.stderr)
        else:
            write_atomic(name, result.encode("utf-8"))
            print(f"reformatted {name}", file=sys.stderr)
    if changed and (args.check or args.diff):
        status = max(status, 1)
    return status


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return read_spec_bytes(name)  # a FIFO or a device is refused, never read
    except UnreadableFile as exc:
        raise CnnUsageError(f"{shown_path(name)}: {exc}") from None
