"""`cnndsl export FILE -o model.onnx`: the network as ONNX, through torch.onnx (dynamo)."""
from __future__ import annotations

import sys

from ..api import open_spec


def add_parser(sub, parent) -> None:
    from . import FILE_HELP, add_fully_conv

    p = sub.add_parser("export", parents=[parent], help="export the network to ONNX",
                       description="Export the network (eval mode) to ONNX with "
                                   "torch.onnx.export's dynamo exporter, and check the result "
                                   "with onnx.checker. The input is named `input`, the output "
                                   "`output`, with a dynamic batch axis. Without --weights the "
                                   "weights come from a fixed seed, so the file is the same "
                                   "bytes on every run.")
    p.add_argument("file", metavar="FILE", help=FILE_HELP)
    p.add_argument("-o", "--output", metavar="PATH", required=True, help="the .onnx file")
    p.add_argument("--fuse-bn", action="store_true", help="fold BatchNorm layers first")
    add_fully_conv(p)
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version")
    p.add_argument("--weights", metavar="PATH",
                   help="a state_dict saved with torch.save(model.state_dict(), PATH)")
    p.add_argument("--static-batch", action="store_true",
                   help="fix the batch size (2) instead of a dynamic batch axis")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..onnx_export import export_onnx
    from . import build_options

    options = build_options(args)
    export_onnx(open_spec(args.file), args.output, params=options["params"],
                input_shape=options["input_shape"], fuse_bn=args.fuse_bn, opset=args.opset,
                weights=args.weights, dynamic_batch=not args.static_batch,
                fully_conv=args.fully_conv,
                progress=lambda line: print(f"export: {line}", file=sys.stderr, flush=True))
    print(f"wrote {args.output}")
    return 0
