"""The blocks a spec can call: its own and those brought in with `use`.

`use "path.cnn"` is resolved relative to the including file and must stay inside that
file's folder tree (checked on the real path, so neither `..` nor a symlink can leave it).
Only the used file's blocks come in; its params keep their defaults and are seen by its own
blocks only; its `network`, `input` and body are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import CnnError, CnnNameError, CnnUsageError, Diagnostic, did_you_mean
from ..syntax import ast, parse
from .evaluate import Env, evaluate


@dataclass(frozen=True)
class BlockInfo:
    definition: ast.BlockDef
    globals: Env  # the params of the file that defines the block


def spec_params(spec: ast.Spec, overrides: dict | None) -> Env:
    """The values of a spec's params, with `overrides` (from --set) applied."""
    env = Env()
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
    _load_uses(spec, base, blocks, stack=[_identity(spec)])
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


def _load_uses(spec: ast.Spec, base: Path, blocks: dict, stack: list[str]) -> None:
    for use in spec.uses:
        target = (base / use.path).resolve()
        if not target.is_relative_to(base):
            raise CnnNameError(f"`use \"{use.path}\"` reaches outside the spec's folder "
                               f"({base})", use.span,
                               "used files must be in the spec's folder or below it")
        if str(target) in stack:
            chain = " -> ".join(Path(p).name for p in stack[stack.index(str(target)):])
            raise CnnNameError(f"`use` cycle: {chain} -> {target.name}", use.span,
                               "a file cannot use itself, directly or through others")
        if not target.is_file():
            raise CnnNameError(f"cannot find `{use.path}`", use.span,
                               f"looked for {target}")
        try:
            data = target.read_bytes()
        except OSError as exc:
            raise CnnNameError(f"cannot read `{use.path}`: {exc.strerror}", use.span) from None
        try:
            used = parse(data, target)
            env = spec_params(used, None)
        except CnnError as exc:
            exc.diagnostics.append(Diagnostic("the file is used here", use.span,
                                              severity="note"))
            raise
        _add(blocks, used, env)
        _load_uses(used, target.parent, blocks, stack + [str(target)])
