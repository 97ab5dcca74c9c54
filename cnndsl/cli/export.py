"""`cnndsl export FILE -o model.onnx`: the network as ONNX, through torch.onnx (dynamo)."""
from __future__ import annotations

from ..api import open_spec


def add_parser(sub, parent) -> None:
    from . import FILE_HELP

    p = sub.add_parser("export", parents=[parent], help="export the network to ONNX",
                       description="Export the network (eval mode, random weights unless "
                                   "loaded later) to ONNX with torch.onnx.export's dynamo "
                                   "exporter, and check the result with onnx.checker.")
    p.add_argument("file", metavar="FILE", help=FILE_HELP)
    p.add_argument("-o", "--output", metavar="PATH", required=True, help="the .onnx file")
    p.add_argument("--fuse-bn", action="store_true", help="fold BatchNorm layers first")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset version")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..onnx_export import export_onnx
    from . import build_options

    options = build_options(args)
    export_onnx(open_spec(args.file), args.output, params=options["params"],
                input_shape=options["input_shape"], fuse_bn=args.fuse_bn, opset=args.opset)
    print(f"wrote {args.output}")
    return 0
