"""`cnndsl check FILE...`: parse, lower and run every check; one `ok` line per good file."""
from __future__ import annotations

import sys

from ..api import build, read_spec
from ..errors import CnnError, CnnUsageError


def add_parser(sub, parent) -> None:
    p = sub.add_parser("check", parents=[parent], help="check specs and report every problem",
                       description="Check .cnn specs: syntax, names, shapes, contracts.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.set_defaults(run=run)


def run(args) -> int:
    from . import build_options

    options = build_options(args)
    status = 0
    for path in args.files:
        try:
            spec = read_spec(path)
            if spec.body is None and spec.blocks:  # a library; an empty file is an error
                if not args.quiet:
                    print(f"ok {path}: {len(spec.blocks)} blocks (a library, no network)")
                continue
            held = [spec]
            del spec  # `build` frees the AST once lowered: a third of the peak memory
            network = build(held.pop(), **options)
        except CnnUsageError as exc:
            print(f"cnndsl: {exc}", file=sys.stderr)
            status = max(status, 2) if "no such file" not in str(exc) else max(status, 1)
            continue
        except CnnError as exc:
            print(exc, file=sys.stderr)
            status = max(status, 1)
            continue
        for warning in network.warnings:
            print(warning.render(), file=sys.stderr)
        if not args.quiet:
            layers = sum(1 for _ in network.layers())
            shape = "x".join(map(str, network.node(network.output)["meta"]["shape"]))
            print(f"ok {path}: {network.name}, {layers} layers, output {shape}")
    return status
