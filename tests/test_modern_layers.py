"""The layers of today's CNNs (issue 12) against torch: output shapes against a forward
pass, parameter counts against sum(p.numel()), MACs, and the function itself against
modules built by hand as torchvision builds them."""
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import cnndsl  # noqa: E402


def generated(text: str):
    """The network and its generated module, in eval mode."""
    net = cnndsl.build(text)
    return net, cnndsl.load(text).eval()


def same_function(text: str, reference: nn.Module, batch: int = 2, atol: float = 1e-6):
    """The generated module computes `reference` once its parameters are copied over in
    registration order (shapes must agree pairwise); returns the network."""
    net, module = generated(text)
    reference = reference.eval()
    ours, theirs = list(module.parameters()), list(reference.parameters())
    assert [p.shape for p in ours] == [p.shape for p in theirs]
    torch.manual_seed(0)
    with torch.no_grad():
        for a, b in zip(ours, theirs):
            b.normal_()
            a.copy_(b)
    x = torch.randn(batch, *net.input_shape)
    out = module(x)
    assert tuple(out.shape[1:]) == net.node(net.output)["meta"]["shape"]
    assert torch.allclose(out, reference(x), atol=atol)
    assert net.meta["params"] == sum(p.numel() for p in module.parameters())
    return net


def test_hardswish_and_hardsigmoid_are_torchs():
    net = same_function("input 4x5x5\nconv k1 4 hardswish conv k1 4 hardsigmoid",
                        nn.Sequential(nn.Conv2d(4, 4, 1), nn.Hardswish(), nn.Conv2d(4, 4, 1),
                                      nn.Hardsigmoid()))
    source = cnndsl.compile_source("input 4x5x5\nhardswish hardsigmoid")
    assert "nn.Hardswish()" in source and "nn.Hardsigmoid()" in source
    assert net.meta["macs"] == 2 * 4 * 4 * 25


def test_dropout_inplace_is_torchvisions_classifier():
    source = cnndsl.compile_source("input 8\ndropout 0.2 inplace fc 3")
    assert "nn.Dropout(0.2, inplace=True)" in source
    same_function("input 8\ndropout 0.2 inplace fc 3",
                  nn.Sequential(nn.Dropout(0.2, inplace=True), nn.Linear(8, 3)))


def reference_shuffle(x, groups):
    """Output channel j*groups + i is input channel i*(C/groups) + j."""
    c = x.shape[1]
    order = [i * (c // groups) + j for j in range(c // groups) for i in range(groups)]
    return x[:, order]


class ShuffleUnit(nn.Module):
    """ShuffleNetV2's stride-1 unit as torchvision writes it."""

    def __init__(self, c):
        super().__init__()
        half = c // 2
        self.branch2 = nn.Sequential(
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
            nn.Conv2d(half, half, 3, padding=1, groups=half, bias=False),
            nn.BatchNorm2d(half), nn.Conv2d(half, half, 1, bias=False),
            nn.BatchNorm2d(half), nn.ReLU())

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        return reference_shuffle(torch.cat((x1, self.branch2(x2)), dim=1), 2)


def test_chunk_and_shuffle_make_shufflenets_unit():
    net = same_function(
        "input 8x6x6\nconcat< chunk 2 i=0 | chunk 2 i=1 conv k1 4 bn relu conv k3 p1 dw bn "
        "conv k1 4 bn relu >\nshuffle 2", ShuffleUnit(8))
    rows = {row["name"]: row for row in cnndsl.summary(net).data["layers"]}
    assert rows["branch1"]["shape"] == [4, 6, 6] and not rows["branch1"]["module"]
    assert rows["shuffle1"]["params"] == 0 and rows["shuffle1"]["rf"]["size"] == 3


@pytest.mark.parametrize("n, i", [(2, 1), (3, 2), (4, 0)])
def test_chunk_is_torchs_chunk(n, i):
    net, module = generated(f"input 12x3x3\nchunk {n} i={i}")
    x = torch.randn(2, 12, 3, 3)
    assert torch.equal(module(x), x.chunk(n, 1)[i])
    assert net.node(net.output)["meta"]["shape"] == (12 // n, 3, 3)


@pytest.mark.parametrize("g", [2, 3, 4])
def test_shuffle_is_channel_shuffle(g):
    _, module = generated(f"input 12x2x2\nshuffle {g}")
    x = torch.randn(2, 12, 2, 2)
    assert torch.equal(module(x), reference_shuffle(x, g))


def torchvision_stochastic_depth(x, p, mode, training):
    """torchvision.ops.stochastic_depth, written out (torchvision is not a dependency)."""
    if not training or p == 0.0:
        return x
    survival_rate = 1.0 - p
    size = [x.shape[0]] + [1] * (x.ndim - 1) if mode == "row" else [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype, device=x.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return x * noise


@pytest.mark.parametrize("p, mode", [(0.3, "row"), (0.5, "batch"), (1.0, "row"), (0.0, "row")])
def test_droppath_is_torchvisions_stochastic_depth(p, mode):
    text = f"input 4x3x3\ndroppath {p} mode={mode}"
    net, module = generated(text)
    x = torch.randn(64, 4, 3, 3)
    assert torch.equal(module(x), x)  # eval: the identity
    module.train()
    torch.manual_seed(1)
    ours = module(x)
    torch.manual_seed(1)
    assert torch.equal(ours, torchvision_stochastic_depth(x, p, mode, True))
    kept = ours.flatten(1).abs().sum(1) > 0
    if 0 < p < 1 and mode == "row":
        assert 0 < kept.sum() < len(x)  # some samples dropped, some kept
        assert torch.allclose(ours[kept], x[kept] / (1 - p))
    assert net.meta["params"] == 0 and net.meta["macs"] == 0
    assert "import torchvision" not in cnndsl.compile_source(text)


def tf_same_conv(conv: nn.Conv2d, x):
    """TensorFlow's SAME: ceil(n/s) outputs, the odd pixel of padding at the end."""
    pads = []
    for n, k, s, d in zip(x.shape[2:], conv.kernel_size, conv.stride, conv.dilation):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return conv(torch.nn.functional.pad(x, (left, right, top, bottom)))


@pytest.mark.parametrize("size, k, s, d", [
    ((9, 10), 3, 2, 1), ((8, 8), 2, 1, 1), ((7, 12), 5, 2, 1), ((11, 11), 3, 3, 2),
    ((6, 9), 4, 2, 1), ((5, 5), 3, 1, 1)])
def test_same_padding_is_tensorflows_for_any_stride(size, k, s, d):
    h, w = size
    text = f"input 3x{h}x{w}\nconv k{k} s{s} d{d} p=same 4"
    net, module = generated(text)
    reference = nn.Conv2d(3, 4, k, s, dilation=d)
    with torch.no_grad():
        for a, b in zip(module.parameters(), reference.parameters()):
            a.copy_(b)
    x = torch.randn(2, 3, h, w)
    expected = tf_same_conv(reference, x)
    assert tuple(expected.shape[2:]) == (-(-h // s), -(-w // s))
    assert net.node(net.output)["meta"]["shape"] == tuple(expected.shape[1:])
    assert torch.allclose(module(x), expected, atol=1e-6)
    assert [name for name, _ in module.state_dict().items()] == ["conv1.weight", "conv1.bias"]
    assert net.meta["macs"] == 3 * 4 * k * k * expected.shape[2] * expected.shape[3]
    if s == 1:  # torch's own padding="same" pads as TensorFlow does at stride 1
        same = nn.Conv2d(3, 4, k, padding="same", dilation=d)
        same.load_state_dict(reference.state_dict())
        assert torch.allclose(module(x), same(x), atol=1e-6)


def test_uneven_same_padding_places_the_receptive_field():
    """The leading pads place the field: output pixel 0 of `conv k2 s2 p=same` on an odd
    size starts at input 0 (the odd pad is at the end)."""
    net = cnndsl.build("input 1x9x9\nconv k2 s2 p=same 1\nconv k3 s2 p=same 1")
    module = cnndsl.load("input 1x9x9\nconv k2 s2 p=same 1\nconv k3 s2 p=same 1").double()
    for p in module.parameters():
        nn.init.constant_(p, 0.1)
    x = torch.ones(1, 1, 9, 9, dtype=torch.float64, requires_grad=True)
    module(x)[0, 0, 1, 1].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten().tolist()
    axis = net.node(net.output)["meta"]["rf"][0]
    centre = axis.start + 1 * axis.jump
    assert (rows[0], rows[-1]) == (centre - axis.size / 2, centre + axis.size / 2 - 1)


def test_same_padding_before_bn_is_not_folded_backwards():
    from cnndsl.passes.fold_batchnorm import fold_plan

    net = cnndsl.build("input 3x9x9\nbn conv k2 s2 p=same 4")
    assert fold_plan(net) == []
