"""Part 1: the compiler's stages (parse, lower, each pass, torch codegen, dot text), timed
and with their peak memory, on the zoo and on synthetic networks of growing size."""
from __future__ import annotations

import functools
import gc
import importlib
import time
import tracemalloc
from pathlib import Path

from cnndsl.api import read_spec
from cnndsl.backends.graphviz import render
from cnndsl.backends.torch_source import torch_source
from cnndsl.cli import GC_THRESHOLDS
from cnndsl.ir import lower
from cnndsl.passes import PIPELINE

from .synthetic import SHAPES, synthetic_spec

CHECK_STAGES = ("parse", "lower") + tuple(p.__name__ for p in PIPELINE)


def stage_steps(src):
    """(name, function of the previous result) for every stage, in order."""
    steps = [("parse", lambda _: read_spec(src)), ("lower", lower)]
    steps += [(p.__name__, functools.partial(p, inplace=True, lowered=True))
              for p in PIPELINE]  # as build does
    steps.append(("torch_source", lambda net: (torch_source(net), net)[1]))
    steps.append(("dot", lambda net: (render(net).source, net)[1]))
    return steps


def run_stages(src, *, measure_memory: bool) -> dict[str, float]:
    """Seconds per stage, or peak bytes allocated per stage with `measure_memory`, under
    the GC thresholds `cnndsl` itself runs with (the NOTE in cnndsl/cli/__init__.py)."""
    result, value = {}, None
    gc.collect()
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    if measure_memory:
        tracemalloc.start()
    try:
        for name, step in stage_steps(src):
            if measure_memory:
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                value = step(value)
                result[name] = tracemalloc.get_traced_memory()[1] - before
            else:
                start = time.perf_counter()
                value = step(value)
                result[name] = time.perf_counter() - start
    finally:
        gc.set_threshold(*thresholds)
        if measure_memory:
            tracemalloc.stop()
    return result


def profile(src, repeats: int) -> dict:
    """Seconds per stage, the best of `repeats` runs (the least disturbed by whatever else
    the machine does), and peak bytes per stage (one run)."""
    runs = [run_stages(src, measure_memory=False) for _ in range(repeats)]
    seconds = {name: min(r[name] for r in runs) for name in runs[0]}
    peak = run_stages(src, measure_memory=True)
    return {"seconds": seconds, "peak_bytes": peak,
            "check_seconds": sum(seconds[s] for s in CHECK_STAGES),
            "check_peak_bytes": max(peak[s] for s in CHECK_STAGES)}


def zoo_stages(zoo: Path, names: list[str] | None, repeats: int) -> dict[str, dict]:
    results = {}
    for path in sorted(zoo.glob("*.cnn")):
        if names and path.stem not in names:
            continue
        if read_spec(path).body is None:
            continue  # a library of blocks, not a network
        try:
            results[path.stem] = profile(path, repeats)
        except Exception as exc:  # one broken stage must not lose the other figures
            results[path.stem] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        results[path.stem]["layers"] = _layer_count(path)
    return results


def synthetic_stages(sizes: list[int], shapes=SHAPES) -> dict[str, dict]:
    """Per shape and size: the stage profile, the layer count and the growth factors.

    Sizes beyond the language's MAX_LAYERS (a guard against runaway repeats, not a cost
    limit) are measured with the guard raised for the run: scaling is what is asked here.
    """
    lowering = importlib.import_module("cnndsl.ir.lower")  # the module, not the function

    saved_limit = lowering.MAX_LAYERS
    lowering.MAX_LAYERS = max(saved_limit, *(2 * size for size in sizes))
    try:
        return _synthetic_stages(sizes, shapes)
    finally:
        lowering.MAX_LAYERS = saved_limit


def _synthetic_stages(sizes: list[int], shapes) -> dict[str, dict]:
    results = {}
    for shape in shapes:
        rows = {}
        for size in sizes:
            text = synthetic_spec(size, shape)
            rows[size] = profile(text, repeats=3 if size <= 1000 else 1)
            rows[size]["layers"] = _layer_count(text)
        results[shape] = {"sizes": rows, "growth": growth(rows)}
    return results


def growth(rows: dict[int, dict]) -> dict[str, float]:
    """How much the check time grows per 10x more layers, between consecutive sizes:
    10 is linear, 100 quadratic. Keys name the pair of sizes, `1000/100`."""
    sizes = sorted(rows)
    factors = {}
    for small, big in zip(sizes, sizes[1:]):
        ratio = rows[big]["check_seconds"] / rows[small]["check_seconds"]
        decades = _log10(rows[big]["layers"] / rows[small]["layers"])
        factors[f"{big}/{small}"] = ratio ** (1 / decades) if decades else float("nan")
    return factors


def _log10(x: float) -> float:
    import math

    return math.log10(x)


def _layer_count(src) -> int:
    net = lower(read_spec(src))
    return sum(1 for _ in net.layers())
