"""The zoo as a library: the networks of zoo_specs/ by name.

# NOTE: names and paths
# A spec argument (on the command line, or a one-line string in the API) that is a bare
# name, letters, digits and `_` only, with no `/` and no `.`, names a network of the zoo:
# `cnndsl summary resnet50`, `cnndsl.load("efficientnet_b0")`. Anything else is a path:
# `resnet50.cnn`, `./resnet50`, `specs/net.cnn`. So a file named like a zoo network is
# reached as `./name`, and the rule never depends on what files happen to exist.
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import CnnFileError, did_you_mean

_BARE_NAME = re.compile(r"[A-Za-z0-9_]+")
_NETWORK_LINE = re.compile(r"^input\s", re.MULTILINE)


def is_zoo_name(text: str) -> bool:
    """Whether a spec argument names a zoo network rather than a file (see the NOTE)."""
    return bool(_BARE_NAME.fullmatch(text))


def zoo_dir() -> Path:
    """The zoo's folder: the installed package's copy, else the source tree's."""
    from importlib import resources  # here: it imports tempfile, shutil, zipfile, ...

    packaged = resources.files("cnndsl") / "zoo_specs"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[1] / "zoo_specs"


def zoo_names() -> list[str]:
    """The networks of the zoo (block files, which declare no input, are not networks)."""
    return sorted(p.stem for p in zoo_dir().glob("*.cnn")
                  if _NETWORK_LINE.search(p.read_text(encoding="utf-8")))


def zoo_path(name: str) -> Path:
    """The spec file of zoo network `name`, or an error with the closest names."""
    path = zoo_dir() / f"{name}.cnn"
    if name in zoo_names():
        return path
    hint = did_you_mean(name, zoo_names()) or \
        "`cnndsl zoo` lists the networks; a file in this folder is written `./" + name + "`"
    raise CnnFileError(f"`{name}` is not a network of the zoo", hint=hint)


__all__ = ["is_zoo_name", "zoo_dir", "zoo_names", "zoo_path"]
