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


# NOTE: tests marked `slow` (full-size forward passes of the zoo, minutes on two cores) run
# only with `--slow` or CNNDSL_SLOW=1, so that the default suite stays fast:
#   pytest tests/test_zoo_reference.py --slow -k mobilenet_v2
def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true",
                     help="also run the tests marked slow (full-size zoo forward passes)")


def pytest_collection_modifyitems(config, items):
    import os

    if config.getoption("--slow") or os.environ.get("CNNDSL_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow or CNNDSL_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# One or two networks of each zoo family: the others are the same blocks with other numbers
# (test_zoo_reference.py checks every zoo network's counts and names against torchvision),
# and the largest (VGG, RegNetY-32GF, ConvNeXt-L, EfficientNetV2-L) would take minutes here.
ZOO_SAMPLE = ("lenet5", "alexnet_2012", "nin", "resnet18", "resnext50_32x4d", "densenet121",
              "googlenet", "inception_v3", "bn_inception", "inception_v4",
              "inception_resnet_v2", "squeezenet1_0", "mobilenet_v2", "mobilenet_v3_small",
              "mnasnet0_5", "shufflenet_v2_x0_5", "efficientnet_b0", "efficientnet_v2_s",
              "convnext_tiny", "regnet_x_400mf", "regnet_y_400mf")
