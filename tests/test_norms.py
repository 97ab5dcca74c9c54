"""What `ln` and `gn 1` normalise over (docs/language.md, the layer table), against torch."""
import torch
import torch.nn.functional as F

import cnndsl


def test_ln_normalises_over_the_channels_at_each_position():
    model = cnndsl.load("input 4x3x5\nln\n").eval()
    x = torch.randn(2, 4, 3, 5)
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (4,)).permute(0, 3, 1, 2)
    assert torch.allclose(model(x), expected, atol=1e-5)


def test_gn_1_is_the_layer_norm_over_channels_height_and_width():
    model = cnndsl.load("input 4x3x5\ngn 1\n").eval()
    x = torch.randn(2, 4, 3, 5)
    assert torch.allclose(model(x), F.layer_norm(x, (4, 3, 5)), atol=1e-5)


def test_load_takes_an_input_shape():
    model = cnndsl.load("input 3x8x8\nconv k3 4 gap flatten\n", input_shape="3x32x32").eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 4)
    spec = "input 3x8x8\nconv k3 4 flatten\n"
    assert cnndsl.load(spec, input_shape=(3, 10, 10))(torch.randn(1, 3, 10, 10)).shape == \
        (1, 4 * 8 * 8)
