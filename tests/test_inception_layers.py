"""The two layers TF-Slim's Inception-v4 and Inception-ResNet-v2 need, against torch:
`avgpool ... exclude_pad` (TensorFlow's SAME average pooling) and `scale` (the residual
scaling of Inception-ResNet)."""
import pytest
import torch
import torch.nn.functional as F

import cnndsl


def run(model, x):
    with torch.no_grad():
        return model.eval()(x)


@pytest.mark.parametrize("flag, count_include_pad", [("", True), (" exclude_pad", False)])
def test_avgpool_counts_padding_unless_told(flag, count_include_pad):
    x = torch.rand(2, 3, 7, 7) + 1  # positive, so padded zeros visibly lower a border mean
    out = run(cnndsl.load(f"input 3x7x7\navgpool k3 s1 p1{flag}\n"), x)
    expected = F.avg_pool2d(x, 3, 1, 1, count_include_pad=count_include_pad)
    other = F.avg_pool2d(x, 3, 1, 1, count_include_pad=not count_include_pad)
    assert torch.allclose(out, expected)
    assert not torch.allclose(out, other)


def test_scaled_residual_equals_torch():
    model = cnndsl.load("input 4x5x5\nresidual< conv k1 4 scale 0.17 > relu\n")
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    x = torch.randn(2, 4, 5, 5)
    expected = torch.relu(F.conv2d(x, conv.weight, conv.bias) * 0.17 + x)
    assert torch.allclose(run(model, x), expected, atol=1e-6)


def test_scale_adds_no_parameters_macs_or_field():
    plain = cnndsl.build("input 4x5x5\nconv k3 p1 4\n")
    scaled = cnndsl.build("input 4x5x5\nconv k3 p1 4 scale 0.5\n")
    for key in ("params", "macs"):
        assert scaled.meta[key] == plain.meta[key]
    assert scaled.node(scaled.output)["meta"]["rf"] == plain.node(plain.output)["meta"]["rf"]
