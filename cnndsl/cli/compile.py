"""`cnndsl compile FILE -o model.py`: the network as a standalone PyTorch module."""
from __future__ import annotations

import sys

from ..api import open_spec


def add_parser(sub, parent) -> None:
    from . import FILE_HELP

    p = sub.add_parser("compile", parents=[parent], help="write the network as PyTorch code",
                       description="Write a standalone Python module (importing only torch) "
                                   "that defines the network as an nn.Module.")
    p.add_argument("file", metavar="FILE", help=FILE_HELP)
    p.add_argument("-o", "--output", metavar="PATH", help="where to write it (default: stdout)")
    p.add_argument("--fuse-bn", action="store_true",
                   help="fold BatchNorm layers into their convs (inference code)")
    p.add_argument("--class-name", metavar="NAME",
                   help="the network class's name (default: the spec's network name)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..outputs import write_atomic
    from ..torch_api import compile_source
    from . import build_options

    options = build_options(args)
    source = compile_source(open_spec(args.file), params=options["params"],
                            input_shape=options["input_shape"], fuse_bn=args.fuse_bn,
                            class_name=args.class_name)
    if args.output:
        write_atomic(args.output, source)
    else:
        sys.stdout.write(source)
    return 0
