"""`python -m bench`: run the benchmarks, write JSON and docs/benchmarks.md.

    python -m bench              the full run (tens of minutes on a laptop)
    python -m bench --quick      small sizes, few repeats: a minute
    python -m bench --only stages commands
    python -m bench --only torchvision --tv-nets resnet50 --tv-compile   (ours / torchvision)
    python -m bench --only torchvision --tv-nets convnext_tiny --tv-variants eager \
        "sgd train step" --tv-batch 2 --tv-size 128     (a quick look at one network)
    python -m bench --only frontend   the ratios of issue 17's front-end targets
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from cnndsl.outputs import write_atomic

from . import commands, frontend, gpu, inference, stages, vs_torchvision
from .report import markdown
from .synthetic import SHAPES

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("stages", "scaling", "commands", "frontend", "inference", "memory", "gpu",
            "torchvision")
FULL = {"sizes": [100, 1000, 10000, 100000], "zoo": None, "repeats": 5, "runs": 10}
QUICK = {"sizes": [100, 1000], "zoo": ["lenet5", "resnet18"], "repeats": 1, "runs": 3}
MEMORY_SPECS = ("lenet5", "resnet18", "vgg11_bn", "googlenet", "densenet121")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes and few repeats")
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--sizes", nargs="+", type=int, help="synthetic network sizes (layers)")
    p.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES),
                   help="synthetic network shapes")
    p.add_argument("--zoo", nargs="+", metavar="NAME", help="zoo networks of the stage table")
    p.add_argument("--tv-nets", nargs="+", metavar="NAME",
                   help="networks compared with torchvision (default: "
                        f"{' '.join(vs_torchvision.NETWORKS)}, those the zoo has)")
    p.add_argument("--tv-runs", type=int, default=7, help="interleaved runs per variant")
    p.add_argument("--tv-variants", nargs="+", metavar="NAME", choices=vs_torchvision.VARIANTS,
                   default=list(vs_torchvision.VARIANTS),
                   help="variants compared with torchvision (quote names with spaces; "
                        "default: all)")
    p.add_argument("--tv-batch", type=int, default=8, help="batch of the torchvision runs")
    p.add_argument("--tv-threads", type=int, metavar="N", help="torch threads of the "
                   "torchvision runs (default: torch's; 1 steadies the times on a shared "
                   "machine)")
    p.add_argument("--tv-size", type=int, default=224, help="image side of the torchvision "
                   "runs")
    p.add_argument("--tv-compile", nargs="*", default=["resnet50"], metavar="NAME",
                   help="networks whose torch.compile variant is timed (minutes each on a "
                        "CPU; default resnet50; the flag alone: none)")
    p.add_argument("--note", metavar="TEXT", help="what else the machine was doing, for the "
                   "report (say, 'shared with other builds')")
    p.add_argument("--json", default=str(ROOT / "docs" / "benchmarks.json"), metavar="PATH")
    p.add_argument("--markdown", default=str(ROOT / "docs" / "benchmarks.md"), metavar="PATH")
    p.add_argument("--from-json", nargs="+", metavar="PATH", help="run nothing: merge the "
                   "results of earlier runs (say, sections run apart) and write them")
    p.add_argument("--machine-note", metavar="TEXT", help="what else the machine was doing "
                   "(`2 cores shared with other work`): printed with the machine")
    return p.parse_args(argv)


def run(args) -> dict:
    mode = QUICK if args.quick else FULL
    zoo_dir = ROOT / "zoo_specs"
    results = {"mode": "quick" if args.quick else "full",
               "machine": {**_machine(), "note": args.machine_note},
               "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if args.note:
        results["machine"]["note"] = args.note
    if "stages" in args.only:
        _say("compiler stages")
        results["zoo_stages"] = stages.zoo_stages(zoo_dir, args.zoo or mode["zoo"],
                                                  mode["repeats"])
        results["synthetic_stages"] = stages.synthetic_stages(args.sizes or mode["sizes"],
                                                              args.shapes)
    if "scaling" in args.only:
        _say("whole check command on synthetic specs")
        results["scaling"] = commands.time_check_sizes(args.sizes or mode["sizes"])
    big = str(zoo_dir / ("resnet18.cnn" if args.quick else "resnet152.cnn"))
    if "commands" in args.only:
        _say("whole commands")
        results["commands"] = commands.time_commands(big, 1 if args.quick else 5)
    if "frontend" in args.only:
        _say("front end: start-up, parse, JSON, memory, scaling")
        results["frontend"] = frontend.frontend(args.quick, mode["repeats"])
    if "inference" in args.only:
        _say("CPU inference")
        results["inference"] = _inference(zoo_dir, args.quick, mode["runs"])
    if "memory" in args.only:
        _say("training memory")
        names = MEMORY_SPECS[:1] if args.quick else MEMORY_SPECS
        results["memory"] = [inference.memory_ratio(str(zoo_dir / f"{n}.cnn"), batch=2)
                             for n in names]
    if "gpu" in args.only:
        results["gpu"] = gpu.gpu_throughput(str(zoo_dir / "resnet50.cnn"))
    if "torchvision" in args.only:
        _say("generated modules against torchvision's")
        quick = {"runs": 2, "size": 64, "compile_nets": ()} if args.quick else {}
        results["torchvision"] = vs_torchvision.vs_torchvision(**{
            "names": args.tv_nets or (["resnet50"] if args.quick else None),
            "runs": args.tv_runs, "compile_nets": args.tv_compile, "batch": args.tv_batch,
            "size": args.tv_size, "variants": args.tv_variants, "threads": args.tv_threads,
            **quick})
    return results


def _inference(zoo_dir: Path, quick: bool, runs: int) -> list[dict]:
    if quick:  # small inputs, no torch.compile (its first call takes minutes on a CPU)
        return [inference.time_inference(str(zoo_dir / "resnet18.cnn"), 1, 64, runs,
                                          compile=False)]
    return [inference.time_inference(str(zoo_dir / "resnet50.cnn"), 8, 224, runs),
            inference.time_inference(str(zoo_dir / "resnet18.cnn"), 1, 224, 5 * runs)]


def merged(paths: list[str]) -> dict:
    """Earlier runs' results in one dict; later files win where sections overlap."""
    results: dict = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        shapes = {**results.get("synthetic_stages", {}), **data.get("synthetic_stages", {})}
        results.update(data)
        if shapes:
            results["synthetic_stages"] = shapes  # later files win shape by shape
    for data in results.get("synthetic_stages", {}).values():
        data["sizes"] = {int(size): row for size, row in data["sizes"].items()}  # JSON keys
    return results


def _machine() -> dict:
    import os

    return {"python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()}


def _say(what: str) -> None:
    print(f"bench: {what} ...", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = merged(args.from_json) if args.from_json else run(args)
    if args.machine_note:
        results["machine"]["note"] = args.machine_note
    write_atomic(args.json, json.dumps(results, indent=1) + "\n")
    write_atomic(args.markdown, markdown(results))
    print(f"bench: wrote {args.json} and {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
