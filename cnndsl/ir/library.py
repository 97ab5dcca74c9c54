"""The blocks a spec can call: its own and those brought in with `use`.

`use "path.cnn"` is resolved relative to the including file and must stay inside that
file's folder tree (checked on the real path, so neither `..` nor a symlink can leave it).
Only the used file's blocks come in, together with the blocks of the files it uses in turn
(all blocks share one namespace); its params keep their defaults and are seen by its own
blocks only; its `network`, `input` and body are ignored. A file reached twice (used twice,
or through two files that both use it: a diamond) is read once, by its resolved path.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import CnnError, CnnNameError, CnnUsageError, Diagnostic, did_you_mean
from ..syntax import ast, parse
from ..syntax.files import UnreadableFile, read_spec_bytes, shown_path
from .evaluate import Env, evaluate


@dataclass(frozen=True)
class BlockInfo:
    definition: ast.BlockDef
    globals: Env  # the params of the file that defines the block


def builtin_values(input_shape) -> Env:
    """What every expression sees under the params: `input`, the network's input size
    (`3x224x224`, or a number for a flat input), as a size literal is."""
    if input_shape is None:
        return Env()
    shape = tuple(input_shape)
    return Env({"input": shape if len(shape) > 1 else shape[0]})


def spec_params(spec: ast.Spec, overrides: dict | None, builtins: Env | None = None) -> Env:
    """The values of a spec's params, with `overrides` (from --set) applied; the params
    see `builtins` (builtin_values) below them."""
    env = Env(parent=builtins)
    overrides = dict(overrides or {})
    for param in spec.params:
        if param.name in overrides:
            env.values[param.name] = overrides.pop(param.name)
        else:
            env.values[param.name] = evaluate(param.default, env)
    if overrides:
        name = sorted(overrides)[0]
        known = [p.name for p in spec.params]
        hint = did_you_mean(name, known) or (
            "the spec declares " + ", ".join(f"`{n}`" for n in known) if known
            else "the spec declares no `param`")
        raise CnnUsageError(f"--set {name}: the spec has no param `{name}`", hint=hint)
    return env


def collect_blocks(spec: ast.Spec, globals_: Env) -> dict[str, BlockInfo]:
    blocks: dict[str, BlockInfo] = {}
    _add(blocks, spec, globals_)
    base = _base_dir(spec)
    _load_uses(spec, base, blocks, globals_.parent, stack=[_identity(spec)],
               loaded={_identity(spec)})
    return blocks


def _add(blocks: dict[str, BlockInfo], spec: ast.Spec, env: Env) -> None:
    for block in spec.blocks:
        if block.name in blocks:
            first = blocks[block.name].definition.span
            raise CnnNameError(f"block `{block.name}` is defined twice (first at "
                               f"{first.location})", block.span, "rename one of them")
        blocks[block.name] = BlockInfo(block, env)


def _base_dir(spec: ast.Spec) -> Path:
    path = spec.source.path
    return (path.parent if path is not None else Path.cwd()).resolve()


def _identity(spec: ast.Spec) -> str:
    path = spec.source.path
    return str(path.resolve()) if path is not None else "<string>"


def _load_uses(spec: ast.Spec, base: Path, blocks: dict, builtins: Env | None,
               stack: list[str], loaded: set[str]) -> None:
    for use in spec.uses:
        target = _resolve(use, base)
        if str(target) in stack:
            chain = " -> ".join(Path(p).name for p in stack[stack.index(str(target)):])
            raise CnnNameError(f"`use` cycle: {chain} -> {target.name}", use.span,
                               "a file cannot use itself, directly or through others")
        if str(target) in loaded:
            continue  # its blocks are in already
        try:
            data = read_spec_bytes(target)
        except UnreadableFile as exc:
            shown = shown_path(use.path)
            if str(exc) == "no such file":
                raise CnnNameError(f"cannot find `{shown}`", use.span,
                                   f"looked for {shown_path(target)}") from None
            raise CnnNameError(f"cannot use `{shown}`: it {exc}" if str(exc).startswith("is")
                               else f"cannot use `{shown}`: {exc}", use.span) from None
        loaded.add(str(target))
        try:
            used = parse(data, target)
            env = spec_params(used, None, builtins)
        except CnnError as exc:
            exc.diagnostics.append(Diagnostic("the file is used here", use.span,
                                              severity="note"))
            raise
        _add(blocks, used, env)
        _load_uses(used, target.parent, blocks, builtins, stack + [str(target)], loaded)


def _resolve(use: ast.Use, base: Path) -> Path:
    """The real path `use` names, which must lie under `base`."""
    shown = shown_path(use.path)
    if "\0" in use.path:
        raise CnnNameError(f"cannot use `{shown}`: the path contains a NUL character",
                           use.span)
    if not use.path.strip() or use.path.endswith(("/", "\\")):
        raise CnnNameError(f"`use \"{shown}\"` does not name a file", use.span,
                           "name a .cnn file, e.g. `use \"blocks.cnn\"`")
    try:
        target = (base / use.path).resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # too long a name, a symlink loop
        raise CnnNameError(f"cannot use `{shown}`: {getattr(exc, 'strerror', None) or exc}",
                           use.span) from None
    if not target.is_relative_to(base):
        raise CnnNameError(f"`use \"{shown}\"` reaches outside the spec's folder "
                           f"({shown_path(base)})", use.span,
                           "used files must be in the spec's folder or below it")
    return target
