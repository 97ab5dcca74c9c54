"""Fully convolutional conversion (CS231n, "Converting FC layers to CONV layers"): the pass
and `fully_conv=` of build/load, `--fully-conv`, and `cnndsl.fully_conv(module)` on trained
modules. Numbers are checked against torch: the converted network computes the fc
network's output at the input the fcs were made for, and at a larger input each position
of its score map is the fc network applied to one window of the input."""
import json

import pytest
import torch
from torch import nn

import cnndsl
from cnndsl.cli import main

from .conftest import SPECS

TINY = SPECS / "torch" / "tiny_vgg.cnn"  # input 3x32x32, total stride 4, 10 classes
STRIDE = 4


def fc_module(**params):
    torch.manual_seed(0)
    return cnndsl.load(TINY, params=params or None).eval()


def windows(x, size, positions):
    """The crops of `x` that score-map positions (i, j) see (stride STRIDE)."""
    return [x[:, :, STRIDE * i:STRIDE * i + size, STRIDE * j:STRIDE * j + size]
            for i, j in positions]


# --- the pass, through cnndsl.build -------------------------------------------------------
@pytest.mark.parametrize("size, side", [(224, 1), (384, 6), (448, 8)])
def test_vgg16_gives_a_score_map(size, side):
    fc = cnndsl.build("vgg16")
    net = cnndsl.build("vgg16", fully_conv=True, input_shape=(3, size, size))
    assert net.node(net.output)["meta"]["shape"] == (1000, side, side)
    assert net.meta["params"] == fc.meta["params"] == 138_357_544
    head = net.node(net.by_name("classifier.0"))
    assert (head["op"], head["opts"]["k"], head["opts"]["c"]) == ("conv", (7, 7), 4096)
    assert net.node(net.by_name("classifier.6"))["opts"]["k"] == (1, 1)
    # MACs grow with the map: the first conv slides its 7x7x512 kernel over side² places
    assert net.node(net.by_name("classifier.0"))["meta"]["macs"] == 25088 * 4096 * side ** 2
    if size == 224:
        assert net.meta["macs"] == fc.meta["macs"]
    else:
        assert net.meta["macs"] > fc.meta["macs"]
    assert not net.lint()


def test_module_names_stay_and_the_flatten_goes():
    fc, conv = cnndsl.build(TINY), cnndsl.build(TINY, fully_conv=True)
    names = {fc.node(n)["name"] for n in fc.layers()}
    assert {conv.node(n)["name"] for n in conv.layers()} == names - {"flatten1"}
    assert conv.meta["fully_conv"] == ["classifier.0", "classifier.3", "classifier.6"]
    assert conv.node(conv.by_name("classifier.2"))["op"] == "dropout"  # kept between them


def test_alexnet_converts_with_its_dropout_before_the_first_fc():
    net = cnndsl.build("alexnet", fully_conv=True, input_shape=(3, 384, 384))
    assert net.node(net.output)["meta"]["shape"] == (1000, 6, 6)
    assert net.node(net.by_name("classifier.1"))["opts"]["k"] == (6, 6)


def test_receptive_field_of_the_score_map_is_its_gradient_footprint():
    """Score (i, j) depends on exactly the window the summary reports (tiny_vgg with
    average pools, so that every input of a window gets a gradient)."""
    text = TINY.read_text().replace("maxpool", "avgpool")
    net = cnndsl.build(text, params={"pad": 0}, fully_conv=True, input_shape=(3, 44, 44))
    rows_axis, _ = net.node(net.output)["meta"]["rf"]
    model = cnndsl.load(text, params={"pad": 0}, fully_conv=True, input_shape=(3, 44, 44))
    for p in model.parameters():
        nn.init.constant_(p, 0.01)  # positive: every ReLU passes, nothing cancels
    x = torch.ones(1, 3, 44, 44, dtype=torch.float64, requires_grad=True)
    i, j = 1, 2
    model.double().eval()(x)[0, 0, i, j].backward()
    rows = torch.nonzero(x.grad[0, 0].ne(0).any(1)).flatten().tolist()
    cols = torch.nonzero(x.grad[0, 0].ne(0).any(0)).flatten().tolist()
    for position, reached in ((i, rows), (j, cols)):
        centre = rows_axis.start + position * rows_axis.jump
        assert (reached[0], reached[-1]) == (centre - rows_axis.size / 2,
                                             centre + rows_axis.size / 2 - 1)
    assert rows_axis.jump == STRIDE and rows_axis.size == 30


# --- load(fully_conv=True) and weights ------------------------------------------------------
def test_load_reshapes_the_fc_weights_and_computes_the_same_at_the_spec_size():
    fc = fc_module()
    model = cnndsl.load(TINY, fully_conv=True, weights=fc.state_dict()).eval()
    assert model.classifier[0].weight.shape == (32, 16, 8, 8)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected, got = fc(x), model(x)
    assert got.shape == (3, 10, 1, 1)
    torch.testing.assert_close(got.flatten(1), expected, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 48, 48)).shape == (1, 10, 5, 5)


def test_the_score_map_is_the_fc_network_on_each_window():
    """Dense evaluation: with unpadded convs the equality is exact at every position."""
    fc = fc_module(pad=0)
    model = cnndsl.load(TINY, params={"pad": 0}, fully_conv=True, input_shape=(3, 44, 44),
                        weights=fc.state_dict()).eval()
    x = torch.randn(2, 3, 44, 44)
    positions = [(1, 2), (3, 0), (0, 0)]
    with torch.no_grad():
        scores = model(x)
        assert scores.shape == (2, 10, 4, 4)
        for (i, j), crop in zip(positions, windows(x, 32, positions)):
            torch.testing.assert_close(scores[:, :, i, j], fc(crop), atol=1e-5, rtol=1e-5)


def test_a_head_with_merges_converts_by_position():
    """After the first fc, residuals, concatenations and softmax act per position."""
    text = ("input 3x8x8\nconv k3 4 flatten\nfc 6 relu\nresidual< fc 6 relu fc 6 >\n"
            "inception< fc 3 | fc 2 >\nsoftmax\n")
    torch.manual_seed(0)
    fc = cnndsl.load(text).eval()
    model = cnndsl.load(text, fully_conv=True, input_shape=(3, 12, 12),
                        weights=fc.state_dict()).eval()
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        scores = model(x)
        assert scores.shape == (2, 5, 5, 5)
        torch.testing.assert_close(scores[:, :, 2, 3], fc(x[:, :, 2:10, 3:11]))  # stride 1
        torch.testing.assert_close(cnndsl.fully_conv(fc)(x), scores)


def test_fuse_bn_and_fully_conv_together():
    text = ("input 3x12x12\nconv k3 p1 4 bn relu maxpool k2\nflatten\n"
            "fc 8 bn relu dropout fc 5\n")
    torch.manual_seed(0)
    fc = cnndsl.load(text)
    with torch.no_grad():
        for m in fc.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
    fc.eval()
    model = cnndsl.load(text, fully_conv=True, fuse_bn=True, weights=fc.state_dict())
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(model(x).flatten(1), fc(x), atol=1e-5, rtol=1e-4)


def test_the_generated_file_is_fully_convolutional():
    from cnndsl.torch_api import module_class

    source = cnndsl.compile_source(TINY, fully_conv=True, input_shape="3x40x40")
    assert "nn.Linear" not in source and "nn.Flatten" not in source
    assert "nn.Conv2d(16, 32, 8)" in source and "output 10x3x3" in source
    # num_classes stays a constructor parameter; pad does not, as the kernel (8 here, 6
    # unpadded) depends on it
    assert "def __init__(self, num_classes=10):" in source
    model = module_class(source, "TinyVGG")(num_classes=4)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 40, 40)).shape == (1, 4, 3, 3)


# --- cnndsl.fully_conv(module) ------------------------------------------------------------
def test_fully_conv_of_a_generated_module_reads_its_input_size():
    fc = fc_module(pad=0)
    model = cnndsl.fully_conv(fc)  # the size comes from the generated file's header
    assert set(model.state_dict()) == set(fc.state_dict())
    assert torch.equal(model.state_dict()["classifier.0.weight"],
                       fc.state_dict()["classifier.0.weight"].view(32, 16, 6, 6))
    x = torch.randn(2, 3, 44, 44)
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, :, :32, :32]).flatten(1), fc(x[:, :, :32, :32]),
                                   atol=1e-5, rtol=1e-5)
        scores = model(x)
        assert scores.shape == (2, 10, 4, 4)
        (crop,) = windows(x, 32, [(2, 1)])
        torch.testing.assert_close(scores[:, :, 2, 1], fc(crop), atol=1e-5, rtol=1e-5)
    assert fc.classifier[0].weight.shape == (32, 576)  # the original is left as it was


class TorchvisionStyle(nn.Module):
    """torchvision's VGG and AlexNet layout, small: an adaptive pool to a fixed size, then
    torch.flatten (or the older view) in forward, and the classifier."""

    def __init__(self, pool=7, flatten="torch.flatten", head_dropout=False):
        super().__init__()
        self.flatten = flatten
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(True),
                                      nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                                      nn.ReLU(True), nn.MaxPool2d(2))
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        self.classifier = nn.Sequential(
            *([nn.Dropout()] if head_dropout else []), nn.Linear(16 * pool * pool, 32),
            nn.ReLU(True), nn.Dropout(), nn.Linear(32, 32), nn.ReLU(True), nn.Linear(32, 10))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        x = torch.flatten(x, 1) if self.flatten == "torch.flatten" else x.view(x.size(0), -1)
        return self.classifier(x)


@pytest.mark.parametrize("flatten, head_dropout", [("torch.flatten", False), ("view", True)])
def test_fully_conv_of_a_torchvision_style_module(flatten, head_dropout):
    torch.manual_seed(0)
    original = TorchvisionStyle(flatten=flatten, head_dropout=head_dropout).eval()
    model = cnndsl.fully_conv(original, input_shape=(3, 28, 28))
    assert isinstance(model.avgpool, nn.Identity)  # AdaptiveAvgPool2d(7) on a 7x7 map
    assert set(model.state_dict()) == set(original.state_dict())
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x).flatten(1), original(x), atol=1e-5, rtol=1e-5)
        assert model(torch.randn(1, 3, 60, 60)).shape == (1, 10, 9, 9)


def test_an_adaptive_pool_by_a_whole_factor_becomes_that_pool():
    torch.manual_seed(0)
    original = TorchvisionStyle(pool=3).eval()  # a 6x6 map pooled to 3x3 at 24x24
    model = cnndsl.fully_conv(original, input_shape="3x24x24")
    assert isinstance(model.avgpool, nn.AvgPool2d) and model.avgpool.kernel_size == (2, 2)
    x = torch.randn(2, 3, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(model(x).flatten(1), original(x), atol=1e-5, rtol=1e-5)
        assert model(torch.randn(1, 3, 40, 40)).shape == (1, 10, 3, 3)


def test_a_batchnorm_and_softmax_head_act_per_position():
    torch.manual_seed(0)
    original = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 8),
                             nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 5), nn.Softmax(-1))
    original[3].running_mean.uniform_(-1, 1)
    original.eval()
    model = cnndsl.fully_conv(original, input_shape=(3, 8, 8))
    assert isinstance(model.get_submodule("3"), nn.BatchNorm2d)
    x = torch.randn(4, 3, 12, 12)
    with torch.no_grad():
        scores = model(x)
        assert scores.shape == (4, 5, 5, 5)
        torch.testing.assert_close(scores[:, :, 3, 1], original(x[:, :, 3:11, 1:9]),
                                   atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("module, message", [
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)),
     "`1` (AdaptiveAvgPool2d) pools the whole map to 1x1"),
    (nn.Sequential(nn.Conv2d(3, 4, 3)), "the module has no Linear layer"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LayerNorm(144), nn.Linear(144, 2)),
     "`2` after the flatten acts on the whole flattened map"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), "no Linear follows"),
])
def test_fully_conv_of_a_module_that_cannot_be_converted(module, message):
    with pytest.raises(cnndsl.CnnUsageError, match="fully_conv") as info:
        cnndsl.fully_conv(module, input_shape=(3, 8, 8))
    assert message in str(info.value)


def test_fully_conv_of_a_foreign_module_needs_its_input_size():
    with pytest.raises(cnndsl.CnnUsageError, match="input_shape="):
        cnndsl.fully_conv(TorchvisionStyle())
    with pytest.raises(cnndsl.CnnUsageError, match="does not run on a 1x28x28 input"):
        cnndsl.fully_conv(TorchvisionStyle(), input_shape=(1, 28, 28))
    with pytest.raises(cnndsl.CnnUsageError, match="pools a 1x1 map to 7x7"):
        cnndsl.fully_conv(TorchvisionStyle(), input_shape=(3, 5, 5))


def test_vgg16_module_at_224_and_384():
    """The one full-size test (VGG-16: 15 GMACs at 224², 50 at 384²): seeded weights, the
    converted module equals the generated one at 224², and at 384² gives 1000x6x6 (its
    shapes from the IR: the forward pass there is left out, as its cost says nothing new)."""
    torch.manual_seed(0)
    original = cnndsl.load("vgg16").eval()
    model = cnndsl.fully_conv(original)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x).flatten(1), original(x), atol=1e-5, rtol=1e-4)
    assert model.get_submodule("classifier.0").weight.shape == (4096, 512, 7, 7)
    net = cnndsl.build("vgg16", fully_conv=True, input_shape="3x384x384")
    assert net.node(net.output)["meta"]["shape"] == (1000, 6, 6)


# --- errors of the pass: located where the user can fix them ---------------------------------
@pytest.mark.parametrize("text, line, col, message", [
    ("input 3x8x8\nconv k3 4 relu\ngap flatten fc 10\n", 3, 1, "`gap` pools the whole map"),
    ("input 3x8x8\nconv k3 4\ngmp dropout flatten\nfc 10\n", 3, 1, "`gmp` pools the whole"),
    ("input 784\nfc 100 relu\nfc 10\n", 2, 1, "reads a flat vector"),
    ("input 3x8x8\nconv k3 4 flatten\nfc 10 relu rbf 3\n", 3, 12, "`rbf` after the converted"),
    ("input 3x8x8\nconv k3 4 flatten\nln fc 10\n", 3, 1, "`ln` between the flatten"),
    ("input 3x8x8\nconv k3 4 flatten\n", 2, 11, "no `fc` follows this `flatten`"),
])
def test_what_cannot_be_converted_is_a_located_error(text, line, col, message):
    if "no `fc` follows" in message:
        text += "aux< fc 3 >\n"  # an fc elsewhere, so there is something to convert
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.build(text, fully_conv=True)
    error = info.value
    assert message in error.message, str(error)
    assert (error.span.line, error.span.col) == (line, col), str(error)
    assert error.hint


def test_a_network_without_fc_is_a_usage_error():
    with pytest.raises(cnndsl.CnnUsageError, match="no `fc` layer to turn into a conv"):
        cnndsl.build("input 3x8x8\nconv k3 4 relu conv k1 10\n", fully_conv=True)


def test_an_input_smaller_than_the_fcs_is_a_located_error():
    with pytest.raises(cnndsl.CnnShapeError, match="made for a 16x8x8 map") as info:
        cnndsl.build(TINY, fully_conv=True, input_shape=(3, 24, 24))
    assert info.value.span.line == 13  # the classifier's line
    assert "3x32x32" in info.value.hint


def test_asserts_hold_for_the_spec_as_written():
    """The spec's asserts are checked at its own input, not on the converted network."""
    text = ("input 3x8x8\nconv k3 4 flatten\nfc 10\nassert macs == {}\n")
    fc_macs = cnndsl.build(text.format(1)[:-len("assert macs == 1\n")]).meta["macs"]
    assert cnndsl.build(text.format(fc_macs), fully_conv=True, input_shape=(3, 12, 12))
    with pytest.raises(cnndsl.CnnContractError):
        cnndsl.build(text.format(fc_macs + 1), fully_conv=True, input_shape=(3, 12, 12))


# --- the command line ---------------------------------------------------------------------
def test_cli_summary_of_vgg16_at_384(capsys):
    assert main(["summary", "vgg16", "--fully-conv", "--input", "3x384x384", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["output"] == [1000, 6, 6]
    assert data["params"] == 138_357_544
    head = next(row for row in data["layers"] if row["name"] == "classifier.0")
    assert head["op"] == "conv k7 4096" and head["shape"] == [4096, 6, 6]


@pytest.mark.parametrize("command", ["check", "summary", "compile", "render"])
def test_cli_fully_conv_in_each_command(command, tmp_path, capsys):
    out = ["-o", str(tmp_path / "out.dot")] if command == "render" else []
    assert main([command, str(TINY), "--fully-conv", "--input", "3x40x40", *out]) == 0
    text = (tmp_path / "out.dot").read_text() if command == "render" \
        else capsys.readouterr().out
    assert ("10×3×3" if command == "render" else "10x3x3") in text


def test_cli_a_located_error_exits_1(capsys):
    assert main(["check", "resnet18", "--fully-conv"]) == 1
    err = capsys.readouterr().err
    assert "resnet18.cnn:13:9: error: `fully_conv`: `gap` pools the whole map" in err
    assert "Traceback" not in err


ADAPTIVE = "input 3x16x16\nconv k3 p1 4 relu maxpool k2\n(avgpool: {pool}) flatten fc 6 relu fc 3\n"


@pytest.mark.parametrize("pool, at_32, op", [
    ("gap 8x8", (3, 9, 9), None),              # the identity at 16x16: it goes
    ("gap 4x4", (3, 5, 5), "avgpool"),         # pools 8x8 by 2: it becomes `avgpool k2`
    ("gmp 2x4", (3, 3, 5), "maxpool"),         # windows of 4x2: 16x16 -> 4x8 -> 3x5
])
def test_adaptive_pools_to_a_size_slide(pool, at_32, op):
    """torchvision's VGG pools adaptively to 7x7 before its classifier: converted, a pool
    that is the identity at the spec's input goes and one of a whole factor slides."""
    spec = ADAPTIVE.format(pool=pool)
    net = cnndsl.build(spec, fully_conv=True, input_shape="3x32x32")
    assert net.node(net.output)["meta"]["shape"] == at_32
    ops = {net.node(n)["name"]: net.node(n)["op"] for n in net.layers()}
    assert ops.get("avgpool") == op
    torch.manual_seed(0)
    fc = cnndsl.load(spec).eval()
    conv = cnndsl.load(spec, fully_conv=True).eval()
    conv.load_state_dict({k: v.view(conv.state_dict()[k].shape)
                          for k, v in fc.state_dict().items()})
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(conv(x).flatten(1), fc(x), rtol=1e-5, atol=1e-5)


def test_adaptive_pool_of_uneven_windows_cannot_slide():
    with pytest.raises(cnndsl.CnnError, match="windows of different sizes") as info:
        cnndsl.build(ADAPTIVE.format(pool="gap 3x3"), fully_conv=True)
    assert (info.value.span.line, info.value.span.col) == (3, 11)
