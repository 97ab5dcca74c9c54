"""Every zoo network named as a torchvision model is that model, by name (issues 12, 13).

NOTE: a spec is checked here when its file name is the name of a network in
tests/reference/torchvision/ (`zoo_specs/mobilenet_v2.cnn` against `mobilenet_v2.json`):
adding the spec adds its tests. Against torchvision 0.28's measured facts:
- params: the analysis (main path plus aux heads) and the generated module both count the
  reference's `params`;
- MACs: the spec's `input` is the published `eval_size`, and its MACs in G, rounded to 3
  decimals as torchvision rounds its `_ops`, are the published `gflops`;
- state_dict: the generated module's keys and shapes are torchvision's, in registration
  order (the module is built on the meta device: no memory, no time), so a torchvision
  checkpoint loads with strict=True;
- function (slow, run with `--slow`): after `fill` (weights keyed by name), the eval output
  on the reference input is the reference `output`, max abs difference under 1e-4 of the
  max abs output. One forward pass at batch 2 per network, no autograd. The module's
  tensors are filled under torchvision's keys paired in registration order: that is `fill`
  itself once the keys agree, and it checks the function before they do.
One network: `pytest tests/test_zoo_reference.py --slow -k mobilenet_v2`.
"""
from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")

from cnndsl.backends.torch_source import torch_source  # noqa: E402
from cnndsl.ir.names import class_name  # noqa: E402
from cnndsl.torch_api import module_class  # noqa: E402

from .conftest import ZOO  # noqa: E402
from .reference import eval_size, torchvision_names, torchvision_reference  # noqa: E402
from .reference.fill import fill_tensor, reference_input  # noqa: E402

TOLERANCE = 1e-4
ZOO_STEMS = {p.stem for p in ZOO.glob("*.cnn")}
CHECKED = sorted(ZOO_STEMS & set(torchvision_names()))
_classes: dict = {}
_sources: dict = {}


def network_source(zoo, stem: str) -> str:
    """The generated source of a zoo network, once per session (and worker)."""
    if stem not in _sources:
        _sources[stem] = torch_source(zoo(stem))
    return _sources[stem]


def network_class(zoo, stem: str):
    """The generated module class of a zoo network, once per session (and worker)."""
    if stem not in _classes:
        network = zoo(stem)
        _classes[stem] = module_class(network_source(zoo, stem), class_name(network.name))
    return _classes[stem]


def meta_module(zoo, stem: str):
    with torch.device("meta"):
        return network_class(zoo, stem)()


@pytest.mark.parametrize("stem", CHECKED)
def test_params_are_torchvisions(zoo, stem):
    expected = torchvision_reference(stem)["params"]
    net = zoo(stem)
    assert net.meta["params"] + net.meta["aux"]["params"] == expected, "analysis"
    assert sum(p.numel() for p in meta_module(zoo, stem).parameters()) == expected, "module"


@pytest.mark.parametrize("stem", CHECKED)
def test_macs_round_to_the_published_gflops(zoo, stem):
    reference = torchvision_reference(stem)
    net = zoo(stem)
    assert net.input_shape[1:] == eval_size(reference), \
        "the spec's input should be torchvision's published eval size"
    assert round(net.meta["macs"] / 1e9, 3) == reference["published"]["gflops"], \
        f"{net.meta['macs']:,} MACs"


@pytest.mark.parametrize("stem", CHECKED)
def test_state_dict_is_torchvisions(zoo, stem):
    ours = [(key, list(t.shape)) for key, t in meta_module(zoo, stem).state_dict().items()]
    theirs = [(key, shape) for key, shape in torchvision_reference(stem)["state_dict"]]
    assert ours == theirs, state_dict_difference(ours, theirs)


def state_dict_difference(ours: list, theirs: list) -> str:
    """Where two (key, shape) lists part, and which keys one has that the other lacks."""
    at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
              min(len(ours), len(theirs)))
    lines = [f"{len(ours)} tensors, torchvision has {len(theirs)}; first difference at #{at}:",
             f"  spec:        {ours[at] if at < len(ours) else '(none)'}",
             f"  torchvision: {theirs[at] if at < len(theirs) else '(none)'}"]
    our_keys, their_keys = dict(ours), dict(theirs)
    for what, keys in (("only in the spec", [k for k in our_keys if k not in their_keys]),
                       ("only in torchvision", [k for k in their_keys if k not in our_keys])):
        if keys:
            lines.append(f"  {what} ({len(keys)}): {', '.join(keys[:5])}"
                         + (", ..." if len(keys) > 5 else ""))
    return "\n".join(lines)


@pytest.mark.parametrize("stem", sorted(ZOO_STEMS - {s for s in ZOO_STEMS
                                                     if s.endswith("_blocks")}))
def test_no_wrapper_that_does_nothing(zoo, stem):
    """Issue 16: no `torch.cat` of one tensor (it is that tensor), and no one-child
    `nn.Sequential` but where torchvision's keys have it (`features.1.0.block...`)."""
    assert not re.search(r"torch\.cat\(\[\w+\]", network_source(zoo, stem))
    with torch.device("meta"):
        model = network_class(zoo, stem)()
    keys = [key for key, _ in torchvision_reference(stem)["state_dict"]] \
        if stem in CHECKED else []
    for path, module in model.named_modules():
        if isinstance(module, torch.nn.Sequential) and len(module) == 1:
            prefix = f"{path}.0." if path else "0."
            assert any(key.startswith(prefix) for key in keys), \
                f"`{path}` is an nn.Sequential of one module that torchvision has not"


@pytest.mark.parametrize("stem", CHECKED)
def test_class_takes_num_classes(zoo, stem):
    """Issue 13: `Net(num_classes=10)`, as torchvision's constructors take it."""
    net = zoo(stem)
    with torch.device("meta"):
        model = network_class(zoo, stem)(num_classes=10).eval()
        out = model(torch.empty(2, *net.input_shape))
    assert tuple(out.shape) == (2, 10)


@pytest.mark.slow
@pytest.mark.parametrize("stem", CHECKED)
def test_computes_torchvisions_function(zoo, stem):
    reference = torchvision_reference(stem)
    model = network_class(zoo, stem)().eval()
    fill_in_order(model, reference["state_dict"])
    expected = torch.tensor(reference["output"])
    with torch.no_grad():
        out = model(reference_input(*reference["input"][1:], batch=reference["input"][0]))
    assert out.shape == expected.shape
    error = ((out - expected).abs().max() / expected.abs().max()).item()
    assert error < TOLERANCE, f"max abs difference {error:.3g} of the max abs output"


def fill_in_order(model, reference_state: list) -> None:
    tensors = list(model.state_dict(keep_vars=True).values())
    assert [list(t.shape) for t in tensors] == [shape for _, shape in reference_state], \
        "the shapes in order are not torchvision's: see test_state_dict_is_torchvisions"
    for (key, _), tensor in zip(reference_state, tensors):
        fill_tensor(key, tensor)


def test_every_torchvision_network_has_a_zoo_spec():
    assert sorted(set(torchvision_names()) - ZOO_STEMS) == []
