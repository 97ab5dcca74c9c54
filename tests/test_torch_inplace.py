"""In-place steps in generated code (the NOTE in cnndsl/backends/torch_inplace.py): the
module with them computes the same outputs and gradients as the one without, in training
and in eval mode, also where an in-place step would be wrong."""
from __future__ import annotations

import re

import pytest
import torch

import cnndsl
from cnndsl.backends.torch_source import torch_source
from cnndsl.ir.names import class_name
from cnndsl.torch_api import module_class

from .conftest import SPECS, ZOO
from .torch_helpers import randomise_batchnorm

# Each line holds a step that must not be written in place, next to ones that may.
TRAPS = """network Traps
input 3x12x12
block pre(c): residual< relu conv k3 p1 c >
conv k3 p1 8 bn
relu                                  # relu1: the bn's only reader, in place
conv k1 8 sigmoid relu                # relu2: sigmoid's backward reads its output
conv k1 8 relu relu                   # relu4: so does relu3's
c: conv k1 8
relu                                  # relu5: c is read again by the add
add< id | @c >
d: conv k1 8
dropout 0.5
relu                                  # relu6: dropout returns d itself in eval mode
add< id | @d >
e: conv k1 8
concat< @e >                          # one tensor: e itself, no torch.cat
relu                                  # relu7: e is read again by the add
add< id | @e >
conv k1 8 layerscale 0.5
droppath 0.2                          # passes its input through: the add takes it in place
add< id | @e >
f: conv k1 8
conv k1 8 sigmoid
droppath 0.2                          # may return the sigmoid's output, which it reads back
add< id | @f >
leaky(0.2)                            # leaky1: after an add, in place
conv k1 8 leaky(0)                    # leaky2: no in-place backward with slope 0
pre(8)                                # its relu reads the block input, also the shortcut
add< id | id >
add< conv k1 8 | id >
gap flatten fc 5
"""


def _pair(spec, **kwargs):
    network = cnndsl.build(spec, **kwargs)
    models = []
    for inplace in (True, False):
        torch.manual_seed(0)
        source = torch_source(network, inplace=inplace)
        models.append(module_class(source, class_name(network.name))())
    randomise_batchnorm(models[0])
    models[1].load_state_dict(models[0].state_dict())
    return network, models


def _run(model, x, train: bool):
    model.train(train)
    torch.manual_seed(1)  # the same dropout masks
    x = x.clone().requires_grad_(train)
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    if not train:
        return [out.detach()]
    out.square().mean().backward()
    return [out.detach(), x.grad] + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("spec, shape", [
    (TRAPS, None), (SPECS / "valid" / "constructs.cnn", None),
    (ZOO / "resnet18.cnn", (3, 64, 64)), (ZOO / "densenet121.cnn", (3, 64, 64)),
    (ZOO / "efficientnet_b0.cnn", (3, 32, 32))],
    ids=["traps", "constructs", "resnet18", "densenet121", "efficientnet_b0"])
def test_in_place_steps_change_no_output_and_no_gradient(spec, shape):
    network, (fast, plain) = _pair(spec)
    shape = shape or network.input_shape  # the zoo's modules also run at a small size
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(2))
    before = x.clone()
    for train in (True, False):
        for a, b in zip(_run(fast, x, train), _run(plain, x, train)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert torch.equal(x, before)  # the caller's input is never overwritten


def test_in_place_where_torchvision_has_it_and_nowhere_unsafe():
    source = torch_source(cnndsl.build(TRAPS))
    lines = [line.strip() for line in source.splitlines()]
    inplace = [line.split(" = ")[0] for line in lines if "inplace=True" in line]
    assert inplace == ["self.relu1", "self.relu3", "self.leaky1"]
    # Pre's conv output, the layer scale behind stochastic depth and the last add's conv
    # branch take the shortcut in place; the other adds' first operands are ReLU or
    # sigmoid results (through stochastic depth) or `x + x`.
    assert len(re.findall(r"^\w+ \+= \w+$", "\n".join(lines), re.M)) == 3
    resnet = torch_source(cnndsl.build(ZOO / "resnet50.cnn"))
    assert "out += downsample" in resnet and "nn.ReLU()" not in resnet
    assert "torch.cat(" not in source  # `concat< @e >` is `e`


def test_a_tapped_output_is_never_overwritten():
    """`output @b @a`: the relu reading @a must not write it in place (it is returned)."""
    spec = "input 2x4x4\na: conv k1 2\nrelu\nb: conv k1 2\noutput @b @a\n"
    source = cnndsl.compile_source(spec)
    assert "ReLU(inplace=True)" not in source
    model = cnndsl.load(spec).eval()
    x = torch.randn(2, 2, 4, 4)
    with torch.no_grad():
        _, tapped = model(x)
        torch.testing.assert_close(tapped, model.a(x))
    assert (tapped < 0).any()
