"""`cnndsl check FILE...`: parse, lower and run every check; one `ok` line per good file."""
from __future__ import annotations

import json
import sys

from ..api import STDIN, build, check_library, open_spec
from ..errors import CnnError, CnnUsageError


def add_parser(sub, parent) -> None:
    from . import add_fully_conv

    p = sub.add_parser("check", parents=[parent], help="check specs and report every problem",
                       description="Check .cnn specs: syntax, names, shapes, contracts.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="spec files (`-`: read one spec from stdin)")
    add_fully_conv(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.add_argument("--json", action="store_true",
                   help="print one JSON document: per file, ok or not, the network's "
                        "output and layers, and every diagnostic (see docs/analysis.md)")
    p.set_defaults(run=run)


def run(args) -> int:
    from . import build_options, exit_status, report

    if args.files.count(STDIN) > 1:
        raise CnnUsageError("`-` (stdin) can be given only once")
    options = build_options(args)
    status, results = 0, []
    for path in args.files:
        try:
            result = _check_one(path, options)
        except CnnError as exc:
            status = max(status, exit_status(exc))
            if args.json:
                results.append({"file": path, "ok": False,
                                "diagnostics": [d.as_json() for d in exc.diagnostics]})
            else:
                report(exc)
            continue
        results.append(result)
        if args.json:
            continue
        for warning in result.pop("_warnings"):
            print(warning.render(), file=sys.stderr)
        if not args.quiet:
            print(result["_line"])
    if args.json:
        for result in results:
            result.pop("_line", None)
            result["diagnostics"] = [w.as_json() for w in result.pop("_warnings", [])] + \
                result.get("diagnostics", [])
        json.dump({"schema": CHECK_SCHEMA, "files": results}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return status


CHECK_SCHEMA = 1


def _check_one(path: str, options: dict) -> dict:
    """A checked file as plain data, with its warnings and its `ok` line for the text."""
    spec = open_spec(path)
    if spec.body is None and spec.blocks:  # a library; an empty file is an error
        check_library(spec, params=options["params"])
        return {"file": path, "ok": True, "library": True, "blocks": len(spec.blocks),
                "_warnings": [],
                "_line": f"ok {path}: {len(spec.blocks)} blocks (a library, no network)"}
    held = [spec]
    del spec  # `build` frees the AST once lowered: a third of the peak memory
    network = build(held.pop(), **options)
    layers = sum(1 for _ in network.layers())
    shape = network.node(network.output)["meta"]["shape"]
    return {"file": path, "ok": True, "library": False, "network": network.name,
            "input": list(network.input_shape), "output": list(shape), "layers": layers,
            "params": network.meta["params"], "macs": network.meta["macs"],
            "_warnings": list(network.warnings),
            "_line": f"ok {path}: {network.name}, {layers} layers, output "
                     f"{'x'.join(map(str, shape))}"}
