"""Part 6: the front end's figures of issue 17, each a ratio of two things measured side by
side in one run, so that a busy machine slows both alike:

- `cnndsl check` of a 3-line spec and of a 10,000-layer spec (one layer a line) against a
  bare `python -c "import json, re"`: fresh processes, interleaved, wall and CPU time;
- the parse alone, lark's LALR parser against the table-driven one (cnndsl/syntax/lalr.py)
  on the same grammar and transformer;
- `summary --json` of a 100,000-layer network: Python's indenting encoder against the
  layout the command writes (one line a layer, json's C encoder);
- the check's peak memory per layer at 100,000 layers (tracemalloc in a fresh process, and
  the growth of its peak resident set over a 3-line check's);
- the check's growth from 10,000 to 100,000 layers (10 is linear).

Sizes above the language's MAX_LAYERS are measured with the guard raised, as the stage
tables do (`--quick` keeps to small sizes).
"""
from __future__ import annotations

import importlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .commands import _CNNDSL

BARE = "import json, re"
_LIMIT = "import importlib; importlib.import_module('cnndsl.ir.lower').MAX_LAYERS = 10**7; "
_PEAK = (_LIMIT + "import gc, sys, tracemalloc; from cnndsl.api import build, read_spec; "
         "from cnndsl.cli import GC_THRESHOLDS; gc.set_threshold(*GC_THRESHOLDS); "
         "tracemalloc.start(); base = tracemalloc.get_traced_memory()[0]; "
         "held = [read_spec({path!r})]; net = build(held.pop()); "
         "print(tracemalloc.get_traced_memory()[1] - base)")
# The peak resident set in KiB: VmHWM starts afresh at exec, where ru_maxrss counts the
# benchmark's own memory, forked before the exec.
_RSS = (_LIMIT + "import resource; from cnndsl.cli import main; main(['check', '-q', {path!r}]); "
        "hwm = [line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')]"
        "; print(hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def one_layer_a_line(layers: int) -> str:
    return "network Lines\ninput 16x32x32\n" + "conv k3 p1 16\n" * layers


def frontend(quick: bool, repeats: int, sizes: tuple[int, int, int] | None = None) -> dict:
    """`sizes`: the three sizes of the scaling (the middle one also for the command and the
    parse, the last for the JSON and the memory)."""
    small, big, huge = sizes or ((100, 1_000, 10_000) if quick else (1_000, 10_000, 100_000))
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for name, text in (("3 lines", "network Tiny\ninput 3x32x32\nconv k3 16 relu\n"),
                           (big, one_layer_a_line(big)), (huge, one_layer_a_line(huge))):
            paths[name] = str(Path(folder) / f"spec_{str(name).replace(' ', '_')}.cnn")
            Path(paths[name]).write_text(text)
        result = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  "load_before": os.getloadavg(), "layers": {"big": big, "huge": huge}}
        result["commands"] = _commands(paths["3 lines"], paths[big], big, repeats)
        result["parse"] = _parse(Path(paths[big]).read_text(), repeats)
        result["summary_json"] = _summary_json(Path(paths[huge]).read_text())
        result["memory"] = _memory(paths[huge], paths["3 lines"], huge)
        result["scaling"] = _scaling(small, big, huge)
        result["load_after"] = os.getloadavg()
    return result


def _commands(tiny: str, big: str, layers: int, repeats: int) -> dict:
    programs = {"bare python": BARE,
                "check, 3 lines": _CNNDSL.format(argv=["check", "-q", tiny]),
                f"check, {layers:,} lines": _CNNDSL.format(argv=["check", "-q", big])}
    wall = {name: [] for name in programs}
    cpu = {name: [] for name in programs}
    for _ in range(max(repeats, 3) * 2 + 1):
        for name, program in programs.items():
            seconds, cpu_seconds = _timed(program)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    bare_wall = statistics.median(wall["bare python"])
    bare_cpu = statistics.median(cpu["bare python"])
    return {name: {"wall": statistics.median(wall[name]), "cpu": statistics.median(cpu[name]),
                   "wall_min": min(wall[name]), "runs": len(wall[name]),
                   "x_bare_wall": statistics.median(wall[name]) / bare_wall,
                   "x_bare_cpu": statistics.median(cpu[name]) / bare_cpu}
            for name in programs}


def _timed(program: str) -> tuple[float, float]:
    before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"benchmark command failed:\n{program}\n{done.stderr[-2000:]}")
    return seconds, _children_cpu() - before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _parse(text: str, repeats: int) -> dict:
    """CPU seconds of the parse alone (the best of a few, interleaved)."""
    from cnndsl.syntax import parser

    runs = {"lark": [], "tables": []}
    for _ in range(max(repeats, 3)):
        for name, parse in (("lark", lambda: parser.parse_with_lark(
                parser.make_source(text, "bench.cnn"))),
                            ("tables", lambda: parser.parse(text, "bench.cnn"))):
            start = time.process_time()
            parse()
            runs[name].append(time.process_time() - start)
    best = {name: min(values) for name, values in runs.items()}
    return {**best, "speedup": best["lark"] / best["tables"]}


def _summary_json(text: str) -> dict:
    """CPU seconds to write the JSON document of a big network's summary."""
    lowering = importlib.import_module("cnndsl.ir.lower")  # the module, not the function
    from cnndsl.api import summary
    from cnndsl.backends.summary import summary_json

    saved, lowering.MAX_LAYERS = lowering.MAX_LAYERS, 10**7
    try:
        data = summary(text).data
    finally:
        lowering.MAX_LAYERS = saved
    start = time.process_time()
    indented = json.dumps(data, indent=2) + "\n"
    middle = time.process_time()
    written = summary_json(data)
    end = time.process_time()
    assert json.loads(written) == json.loads(indented)
    return {"indented": middle - start, "per_line": end - middle,
            "speedup": (middle - start) / (end - middle)}


def _memory(path: str, tiny: str, layers: int) -> dict:
    peak = int(_output(_PEAK.format(path=path)))
    rss = int(_output(_RSS.format(path=path))) - int(_output(_RSS.format(path=tiny)))
    return {"tracemalloc_peak_per_layer": peak / layers,
            "maxrss_growth_per_layer": rss * 1024 / layers}  # ru_maxrss is in KiB


def _output(program: str) -> str:
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark program failed:\n{program}\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def _scaling(*sizes: int) -> dict:
    """CPU seconds of parse + lower + passes (in-process) per size, and the growth per 10x."""
    import gc

    lowering = importlib.import_module("cnndsl.ir.lower")  # the module, not the function
    from cnndsl.api import build, read_spec
    from cnndsl.cli import GC_THRESHOLDS

    saved, lowering.MAX_LAYERS = lowering.MAX_LAYERS, 10**7
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    seconds = {}
    try:
        for size in sizes:
            text = one_layer_a_line(size)
            start = time.process_time()
            build(read_spec(text))
            seconds[size] = time.process_time() - start
    finally:
        lowering.MAX_LAYERS = saved
        gc.set_threshold(*thresholds)
    growth = {f"{b}/{a}": (seconds[b] / seconds[a]) ** (1 / math.log10(b / a))
              for a, b in zip(sizes, sizes[1:])}
    return {"seconds": {str(size): value for size, value in seconds.items()}, "growth": growth}
