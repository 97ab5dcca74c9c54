"""The constructs that write today's CNNs: numbered scopes, conditions, layer parameters,
option defaults, indexed repeats, tensor arguments, several outputs, RegNet widths."""
import pytest
import torch

import cnndsl
from cnndsl.ir.evaluate import regnet_stages

MOBILE = """
input 16x32x32
block cna(c, k=3, s=1, g=1, act=relu6): seq< conv k=k s=s p=(k-1)//2 g=g c nobias bn act >
block ir(c, s, t, hidden=in*t):
    residual(when=s == 1 and in == c)< conv: seq< cna(hidden, k=1) if t != 1
                                                   cna(hidden, s=s, g=hidden)
                                                   conv k1 c nobias bn > >
features: seq< cna(32, s=2) ir(16, 1, 1) ir(24, 2, 6) ir(24, 1, 6) cna(64, k=1) >
"""


def names(net):
    return {net.node(n)["name"]: net.node(n) for n in net.layers()}


def test_seq_numbers_children_as_nn_sequential():
    net = cnndsl.build(MOBILE)
    found = names(net)
    # t == 1: no expansion, the depthwise cna is conv.0; t != 1: expansion at conv.0.
    assert found["features.1.conv.0.0"]["opts"]["g"] == 32
    assert found["features.2.conv.0.0"]["opts"]["k"] == (1, 1)
    assert found["features.2.conv.1.0"]["opts"]["s"] == (2, 2)
    assert "features.3.add1" in found and "features.2.add1" not in found
    assert found["features.4.2"]["op"] == "relu6"
    model = cnndsl.load(MOBILE)
    assert isinstance(model.features, torch.nn.Sequential)
    assert isinstance(model.features[0], torch.nn.Sequential)
    keys = list(model.state_dict())
    assert keys[:2] == ["features.0.0.weight", "features.0.1.weight"]
    assert "features.2.conv.3.running_var" in keys


def test_seq_groups_add_no_level_and_labels_keep_their_name():
    spec = "input 3x8x8\nf: seq< (conv k3 p1 4 relu) x2 maxpool k2 head: conv k1 2 >\n"
    assert list(names(cnndsl.build(spec))) == ["f.0", "f.1", "f.2", "f.3", "f.4", "f.head"]


def test_residual_when_false_is_the_body_alone():
    spec = ("input 8x8x8\nresidual(when=1 == 2)< conv k3 p1 8 >\n"
            "residual(when=not 0)< conv k3 p1 8 >\n")
    ops = [n["op"] for n in names(cnndsl.build(spec)).values()]
    assert ops == ["conv", "conv", "add"]


def test_conditions_and_conditional_values():
    spec = """input 4x8x8
block b(c, s=1, deep=0): conv k3 p1 s=s c (conv k1 c) if deep >= 1 and not (c == 4 or c <= 2)
b(8, 2 if 3 != 3 else 1, deep=1)
b(4, deep=1)
"""
    got = [(n["op"], n["meta"]["shape"]) for n in names(cnndsl.build(spec)).values()]
    assert got == [("conv", (8, 8, 8)), ("conv", (8, 8, 8)), ("conv", (4, 8, 8))]


def test_layer_parameters():
    spec = """input 4x8x8
block cba(c, act=relu): conv k1 c bn act
cba(4) cba(4, act=sigmoid) cba(4, act=id) cba(4, act=leaky(0.2))
"""
    layers = list(names(cnndsl.build(spec)).values())
    assert [n["op"] for n in layers] == ["conv", "bn", "relu", "conv", "bn", "sigmoid",
                                         "conv", "bn", "conv", "bn", "leaky"]
    assert layers[-1]["opts"]["slope"] == pytest.approx(0.2)


def test_option_defaults_scope_dynamically_and_end_with_their_sequence():
    spec = """input 4x8x8
block b: bn
block scoped:
    default bn eps=1e-3 momentum=0.01
    bn b bn eps=1e-4
scoped
bn
"""
    eps = [n["opts"]["eps"] for n in names(cnndsl.build(spec)).values()]
    assert eps == [1e-3, 1e-3, 1e-4, 1e-5]
    model = cnndsl.load(spec)
    assert [m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)] == \
        [0.01, 0.01, 0.01, 0.1]


def test_repeat_with_index():
    spec = "input 4x8x8\nrepeat(3, i)< conv k1 4*(i+1) >\n"
    assert [n["meta"]["shape"][0] for n in names(cnndsl.build(spec)).values()] == [4, 8, 12]


def test_block_takes_a_tensor():
    spec = """input 3x16x16
block up(c, skip): upsample 2 concat< @skip | id > conv k3 p1 c relu
enc1: conv k3 p1 8 relu
enc2: maxpool k2 conv k3 p1 16 relu
maxpool k2 conv k3 p1 32 relu
up(16, @enc2) up(8, @enc1)
"""
    net = cnndsl.build(spec)
    assert net.node(net.output)["meta"]["shape"] == (8, 16, 16)
    model = cnndsl.load(spec).eval()
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 8, 16, 16)


def test_aux_head_reads_a_labelled_tensor():
    spec = """input 3x16x16
a: conv k3 p1 8 relu
conv k3 s2 p1 16 relu
aux< @a gap flatten fc 5 >
gap flatten fc 10
"""
    net = cnndsl.build(spec)
    (head,) = net.aux_outputs
    assert net.node(head)["meta"]["shape"] == (5,)
    model = cnndsl.load(spec).train()
    out, aux = model(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 10) and aux.shape == (2, 5)
    assert model.aux1.fc1.in_features == 8  # it read `a` (8 channels), not the 16 after it


def test_label_out_of_block_scope_says_pass_it():
    spec = "input 3x8x8\nblock b: concat< @skip | id >\nskip: conv k1 3\nb\n"
    with pytest.raises(cnndsl.CnnError, match="label `skip` is outside block `b`") as info:
        cnndsl.build(spec)
    assert "pass the tensor as an argument, `b(..., @skip)`" in str(info.value)


def test_several_outputs():
    spec = """input 3x32x32
stage1: conv k3 s2 p1 8 relu
stage2: conv k3 s2 p1 16 relu
stage3: conv k3 s2 p1 32 relu
output @stage1 @stage2 @stage3
"""
    net = cnndsl.build(spec)
    shapes = [net.node(n)["meta"]["shape"] for n in net.outputs]
    assert shapes == [(8, 16, 16), (16, 8, 8), (32, 4, 4)]
    outs = cnndsl.load(spec).eval()(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape[1:]) for o in outs] == shapes
    text = str(cnndsl.summary(spec))
    assert "outputs stage1 8x16x16, stage2 16x8x8, stage3 32x4x4" in text


def test_output_by_module_path():
    spec = "input 3x16x16\nf: seq< conv k3 p1 4 relu conv k3 s2 p1 8 relu >\n" \
           "output @f.1 @f\n"
    net = cnndsl.build(spec)
    assert [net.node(n)["name"] for n in net.outputs] == ["f.1", "f.3"]


def test_quoted_labels_name_modules_freely():
    spec = 'input 3x8x8\nparam s = 2\nrepeat(2, i)< "block{s}-{i}": conv k1 4 >\n'
    keys = list(cnndsl.load(spec).state_dict())
    assert keys == ["block2-0.weight", "block2-0.bias", "block2-1.weight", "block2-1.bias"]


@pytest.mark.parametrize("text, message", [
    ('input 3x8x8\n"a.b": conv k1 4\n', "cannot name a module"),
    ('input 3x8x8\n"{nope}": conv k1 4\n', "unknown name `nope`"),
    ("input 3x8x8\nif 1 == 1\n", "nothing before it"),
    ("input 3x8x8\nconv k1 4 if 3\n", "must be true or false"),
    ("input 3x8x8\nrepeat(2, 3)< conv k1 4 >\n", "index of `repeat"),
    ("input 3x8x8\ndefault 4\n", "has no layer before it"),
    ("input 3x8x8\nblock b: bn\ndefault b\n", "sets options of layers"),
    ("input 3x8x8\nblock b(act=relu): conv k1 4 act\nb(act=3)\n", "used as a layer"),
    ("input 3x8x8\nconv k1 4\noutput @nowhere\n", "no label or module"),
])
def test_mistakes_are_located_errors(text, message):
    with pytest.raises(cnndsl.CnnError, match=message):
        cnndsl.build(text)


# Stage (width, depth, group width) of torchvision's 14 RegNets, read off their state_dicts
# (trunk_output.blockS.blockS-0.f.b.0.weight and the number of blocks per stage).
REGNETS = {
    (48, 27.89, 2.09, 16, 8): [(48, 1, 8), (104, 3, 8), (208, 6, 8), (440, 6, 8)],
    (56, 38.84, 2.4, 14, 16): [(64, 1, 16), (144, 3, 16), (320, 8, 16), (784, 2, 16)],
    (48, 20.71, 2.65, 27, 24): [(48, 2, 24), (120, 6, 24), (336, 17, 24), (888, 2, 24)],
    (80, 42.63, 2.66, 21, 24): [(72, 2, 24), (216, 5, 24), (576, 13, 24), (1512, 1, 24)],
    (192, 76.82, 2.19, 17, 56): [(224, 2, 56), (448, 4, 56), (896, 10, 56), (2016, 1, 56)],
    (200, 106.23, 2.48, 18, 112): [(224, 2, 112), (448, 4, 112), (1232, 11, 112),
                                   (3024, 1, 112)],
    (232, 115.89, 2.53, 20, 232): [(232, 2, 232), (696, 5, 232), (1392, 12, 232),
                                   (3712, 1, 232)],
    (24, 24.48, 2.54, 22, 16): [(32, 1, 16), (64, 2, 16), (160, 7, 16), (400, 12, 16)],
    (56, 35.73, 2.28, 16, 16): [(64, 1, 16), (128, 3, 16), (288, 7, 16), (672, 5, 16)],
    (80, 34.01, 2.25, 18, 24): [(72, 2, 24), (168, 4, 24), (408, 10, 24), (912, 2, 24)],
    (88, 26.31, 2.25, 25, 48): [(96, 2, 48), (192, 6, 48), (432, 15, 48), (1008, 2, 48)],
    (80, 49.56, 2.88, 23, 120): [(80, 2, 80), (240, 5, 120), (720, 15, 120), (1920, 1, 120)],
    (216, 55.59, 2.1, 22, 128): [(256, 2, 128), (512, 6, 128), (896, 13, 128),
                                 (2048, 1, 128)],
    (320, 69.86, 2.0, 23, 168): [(336, 2, 168), (672, 7, 168), (1344, 13, 168),
                                 (2520, 1, 168)],
}


@pytest.mark.parametrize("design, stages", REGNETS.items())
def test_regnet_stages_match_torchvision(design, stages):
    assert regnet_stages(*design) == stages


def test_regnet_functions_in_a_spec():
    spec = ("input 3x8x8\nparam w = regnet_width(48, 27.89, 2.09, 16, 8, 4)\n"
            "conv k1 w\nconv k1 regnet_stages(48, 27.89, 2.09, 16, 8)\n")
    assert [n["meta"]["shape"][0] for n in names(cnndsl.build(spec)).values()] == [440, 4]
