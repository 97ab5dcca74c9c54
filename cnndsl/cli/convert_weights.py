"""`cnndsl convert-weights SPEC CKPT -o OUT`: a foreign checkpoint renamed by structure."""
from __future__ import annotations

import sys

from ..api import open_spec


def add_parser(sub, parent) -> None:
    from . import FILE_HELP

    p = sub.add_parser("convert-weights", parents=[parent],
                       help="rename a checkpoint of another implementation to the spec's names",
                       description="Pair the checkpoint's tensors with the network's in "
                                   "registration order (equal shapes required) and write them "
                                   "under the network's names (see docs/weights.md).")
    p.add_argument("file", metavar="SPEC", help=FILE_HELP)
    p.add_argument("checkpoint", metavar="CKPT", help="the checkpoint (.pth, .pt, .safetensors)")
    p.add_argument("-o", "--output", metavar="OUT", required=True,
                   help="where to write the renamed checkpoint (.pth or .safetensors)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..torch_api import load
    from ..weights import read_checkpoint, remap_by_structure, save_checkpoint
    from . import build_options

    options = build_options(args)
    model = load(open_spec(args.file), params=options["params"],
                 input_shape=options["input_shape"])
    checkpoint = read_checkpoint(args.checkpoint)
    renamed = remap_by_structure(model.state_dict(), checkpoint)
    model.load_state_dict(renamed, strict=True)
    save_checkpoint(renamed, args.output)
    print(f"wrote {args.output}: {len(renamed)} tensors under {type(model).__name__}'s names",
          file=sys.stderr)
    return 0
