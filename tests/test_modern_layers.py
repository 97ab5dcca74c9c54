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


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


def convnext_body(c):
    """torchvision's CNBlock.block."""
    return nn.Sequential(
        nn.Conv2d(c, c, 7, padding=3, groups=c), Permute([0, 2, 3, 1]),
        nn.LayerNorm(c, eps=1e-6), nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c),
        Permute([0, 3, 1, 2]))


def test_channels_last_region_is_convnexts_block():
    net = same_function("input 8x7x7\nconv k7 p3 dw nhwc ln eps=1e-6 fc 32 gelu fc 8 nchw",
                        convnext_body(8), atol=1e-5)
    module = cnndsl.load("input 8x7x7\nconv k7 p3 dw nhwc ln eps=1e-6 fc 32 gelu fc 8 nchw")
    assert [type(m).__name__ for m in module.children()] == [
        "Conv2d", "Permute", "LayerNorm", "Linear", "GELU", "Linear", "Permute"]
    assert module.ln1.eps == 1e-6 and module.ln1.normalized_shape == (8,)
    by_name = {net.node(n)["name"]: net.node(n)["meta"] for n in net.layers()}
    assert by_name["fc1"]["shape"] == (32, 7, 7) and by_name["fc1"]["macs"] == 49 * 8 * 32
    assert by_name["fc2"]["rf"][0].size == 7  # per position: the field passes through
    assert net.meta["macs"] == 49 * 8 * 49 + 2 * 49 * 8 * 32


@pytest.mark.parametrize("text, message", [
    ("nhwc conv k1 8", "needs a channels-first feature map"),
    ("nhwc bn nchw", "needs a channels-first feature map"),
    ("nhwc flatten fc 3", "needs a channels-first feature map"),
    ("nhwc fc 4", "output is channels-last"),
    ("nhwc nhwc", "already channels-last"),
    ("nchw", "already channels-first"),
    ("residual< nhwc fc 8 >", "body gives 8x4x4 channels-last but the shortcut gives 8x4x4"),
    ("add< nhwc | id >", "branch 1 gives 8x4x4 channels-last, branch 2 gives 8x4x4"),
    ("conv k1 8 fc 4", "needs a flat input"),
])
def test_channels_last_mistakes(text, message):
    with pytest.raises(cnndsl.CnnShapeError, match=message):
        cnndsl.build(f"input 8x4x4\n{text}")


class CNBlock(nn.Module):
    """torchvision's ConvNeXt block (torchvision.models.convnext.CNBlock)."""

    def __init__(self, c, layer_scale, p):
        super().__init__()
        self.block = convnext_body(c)
        self.layer_scale = nn.Parameter(torch.ones(c, 1, 1) * layer_scale)
        self.p = p

    def forward(self, x):
        result = self.layer_scale * self.block(x)
        return torchvision_stochastic_depth(result, self.p, "row", self.training) + x


CNBLOCK = """input 8x7x7
block cnblock(c, p=0.1):
    residual< (block: conv k7 p3 dw nhwc ln eps=1e-6 fc 4*c gelu fc c nchw)
              (layer_scale: layerscale 1e-6) (stochastic_depth: droppath p) >
features: seq< cnblock(8) cnblock(8, 0.2) >
"""


def test_layerscale_is_convnexts_bare_parameter():
    net, module = generated(CNBLOCK)
    reference = nn.Sequential(CNBlock(8, 1e-6, 0.1), CNBlock(8, 1e-6, 0.2))
    keys = list(module.state_dict())
    assert keys[0] == "features.0.layer_scale" and keys[9] == "features.1.layer_scale"
    assert [v.shape for v in module.state_dict().values()] == \
        [v.shape for v in reference.state_dict().values()]
    assert torch.equal(module.get_parameter("features.0.layer_scale"),
                       torch.full((8, 1, 1), 1e-6))
    by_name = {net.node(n)["name"]: net.node(n)["meta"] for n in net.layers()}
    assert by_name["features.0.layer_scale"]["params"] == 8
    assert by_name["features.0.layer_scale"]["macs"] == 0  # as torchvision's GFLOPS
    rows = {row["name"]: row for row in cnndsl.summary(net).data["layers"]}
    assert not rows["features.0.layer_scale"]["module"]
    same_function(CNBLOCK, reference, atol=1e-5)
    module.train()
    reference.train()
    with torch.no_grad():
        for a, b in zip(module.parameters(), reference.parameters()):
            b.copy_(a)
    x = torch.randn(16, 8, 7, 7)
    torch.manual_seed(3)
    ours = module(x)
    torch.manual_seed(3)
    assert torch.allclose(ours, reference(x), atol=1e-5)


def test_unlabelled_layerscale_is_named_as_layers_are():
    text = "input 4x3x3\nstage: (conv k1 4 layerscale 0.5 relu)"
    _, module = generated(text)
    assert list(module.state_dict()) == ["stage.layerscale1", "stage.conv1.weight",
                                         "stage.conv1.bias"]
    x = torch.randn(2, 4, 3, 3)
    assert torch.allclose(module(x), torch.relu(0.5 * module.stage.conv1(x)))


@pytest.mark.parametrize("text, reference", [
    ("upsample", nn.Upsample(scale_factor=2.0)),
    ("upsample 1.5 mode=bilinear", nn.Upsample(scale_factor=1.5, mode="bilinear")),
    ("upsample size=[7,11]", nn.Upsample(size=(7, 11))),
    ("upsample size=[9,9] mode=bilinear align_corners",
     nn.Upsample(size=(9, 9), mode="bilinear", align_corners=True)),
    ("upsample 2 mode=bilinear align_corners",
     nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=True)),
])
def test_upsample_by_a_factor_or_to_a_size(text, reference):
    net, module = generated(f"input 3x4x5\n{text}")
    x = torch.randn(2, 3, 4, 5)
    expected = reference(x)
    assert torch.equal(module(x), expected)
    assert net.node(net.output)["meta"]["shape"] == tuple(expected.shape[1:])


@pytest.mark.parametrize("text, reference", [
    ("gap", nn.AdaptiveAvgPool2d(1)),
    ("gap 4x4", nn.AdaptiveAvgPool2d(4)),      # 14 -> 4: windows of 4 at 0, 3, 7, 10
    ("gap 7x7", nn.AdaptiveAvgPool2d(7)),
    ("gmp 3x5", nn.AdaptiveMaxPool2d((3, 5))),
    ("gap 20x20", nn.AdaptiveAvgPool2d(20)),   # larger than the map: windows overlap
])
def test_adaptive_pooling_to_a_size_is_torchs(text, reference):
    net, module = generated(f"input 3x14x14\n{text}")
    x = torch.randn(2, 3, 14, 14)
    expected = reference(x)
    assert torch.equal(module(x), expected)
    assert net.node(net.output)["meta"]["shape"] == tuple(expected.shape[1:])


def test_adaptive_windows_are_torchs():
    """Each output cell's window, as torch pools it: cell i of a 4-wide output over 14."""
    from cnndsl.ops.pool import adaptive_windows

    pool = torch.nn.functional.adaptive_avg_pool2d
    for i, (start, end) in enumerate(adaptive_windows(14, 4)):
        outside = torch.full((1, 1, 1, 14), 100.0)
        outside[..., start:end] = 1.0
        assert pool(outside, (1, 4))[0, 0, 0, i] == 1.0       # reads nothing outside
        for edge in (start, end - 1):
            inside = torch.ones(1, 1, 1, 14)
            inside[..., edge] = 100.0
            assert pool(inside, (1, 4))[0, 0, 0, i] > 1.0     # reads both ends
    assert adaptive_windows(14, 4) == [(0, 4), (3, 7), (7, 11), (10, 14)]
    net = cnndsl.build("input 3x14x14\ngap 4x4")
    rf = net.node(net.output)["meta"]["rf"]
    assert (rf[0].size, rf[0].jump) == (4, 3.5)  # the widest window; steps of 3.5 on average


def test_upsample_fields():
    """To a size, each axis has its own step; with align_corners pixel 0 stays on input 0."""
    net = cnndsl.build("input 3x4x5\nupsample size=[8,15]")
    rf = net.node(net.output)["meta"]["rf"]
    assert (rf[0].jump, rf[1].jump) == (0.5, 1 / 3)
    net = cnndsl.build("input 3x5x5\nupsample size=[9,9] mode=bilinear align_corners")
    rf = net.node(net.output)["meta"]["rf"]
    assert rf[0].jump == 0.5 and rf[0].start == 0.5 and rf[0].size == 2


def test_layers_print_as_torchvisions_modules():
    """The modules torchvision's MobileNetV3, EfficientNet and ConvNeXt are built of, with
    their options, repr for repr."""
    text = ("input 8x4x4\nbn eps=1e-3 momentum=0.01 silu relu6 gelu sigmoid hardswish "
            "hardsigmoid ln eps=1e-6 gap flatten dropout 0.2 inplace ln eps=1e-6")
    module = cnndsl.load(text)
    expected = [nn.BatchNorm2d(8, eps=1e-3, momentum=0.01), nn.SiLU(), nn.ReLU6(), nn.GELU(),
                nn.Sigmoid(), nn.Hardswish(), nn.Hardsigmoid(), nn.LayerNorm(8, eps=1e-6),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(p=0.2, inplace=True),
                nn.LayerNorm(8, eps=1e-6)]
    ours = list(module.children())
    # over the channels at each position: torchvision's LayerNorm2d is ChannelLayerNorm here
    assert type(ours[7]).__name__ == "ChannelLayerNorm" and isinstance(ours[7], nn.LayerNorm)
    # in-place activations are the backend's choice where nothing else reads the tensor
    assert [m.extra_repr().replace("inplace=True", "") for m in ours] == \
        [m.extra_repr().replace("inplace=True", "") for m in expected]
    assert ours[10].inplace  # the classifier's dropout, as asked
    assert [type(m) for i, m in enumerate(ours) if i != 7] == \
        [type(m) for i, m in enumerate(expected) if i != 7]


def test_diagrams_draw_the_new_layers():
    text = ("input 8x6x6\nconv k3 s2 p=same 8 hardswish\n"
            "concat< chunk 2 i=0 | chunk 2 i=1 conv k1 4 relu > shuffle 2\n"
            "residual< (body: conv k3 p1 dw nhwc ln fc 16 gelu fc 8 nchw) (scale: layerscale) "
            "droppath 0.1 >\nupsample size=[7,11] mode=bilinear")
    source = cnndsl.render(text).source
    assert "chunk 1/2" in source and "upsample to 7×11" in source and "shuffle 2" in source


@pytest.mark.parametrize("text, warned", [
    ("input 8x4x4\nconv k1 8 gap flatten dropout 0.2 inplace fc 3", None),
    ("input 8x4x4\nresidual< dropout 0.2 inplace conv k1 8 >", "`add1` also reads"),
    ("input 8x4x4\nconv k1 8\nconcat< flatten dropout inplace | flatten >",
     "`branch2` also reads"),
    ("input 8\ndropout inplace fc 3", "the network returns or is given"),
])
def test_inplace_dropout_warns_where_it_would_overwrite_a_shared_tensor(text, warned):
    messages = [w.message for w in cnndsl.build(text).warnings if w.severity == "warning"]
    if warned is None:
        assert messages == []
    else:
        assert len(messages) == 1 and warned in messages[0] and "inplace" in messages[0]
