"""`cnndsl zoo`: the networks of the zoo, with their parameters, MACs and input."""
from __future__ import annotations

import json
import sys

from ..api import build
from ..zoo import zoo_names, zoo_path


def add_parser(sub, parent) -> None:
    p = sub.add_parser("zoo", help="list the networks of the zoo",
                       description="List the zoo's networks (each usable by name: "
                                   "`cnndsl summary resnet50`, `cnndsl.load(\"resnet50\")`).")
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    p.set_defaults(run=run)


def run(args) -> int:
    rows = []
    for name in zoo_names():
        net = build(zoo_path(name))
        rows.append({"name": name, "network": net.name, "input": list(net.input_shape),
                     "params": net.meta["params"], "macs": net.meta["macs"],
                     "file": str(zoo_path(name).name)})
    if args.json:
        json.dump({"networks": rows}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"{'name':<{width}}  {'input':>11}  {'params':>13}  {'MACs':>17}")
    for r in rows:
        shape = "x".join(map(str, r["input"]))
        print(f"{r['name']:<{width}}  {shape:>11}  {r['params']:>13,}  {r['macs']:>17,}")
    return 0
