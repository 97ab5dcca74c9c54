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


@pytest.fixture(scope="session")
def zoo():
    """Build a zoo network by its file stem, once per test session (readers only)."""
    import cnndsl

    cache = {}

    def get(stem: str):
        if stem not in cache:
            cache[stem] = cnndsl.build(ZOO / f"{stem}.cnn")
        return cache[stem]
    return get
