"""`gate< body >`: x * body(x), the body's output broadcast over x (docs/language.md)."""
import pytest
import torch

import cnndsl


@pytest.mark.parametrize("body, gate_shape", [
    ("conv k7 p3 1 sigmoid", (1, 8, 8)),             # CBAM spatial attention
    ("gap conv k1 4 sigmoid", (4, 1, 1)),            # squeeze-and-excitation
    ("conv k1 in sigmoid", (4, 8, 8)),               # one weight per channel and position
])
def test_a_gate_broadcasts_over_its_input_as_torch_does(body, gate_shape):
    spec = f"input 4x8x8\ngate< {body} >\n"
    net = cnndsl.build(spec)
    mul = next(n for n in net.layers() if net.node(n)["op"] == "mul")
    gate = net.inputs(mul)[1]
    assert net.node(gate)["meta"]["shape"] == gate_shape
    model = cnndsl.load(spec).eval()
    x = torch.randn(2, 4, 8, 8)
    assert model(x).shape == x.shape
    assert (torch.randn(2, 4, 8, 8) * torch.randn(2, *gate_shape)).shape == x.shape


@pytest.mark.parametrize("body, hint, not_in_hint", [
    ("maxpool k2 conv k1 in sigmoid", "size must be 1x1", "conv k1 in"),
    ("conv k1 3 sigmoid", "end with 4 channels", "size"),
    ("gap flatten fc 4 sigmoid", "must give a feature map", "channels"),
])
def test_the_gate_hint_names_only_what_is_wrong(body, hint, not_in_hint):
    with pytest.raises(cnndsl.CnnShapeError) as info:
        cnndsl.build(f"input 4x8x8\ngate< {body} >\n")
    assert hint in info.value.hint and not_in_hint not in info.value.hint
