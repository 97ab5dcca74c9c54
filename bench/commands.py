"""Part 2: whole-command wall time of `cnndsl check` and `cnndsl summary` against
torchinfo's `summary` of the same network built as a PyTorch module, in one run.

Each is a fresh `python` process of the same interpreter, so the figures include start-up
and imports: what a user (or an editor on save) waits for. The cnndsl commands must not
import torch; the run records whether they did.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

_CNNDSL = ("import sys; from cnndsl.cli import main; status = main({argv!r}); "
           "print('imports torch:', 'torch' in sys.modules, file=sys.stderr); "
           "sys.exit(status)")
_TORCHINFO = ("import cnndsl, torchinfo; model = cnndsl.load({path!r}); "
              "torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)")


def commands(spec: str) -> dict[str, str]:
    """The three commands timed, as `python -c` programs."""
    return {
        "cnndsl check": _CNNDSL.format(argv=["check", "-q", spec]),
        "cnndsl summary": _CNNDSL.format(argv=["summary", spec]),
        "torchinfo.summary": _TORCHINFO.format(path=spec),
    }


def time_commands(spec: str, repeats: int) -> dict:
    """Median and spread of each command's wall time; runs interleaved so that a busy
    moment of the machine hits all of them alike."""
    programs = commands(spec)
    times: dict[str, list[float]] = {name: [] for name in programs}
    imports_torch = {}
    for _ in range(repeats):
        for name, program in programs.items():
            seconds, stderr = _run(program)
            times[name].append(seconds)
            if name.startswith("cnndsl"):
                imports_torch[name] = "imports torch: True" in stderr
    result = {name: _stats(values) for name, values in times.items()}
    for name, flag in imports_torch.items():
        result[name]["imports_torch"] = flag
    base = result["torchinfo.summary"]["median"]
    for name in ("cnndsl check", "cnndsl summary"):
        result[name]["speedup_vs_torchinfo"] = base / result[name]["median"]
    return {"spec": spec, "repeats": repeats, "commands": result}


def _run(program: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"benchmark command failed:\n{program}\n{done.stderr[-2000:]}")
    return seconds, done.stderr


def _stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": values}


def time_check_sizes(sizes: list[int], shape: str = "chain") -> dict:
    """Wall time of the whole `cnndsl check` command on synthetic specs of growing size
    (unlike the stage tables, this includes start-up and reading the file); sizes above
    the layer limit are left out."""
    import tempfile
    from pathlib import Path

    from cnndsl.ir.lower import MAX_LAYERS

    from .synthetic import synthetic_spec

    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            if size > MAX_LAYERS:
                continue  # the command refuses it (a located error), by design
            path = Path(folder) / f"{shape}{size}.cnn"
            path.write_text(synthetic_spec(size, shape))
            seconds, _ = _run(_CNNDSL.format(argv=["check", "-q", str(path)]))
            rows[size] = seconds
    return {"shape": shape, "seconds": rows}
