"""`cnndsl compile FILE -o model.py`: the network as a standalone PyTorch module."""
from __future__ import annotations

import sys

from ..api import open_spec


def add_parser(sub, parent) -> None:
    from . import FILE_HELP, add_fully_conv

    p = sub.add_parser("compile", parents=[parent], help="write the network as PyTorch code",
                       description="Write a standalone Python module (importing only torch) "
                                   "that defines the network as an nn.Module.")
    p.add_argument("file", metavar="FILE", help=FILE_HELP)
    p.add_argument("-o", "--output", metavar="PATH", help="where to write it (default: stdout)")
    p.add_argument("--fuse-bn", action="store_true",
                   help="fold BatchNorm layers into their convs (inference code)")
    add_fully_conv(p)
    p.add_argument("--class-name", metavar="NAME",
                   help="the network class's name (default: the spec's network name)")
    p.add_argument("--weights", metavar="CKPT",
                   help="check that this checkpoint (.pth/.pt/.safetensors) loads strictly "
                        "into the written module, before writing it")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..outputs import write_atomic
    from ..torch_api import compile_source
    from . import build_options

    options = build_options(args)
    source = compile_source(open_spec(args.file), params=options["params"],
                            input_shape=options["input_shape"], fuse_bn=args.fuse_bn,
                            class_name=args.class_name, fully_conv=args.fully_conv)
    if args.weights:
        from ..torch_api import module_class
        from ..weights import load_weights

        model = module_class(source, _class_name(source))()
        weights = args.weights
        if args.fully_conv:  # a checkpoint of the fc network: its Linear weights reshaped
            from ..torch_api import fc_as_conv_weights
            from ..weights import read_checkpoint

            weights = fc_as_conv_weights(read_checkpoint(weights), model.state_dict())
        load_weights(model, weights, strict=True)
        print(f"{args.weights}: fits the module", file=sys.stderr)
    if args.output:
        write_atomic(args.output, source)
    else:
        sys.stdout.write(source)
    return 0


def _class_name(source: str) -> str:
    """The network class of a generated file: its last class."""
    return [line for line in source.splitlines() if line.startswith("class ")][-1] \
        .split()[1].split("(")[0]
