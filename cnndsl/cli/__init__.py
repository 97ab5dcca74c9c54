"""The `cnndsl` command: a thin layer over the public API.

Each subcommand is a module here with `add_parser(subparsers)` that sets `run(args) -> int`
as the parser's default. Exit status: 0 success, 1 an error in a spec or a spec file that
cannot be read (missing, a folder, a FIFO), 2 bad usage (options, output paths), 3 an
internal error (a bug).
A FILE argument is always a path (see NOTE: naming a spec in cnndsl/api.py); `-` is stdin.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import CnnError, CnnUsageError
from ..syntax.files import shown_path
from . import check, compile, convert_weights, export, fmt, import_torch, lsp, render, summary, zoo

SUBCOMMANDS = (check, summary, compile, export, render, convert_weights, zoo, fmt, lsp,
               import_torch)


def shared_options() -> argparse.ArgumentParser:
    """Options every subcommand that builds a network takes."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                        dest="assignments", help="override a `param` of the spec")
    parent.add_argument("--input", metavar="CxHxW", help="override the spec's input shape")
    parent.add_argument("--debug", action="store_true",
                        help="show Python tracebacks of internal errors")
    return parent


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnndsl", description="Check .cnn network specs and compile them to PyTorch, "
                                   "summaries and diagrams.")
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parent = shared_options()
    for command in SUBCOMMANDS:
        command.add_parser(sub, parent)
    return parser


# NOTE: garbage collection in the command
# A command is a short process that builds one big, acyclic web of objects (tokens, AST,
# graph) and exits. With CPython's default thresholds the collector rescans that web again
# and again as it grows, a third of `check`'s time on a 10,000-layer spec
# (bench/, docs/benchmarks.md). Collecting rarely keeps memory bounded all the same. The
# caller's thresholds come back afterwards: `main` is also called in-process (tests).
GC_THRESHOLDS = (50_000, 20, 100)


def main(argv: list[str] | None = None) -> int:
    import gc

    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return _main(argv)
    finally:
        gc.set_threshold(*before)


def _main(argv: list[str] | None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        check_paths(args)
        return args.run(args)
    except CnnError as exc:
        report(exc)
        return exit_status(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        else:
            print(f"cnndsl: internal error: {type(exc).__name__}: {exc}\n"
                  "(this is a bug in cnndsl; rerun with --debug for the traceback)",
                  file=sys.stderr)
        return 3


# Options whose value, when given, cannot be empty (`-o ""` is not "no -o").
_NOT_EMPTY = {"output": "-o", "input": "--input", "class_name": "--class-name",
              "weights": "--weights"}


def check_paths(args) -> None:
    """Usage errors the commands share: an empty option value, and an output path that
    is one of the command's inputs (the spec, a file it uses, a checkpoint)."""
    for attr, flag in _NOT_EMPTY.items():
        if getattr(args, attr, None) == "":
            raise CnnUsageError(f"{flag}: the value is empty")
    files = [getattr(args, "file", None), *(getattr(args, "files", None) or ())]
    if "" in files:
        raise CnnUsageError("FILE: the path is empty")
    output = getattr(args, "output", None)
    if not output or output == "-":
        return
    from ..api import locate_spec

    inputs = [getattr(args, attr, None) for attr in ("checkpoint", "weights")]
    spec = getattr(args, "file", None)
    if spec and spec != "-":
        try:
            inputs.append(str(locate_spec(spec)))  # a zoo name: its file
        except CnnError:
            pass  # the command reports it
    for name in (n for n in inputs if n):
        for path in (name, *_used_files(name)):
            if _same_file(output, path):
                raise CnnUsageError(f"-o {shown_path(output)}: that is an input of this "
                                    f"command ({shown_path(path)}), which would be replaced",
                                    hint="write the output to another path")


def _used_files(name: str) -> list[str]:
    """The files a spec `use`s directly (none where it cannot be read or parsed)."""
    from ..syntax import parse
    from ..syntax.files import UnreadableFile, read_spec_bytes

    try:
        spec = parse(read_spec_bytes(name), name)
    except (UnreadableFile, CnnError):
        return []
    return [str(Path(name).parent / use.path) for use in spec.uses]


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def exit_status(exc: CnnError) -> int:
    return 3 if exc.internal else 2 if isinstance(exc, CnnUsageError) else 1


def report(exc: CnnError) -> None:
    """An error on stderr; one not located in a spec says it comes from `cnndsl`."""
    if exc.internal:
        print(f"cnndsl: internal error: {exc}\n(this is a bug in cnndsl)", file=sys.stderr)
        return
    print(f"cnndsl: {exc}" if exc.span is None else exc, file=sys.stderr)


FILE_HELP = "the spec file (`-`: read the spec from stdin)"


def build_options(args) -> dict:
    """The keyword arguments of `cnndsl.build` from the shared options."""
    from ..api import parse_assignment, parse_shape

    params = dict(parse_assignment(a) for a in args.assignments)
    shape = parse_shape(args.input) if args.input else None
    return {"params": params or None, "input_shape": shape,
            "fully_conv": getattr(args, "fully_conv", False)}


def add_fully_conv(parser: argparse.ArgumentParser) -> None:
    """`--fully-conv`, for the commands that build a network for a report or a file."""
    parser.add_argument("--fully-conv", action="store_true",
                        help="turn the fc layers after a spatial map into convs (fc over a "
                             "CxHxW map: conv kHxW; later fcs: conv k1), so that a larger "
                             "--input gives a score map (docs/fully_conv.md)")


class _VersionAction(argparse.Action):
    """`--version`, looked up only when asked for (importlib.metadata is slow to import)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"cnndsl {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cnndsl")
    except PackageNotFoundError:
        return "0+unknown"
