"""`cnndsl check FILE...`: parse, lower and run every check; one `ok` line per good file."""
from __future__ import annotations

import sys

from ..api import STDIN, build, open_spec
from ..errors import CnnError, CnnUsageError


def add_parser(sub, parent) -> None:
    p = sub.add_parser("check", parents=[parent], help="check specs and report every problem",
                       description="Check .cnn specs: syntax, names, shapes, contracts.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="spec files (`-`: read one spec from stdin)")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.set_defaults(run=run)


def run(args) -> int:
    from . import build_options, exit_status, report

    if args.files.count(STDIN) > 1:
        raise CnnUsageError("`-` (stdin) can be given only once")
    options = build_options(args)
    status = 0
    for path in args.files:
        try:
            spec = open_spec(path)
            if spec.body is None and spec.blocks:  # a library; an empty file is an error
                if not args.quiet:
                    print(f"ok {path}: {len(spec.blocks)} blocks (a library, no network)")
                continue
            network = build(spec, **options)
        except CnnError as exc:
            report(exc)
            status = max(status, exit_status(exc))
            continue
        for warning in network.warnings:
            print(warning.render(), file=sys.stderr)
        if not args.quiet:
            layers = sum(1 for _ in network.layers())
            shape = "x".join(map(str, network.node(network.output)["meta"]["shape"]))
            print(f"ok {path}: {network.name}, {layers} layers, output {shape}")
    return status
