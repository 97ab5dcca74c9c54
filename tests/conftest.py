from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = Path(__file__).resolve().parent / "specs"
ZOO = ROOT / "zoo_specs"


@pytest.fixture
def build_text():
    """Build a network from spec text."""
    import cnndsl

    def build(text: str, **kwargs):
        return cnndsl.build(text, **kwargs)
    return build
