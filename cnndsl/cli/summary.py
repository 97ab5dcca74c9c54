"""`cnndsl summary FILE`: the per-layer table (or JSON) of shapes, counts and fields."""
from __future__ import annotations

import sys

from ..api import open_spec, summary
from ..passes.memory import DTYPE_BYTES, OPTIMIZER_STATE


def add_parser(sub, parent) -> None:
    from . import FILE_HELP, add_fully_conv

    p = sub.add_parser("summary", parents=[parent], help="per-layer shapes, counts and "
                       "receptive fields", description="Print a spec's per-layer table: "
                       "output shape, parameters, MACs and receptive field, with totals.")
    p.add_argument("file", metavar="FILE", help=FILE_HELP)
    p.add_argument("--json", action="store_true", help="print the JSON document instead")
    p.add_argument("--depth", type=_depth, metavar="N",
                   help="fold layers deeper than N dotted levels into their scope's row "
                        "(0: the totals alone)")
    p.add_argument("--batch", type=_positive, default=1, metavar="B",
                   help="batch size of the training-memory estimate (default 1)")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZER_STATE), default="sgd",
                   help="optimizer of the training-memory estimate (default sgd)")
    p.add_argument("--dtype", choices=sorted(DTYPE_BYTES), default="fp32",
                   help="dtype of the module and its inputs in the memory estimate "
                        "(default fp32)")
    add_fully_conv(p)
    p.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of stdout")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..outputs import write_atomic
    from . import build_options

    result = summary(open_spec(args.file), depth=args.depth, batch=args.batch,
                     optimizer=args.optimizer, dtype=args.dtype, **build_options(args))
    if not args.json:
        for warning in result.warnings:
            print(_located(warning), file=sys.stderr)
    text = result.json() if args.json else result.text()
    if args.output:
        write_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _located(warning) -> str:
    """One line per warning, at its span in its own file (a block from a `use`d file is
    located in that file, not in FILE)."""
    where = f"{warning.span.location}: " if warning.span is not None else ""
    return f"{where}{warning.severity}: {warning.message}"


def _positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _depth(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value
