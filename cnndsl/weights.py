"""Pretrained weights: reading checkpoints, loading them into generated modules by name, and
renaming foreign checkpoints by structure. Imports torch (the PyTorch side of the API).

# NOTE: reading checkpoints safely
# `.pth`/`.pt` files are read with `torch.load(weights_only=True)`: tensors and plain
# containers only, so no pickled code in a checkpoint ever runs. `.safetensors` files are
# read with the `safetensors` package where it is installed. The wrappers training code
# leaves are taken off: a top-level `state_dict`/`model`/`model_state_dict`/`module` entry
# holding the tensors, and a `module.` (DistributedDataParallel) or `_orig_mod.`
# (torch.compile) prefix on every key.
"""
from __future__ import annotations

from pathlib import Path

from .errors import CnnWeightsError
from .syntax.files import file_kind, shown_path

WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net")
KEY_PREFIXES = ("module.", "_orig_mod.")
SHOWN = 5  # how many keys an error names of each kind


def _not_a_file(path: Path) -> str:
    """Why `path` is no checkpoint file: missing, a folder, a device, ..."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "no such checkpoint file"
    return f"is {file_kind(mode)}, not a checkpoint file"


def read_checkpoint(source) -> dict:
    """The state_dict in a checkpoint file (or a mapping given directly), unwrapped."""
    import torch

    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise CnnWeightsError(f"{shown_path(path)}: " + _not_a_file(path))
        if path.suffix == ".safetensors":
            data = _read_safetensors(path)
        else:
            try:
                data = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # torch raises many kinds for a bad or unsafe file
                raise CnnWeightsError(
                    f"{path}: cannot read it as a weights-only checkpoint ({_first_line(exc)})",
                    hint="cnndsl reads tensors only (torch.load(weights_only=True)); save "
                         "the model's state_dict(), not the model object") from None
    else:
        data = source
    return unwrap(data)


def _read_safetensors(path: Path) -> dict:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise CnnWeightsError(f"{path}: reading .safetensors needs the `safetensors` package",
                              hint="pip install safetensors") from None
    try:
        return load_file(str(path))
    except Exception as exc:
        raise CnnWeightsError(f"{path}: not a safetensors file ({_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def unwrap(data) -> dict:
    """A flat {key: tensor} from what training code saves (see the NOTE)."""
    import torch

    if not isinstance(data, dict):
        raise CnnWeightsError(f"a checkpoint holds a mapping of tensors, not a "
                              f"{type(data).__name__}",
                              hint="save model.state_dict()")
    for key in WRAPPER_KEYS:
        inner = data.get(key)
        if isinstance(inner, dict) and inner and all(
                isinstance(v, torch.Tensor) for v in inner.values()):
            data = inner
            break
    tensors = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CnnWeightsError("the checkpoint holds no tensors",
                              hint="save model.state_dict(), or a dict with `state_dict`")
    for prefix in KEY_PREFIXES:
        if all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    return tensors


def fit_report(model_state: dict, checkpoint: dict) -> list[str]:
    """What keeps `checkpoint` from loading strictly: missing keys, unexpected keys and
    shape mismatches (the first few of each, with counts); empty when it fits."""
    missing = [k for k in model_state if k not in checkpoint]
    unexpected = [k for k in checkpoint if k not in model_state]
    mismatched = [f"{k} (checkpoint {_shape(checkpoint[k])}, network {_shape(v)})"
                  for k, v in model_state.items()
                  if k in checkpoint and tuple(checkpoint[k].shape) != tuple(v.shape)]
    problems = []
    for what, keys in (("missing from the checkpoint", missing),
                       ("not in the network", unexpected), ("of another shape", mismatched)):
        if keys:
            shown = ", ".join(keys[:SHOWN]) + (f", ... ({len(keys) - SHOWN} more)"
                                               if len(keys) > SHOWN else "")
            problems.append(f"{len(keys)} key{'s' * (len(keys) != 1)} {what}: {shown}")
    return problems


def _shape(t) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def load_weights(model, source, *, strict: bool = True):
    """Load a checkpoint (path or mapping) into `model` by name. strict: every key and
    shape must agree, else a `CnnWeightsError` saying what differs; not strict: the tensors
    whose key and shape agree are loaded, and the rest is reported as a warning."""
    import warnings

    checkpoint = read_checkpoint(source)
    target = getattr(model, "_orig_mod", model)
    state = target.state_dict()
    problems = fit_report(state, checkpoint)
    if problems and strict:
        raise CnnWeightsError(
            f"the checkpoint does not fit {type(target).__name__}: " + "; ".join(problems),
            hint="a checkpoint of another implementation: `cnndsl convert-weights SPEC CKPT "
                 "-o OUT` renames it by structure; strict=False loads what fits")
    fitting = {k: v for k, v in checkpoint.items()
               if k in state and tuple(v.shape) == tuple(state[k].shape)}
    if problems:
        warnings.warn("weights loaded partly: " + "; ".join(problems), stacklevel=2)
    target.load_state_dict(fitting, strict=not problems)
    return model


def remap_by_structure(model_state: dict, checkpoint: dict) -> dict:
    """The checkpoint's tensors under the network's names, paired in registration order
    (BatchNorm's num_batches_tracked counters aside, which implementations keep or not);
    every pair must agree in shape, else a `CnnWeightsError` naming the first that does
    not."""
    ours = [k for k in model_state if not k.endswith("num_batches_tracked")]
    theirs = [k for k in checkpoint if not k.endswith("num_batches_tracked")]
    for index, (mine, other) in enumerate(zip(ours, theirs)):
        if tuple(model_state[mine].shape) != tuple(checkpoint[other].shape):
            raise CnnWeightsError(
                f"tensor {index + 1} does not pair: the network's {mine} is "
                f"{_shape(model_state[mine])}, the checkpoint's {other} is "
                f"{_shape(checkpoint[other])}",
                hint="the two implementations register their layers in another order or "
                     "differ there; check the spec against the original model")
    if len(ours) != len(theirs):
        longer, what = (ours, "network") if len(ours) > len(theirs) else (theirs, "checkpoint")
        extra = longer[min(len(ours), len(theirs))]
        raise CnnWeightsError(
            f"the network has {len(ours)} tensors and the checkpoint {len(theirs)}: the "
            f"{what}'s {extra} has no partner")
    renamed = {mine: checkpoint[other] for mine, other in zip(ours, theirs)}
    # The counters pair in order too where both sides keep them all; else ours stay.
    counters = [k for k in model_state if k.endswith("num_batches_tracked")]
    others = [k for k in checkpoint if k.endswith("num_batches_tracked")]
    for index, key in enumerate(counters):
        renamed[key] = checkpoint[others[index]] if len(others) == len(counters) \
            else model_state[key].clone()
    return {k: renamed[k] for k in model_state}


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write a state_dict as `.safetensors` (needs the package) or a torch `.pth`."""
    import io

    import torch

    from .outputs import write_atomic

    path = Path(path)
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import save
        except ImportError:
            raise CnnWeightsError("writing .safetensors needs the `safetensors` package",
                                  hint="pip install safetensors, or write a .pth") from None
        write_atomic(path, save({k: v.contiguous() for k, v in state.items()}))
        return
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_atomic(path, buffer.getvalue())


__all__ = ["CnnWeightsError", "fit_report", "load_weights", "read_checkpoint",
           "remap_by_structure", "save_checkpoint", "unwrap"]
