"""Part 3: CPU inference of generated models, four ways, as ratios to unfolded eager:
unfolded eager, BN folded (`cnndsl.fuse_bn`), folded + channels_last, `torch.compile`.
Part 4: predicted training memory against the bytes autograd really saves."""
from __future__ import annotations

import statistics
import time


def variants(spec: str, compile: bool = True):
    """(name, model, channels_last input?) for each variant, all with the same weights."""
    import torch

    import cnndsl

    torch.manual_seed(0)
    eager = cnndsl.load(spec).eval()
    folded = cnndsl.fuse_bn(eager)
    folded_cl = cnndsl.fuse_bn(eager).to(memory_format=torch.channels_last)
    chosen = [("eager", eager, False), ("bn folded", folded, False),
              ("folded + channels_last", folded_cl, True)]
    if compile:
        chosen.append(("torch.compile", torch.compile(eager), False))
    return chosen


def time_inference(spec: str, batch: int, size: int, runs: int, warmup: int = 2,
                   compile: bool = True) -> dict:
    """Per variant: seconds per batch (median, spread over `runs`), the ratio of eager's
    median to it, and the largest difference of its output from eager's."""
    import torch

    import cnndsl

    shape = cnndsl.build(spec).input_shape
    x = torch.randn(batch, shape[0], size, size)
    results = {}
    with torch.inference_mode():
        reference = None
        for name, model, channels_last in variants(spec, compile):
            inp = x.to(memory_format=torch.channels_last) if channels_last else x
            start = time.perf_counter()
            out = model(inp)  # the first call: tracing and compiling for torch.compile
            first = time.perf_counter() - start
            for _ in range(warmup - 1):
                model(inp)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                model(inp)
                times.append(time.perf_counter() - start)
            reference = out if reference is None else reference
            results[name] = {"median": statistics.median(times), "min": min(times),
                             "max": max(times), "runs": times, "first_call": first,
                             "max_abs_diff": float((out - reference).abs().max())}
    base = results["eager"]["median"]
    for r in results.values():
        r["speedup"] = base / r["median"]
    return {"spec": spec, "batch": batch, "size": size, "threads": torch.get_num_threads(),
            "variants": results}


def saved_activation_bytes(model, x) -> int:
    """Bytes of the distinct storages autograd keeps for backward in one training forward,
    without parameters and buffers (which the estimate counts separately)."""
    import torch

    owned = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    kept: dict[int, int] = {}

    def keep(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in owned:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        model(x)
    return sum(kept.values())


def memory_ratio(spec: str, batch: int) -> dict:
    """The memory pass's saved bytes for `batch` examples against torch's, as a ratio."""
    import torch

    import cnndsl

    net = cnndsl.build(spec)
    predicted = batch * net.meta["memory"]["saved_bytes"]
    model = cnndsl.load(spec).train()
    measured = saved_activation_bytes(model, torch.randn(batch, *net.input_shape))
    return {"spec": spec, "batch": batch, "predicted_bytes": predicted,
            "measured_bytes": measured, "ratio": predicted / measured,
            "training_bytes": net.meta["memory"]["training_bytes"]}
