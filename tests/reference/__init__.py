"""torchvision 0.28's 67 classification CNNs as measured facts, and the weight rule they
were measured with (fill.py). See README.md here."""
from __future__ import annotations

import functools
import json
from pathlib import Path

TORCHVISION = Path(__file__).resolve().parent / "torchvision"


def torchvision_names() -> list[str]:
    """Every network with reference data: torchvision's model names, sorted."""
    return sorted(p.stem for p in TORCHVISION.glob("*.json"))


@functools.cache
def torchvision_reference(name: str) -> dict:
    """The reference facts of one torchvision network (README.md lists the keys)."""
    return json.loads((TORCHVISION / f"{name}.json").read_text())


def eval_size(reference: dict) -> tuple[int, int]:
    """The crop the published figures are for, as (height, width)."""
    size = reference["published"]["eval_size"]
    return (size[0], size[0]) if len(size) == 1 else (size[0], size[1])
