"""Generated modules against torchvision's, side by side: the time of ours over theirs.

For each network of NETWORKS that the zoo has, both models get the same tensors (copied
in registration order, shapes checked; their outputs are compared) and each variant is
timed interleaved: one call of ours and one of torchvision's per run, the order swapped
every run, so that a machine shared with other work slows both alike. The ratio of a run
is ours / theirs; the table gives the median ratio and its spread (min and max over the
runs) and the median times, for wall-clock time and for the process's CPU time (on a
machine shared with other work, a call's wall time includes the time its threads waited
for a core; its CPU time much less so). Variants, all in eval mode but the last:

    eager, channels_last                the modules as built
    bn folded, folded + channels_last   ours through `cnndsl.fuse_bn`, torchvision's
                                        through torch.fx.experimental.optimization.fuse
    torch.compile                       both compiled (minutes on a CPU: --tv-compile)
    sgd train step                      forward, cross-entropy, backward, SGD step

torchvision is imported only here, through ../shared/reference/tvload.py (torchvision 0.28
from the package registry is a CUDA build; that file makes it import next to CPU torch).
Without it the section records why it was skipped. It is never a dependency of cnndsl.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# Where tvload.py is: ../shared/reference beside the checkout, or $CNNDSL_REFERENCE.
TVLOAD = Path(os.environ.get("CNNDSL_REFERENCE", ROOT.parent / "shared" / "reference"))
# zoo spec stem -> torchvision constructor; networks the zoo lacks are skipped.
NETWORKS = {
    "resnet50": "resnet50",
    "densenet121": "densenet121",
    "mobilenet_v2": "mobilenet_v2",
    "efficientnet_b0": "efficientnet_b0",
    "convnext_tiny": "convnext_tiny",
}
EVAL_VARIANTS = ("eager", "channels_last", "bn folded", "folded + channels_last",
                 "torch.compile")
TRAIN = "sgd train step"
VARIANTS = (*EVAL_VARIANTS, TRAIN)


def load_torchvision(where: Path = TVLOAD):
    """torchvision's `models`, or None with the reason."""
    if not (where / "tvload.py").exists():
        return None, f"no {where / 'tvload.py'}"
    sys.path.insert(0, str(where))
    try:
        from tvload import models
    except ImportError as exc:
        return None, f"torchvision is not installed ({exc}); " \
                     "pip install --no-deps torchvision==0.28.0 (for this benchmark only)"
    finally:
        sys.path.remove(str(where))
    return models, None


def copy_weights(source, target) -> None:
    """Every tensor of `source`'s state_dict into `target`'s, in registration order."""
    import torch

    theirs, ours = source.state_dict(), target.state_dict()
    if len(theirs) != len(ours):
        raise ValueError(f"{len(theirs)} tensors against {len(ours)}")
    with torch.no_grad():
        for (k1, a), (k2, b) in zip(theirs.items(), ours.items()):
            if a.shape != b.shape:
                raise ValueError(f"{k1} {tuple(a.shape)} against {k2} {tuple(b.shape)}")
            b.copy_(a)


def pair(stem: str, models, zoo: Path = ROOT / "zoo_specs"):
    """(ours, torchvision's), eval mode, the same weights."""
    import torch

    import cnndsl

    theirs = getattr(models, NETWORKS[stem])().eval()
    torch.manual_seed(0)
    with torch.no_grad():  # BatchNorm statistics away from 0 and 1, so folding matters
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    ours = cnndsl.load(zoo / f"{stem}.cnn").eval()
    copy_weights(theirs, ours)
    return ours, theirs


def variant_models(variant: str, ours, theirs):
    """The two models of a variant (copies where they differ from the eager ones), and
    whether its input is channels_last."""
    import copy

    import torch
    from torch.fx.experimental.optimization import fuse

    import cnndsl

    cl = torch.channels_last
    if variant == "eager" or variant == TRAIN:
        return ours, theirs, False
    if variant == "channels_last":
        return (copy.deepcopy(ours).to(memory_format=cl),
                copy.deepcopy(theirs).to(memory_format=cl), True)
    folded = cnndsl.fuse_bn(ours), fuse(theirs)
    if variant == "bn folded":
        return *folded, False
    if variant == "folded + channels_last":
        return folded[0].to(memory_format=cl), folded[1].to(memory_format=cl), True
    return torch.compile(copy.deepcopy(ours)), torch.compile(copy.deepcopy(theirs)), False


def compare(stem: str, models, runs: int = 7, batch: int = 8, size: int = 224,
            compile: bool = True, say=_stderr, variants=VARIANTS) -> dict:
    """Per variant of `variants`: median ratio ours / torchvision's, its spread, the median
    times."""
    import copy

    import torch

    ours, theirs = pair(stem, models)
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        diff = float((ours(x) - theirs(x)).abs().max() / theirs(x).abs().max())
    result = {"network": stem, "batch": batch, "size": size, "runs": runs,
              "threads": torch.get_num_threads(), "output_rel_diff": diff, "variants": {}}
    for variant in (v for v in VARIANTS if v in variants):
        if variant == "torch.compile" and not compile:
            continue
        if variant == TRAIN:
            pair_models = copy.deepcopy(ours).train(), copy.deepcopy(theirs).train()
            steps = [_train_step(m, x) for m in pair_models]
        else:
            a, b, cl = variant_models(variant, ours, theirs)
            inp = x.to(memory_format=torch.channels_last) if cl else x
            steps = [_inference_step(m, inp) for m in (a, b)]
        started = time.perf_counter()
        for step in steps:  # warm-up: one-time costs, compilation and its recompiles
            for _ in range(2):
                step()
        warmup = time.perf_counter() - started
        times, cpu = ([], []), ([], [])
        for run in range(runs):
            order = (0, 1) if run % 2 == 0 else (1, 0)
            for side in order:
                start, start_cpu = time.perf_counter(), time.process_time()
                steps[side]()
                times[side].append(time.perf_counter() - start)
                cpu[side].append(time.process_time() - start_cpu)
        ratios = [a / b for a, b in zip(*times)]
        cpu_ratios = [a / b for a, b in zip(*cpu)]
        row = {"ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
               "ratio_max": max(ratios), "ours_median_s": statistics.median(times[0]),
               "torchvision_median_s": statistics.median(times[1]),
               "cpu_ratio_median": statistics.median(cpu_ratios),
               "cpu_ratio_min": min(cpu_ratios), "cpu_ratio_max": max(cpu_ratios),
               "warmup_s": warmup, "ratios": ratios, "cpu_ratios": cpu_ratios}
        result["variants"][variant] = row
        say(f"  {stem:>15} {variant:<24} ours/torchvision {row['ratio_median']:.3f} "
            f"({row['ratio_min']:.3f}-{row['ratio_max']:.3f}), CPU time "
            f"{row['cpu_ratio_median']:.3f} ({row['cpu_ratio_min']:.3f}-"
            f"{row['cpu_ratio_max']:.3f})")
    return result


def _inference_step(model, x):
    import torch

    def step():
        with torch.inference_mode():
            model(x)
    return step


def _train_step(model, x):
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    labels = torch.arange(x.shape[0]) % 1000

    def step():
        out = model(x)
        out = out[0] if isinstance(out, tuple) else out
        loss = torch.nn.functional.cross_entropy(out, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def vs_torchvision(names=None, runs: int = 7, batch: int = 8, size: int = 224,
                   compile_nets=("resnet50",), say=_stderr, loader=load_torchvision,
                   variants=VARIANTS, threads: int | None = None) -> dict:
    """The section of the results: per network, `compare`'s dict, or why it was skipped.
    `threads` sets torch's intra-op threads for the run (None: torch's default)."""
    models, why = loader()
    if models is None:
        say(f"bench: torchvision comparison skipped: {why}")
        return {"skipped": why}
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    out = {"networks": [], "skipped_networks": {}, "load_average": {"start": os.getloadavg()}}
    for stem in names or NETWORKS:
        if stem not in NETWORKS:
            out["skipped_networks"][stem] = "no torchvision counterpart in NETWORKS"
        elif not (ROOT / "zoo_specs" / f"{stem}.cnn").exists():
            out["skipped_networks"][stem] = "not in the zoo yet"
        else:
            out["networks"].append(compare(stem, models, runs, batch, size,
                                           compile=stem in compile_nets, say=say,
                                           variants=variants))
    for stem, why in out["skipped_networks"].items():
        say(f"bench: {stem} skipped: {why}")
    out["load_average"]["end"] = os.getloadavg()
    return out
