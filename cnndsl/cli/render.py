"""`cnndsl render FILE -o out.svg`: the architecture diagram (svg, png, pdf or dot)."""
from __future__ import annotations

from ..api import build, open_spec


def add_parser(sub, parent) -> None:
    from . import FILE_HELP, add_fully_conv

    p = sub.add_parser("render", parents=[parent], help="draw the architecture diagram",
                       description="Draw a spec's architecture: blocks as clusters, repeated "
                                   "blocks collapsed, tensor shapes on the edges.")
    p.add_argument("file", metavar="FILE", help=FILE_HELP)
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the diagram file; its extension picks the format: "
                        ".svg, .png, .pdf (rendered by graphviz's dot) or .dot (the source)")
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="scope levels drawn as clusters (default: the deepest that stays "
                        "readable; a large N draws every layer)")
    p.add_argument("--rankdir", choices=("TB", "LR"), default=None,
                   help="top to bottom or left to right (default: by the network's shape)")
    add_fully_conv(p)
    p.add_argument("--no-shapes", dest="shapes", action="store_false",
                   help="leave tensor shapes off the edges")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..api import render
    from ..backends.graphviz import save
    from . import build_options

    network = build(open_spec(args.file), **build_options(args))
    save(render(network, depth=args.depth, rankdir=args.rankdir, shapes=args.shapes),
         args.output)
    return 0
