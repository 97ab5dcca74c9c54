"""Acceptance of every construct, with the names, shapes and wiring it must produce."""
import re

import pytest
import torch

import cnndsl

from .conftest import SPECS


def layers(net):
    return {net.node(n)["name"]: net.node(n) for n in net.layers()}


def test_every_construct_checks():
    net = cnndsl.build(SPECS / "valid" / "constructs.cnn")
    assert net.name == "Everything"
    assert net.node(net.output)["meta"]["shape"] == (10,)
    assert net.lint() == []
    assert len(net.aux_outputs) == 1


def test_compact_and_keyword_options_agree(build_text):
    a = build_text("input 3x32x32\nconv k3 s2 p1 16")
    b = build_text("input 3x32x32\nconv(k=3, s=2, p=1, c=16)")
    c = build_text("input 3x32x32\nconv k=3 s=2 p=1 c=16")
    shapes = {net.node(net.output)["meta"]["shape"] for net in (a, b, c)}
    assert shapes == {(16, 16, 16)}


def test_new_layer_keyword_starts_new_layer(build_text):
    net = build_text("input 3x8x8\nconv k3 p1 64 bn relu")
    assert [net.node(n)["op"] for n in net.layers()] == ["conv", "bn", "relu"]
    assert list(layers(net)) == ["conv1", "bn1", "relu1"]


def test_variables_are_values_layers_are_layers(build_text):
    net = build_text("input 3x8x8\nblock b(c): conv k1 c bn\nb(12)")
    names = layers(net)
    assert names["b1.conv1"]["opts"]["c"] == 12
    assert names["b1.conv1"]["opts"]["bias"] is False  # followed by bn
    assert "b1.bn1" in names


def test_bias_on_unless_next_is_bn(build_text):
    net = build_text("input 3x8x8\nconv k3 8 relu conv k3 8 nobias conv k1 8 bias bn")
    convs = [net.node(n)["opts"]["bias"] for n in net.layers() if net.node(n)["op"] == "conv"]
    assert convs == [True, False, True]


def test_multiline_sequence_and_comments(build_text):
    net = build_text("input 3x8x8  # the input\n\n# a comment line\nconv k3 p1 8\n"
                     "   relu   # indented continuation\nmaxpool k2\n")
    assert [net.node(n)["op"] for n in net.layers()] == ["conv", "relu", "maxpool"]


def test_a_default_name_after_a_digit_takes_an_underscore(build_text):
    net = build_text("input 3x8x8\nblock b2(c): conv k1 c relu6\nconv k1 4 relu6 relu6 b2(4) b2(4)\n")
    assert list(layers(net)) == ["conv1", "relu6_1", "relu6_2", "b2_1.conv1", "b2_1.relu6_1",
                                 "b2_2.conv1", "b2_2.relu6_1"]


def test_block_body_ends_at_dedent(build_text):
    net = build_text("input 3x8x8\nblock a(c):\n    conv k1 c\n    relu\nblock b: bn\n"
                     "a(4) b a(2)\n")
    assert list(layers(net)) == ["a1.conv1", "a1.relu1", "b1.bn1", "a2.conv1", "a2.relu1"]


def test_residual_proj_only_where_shapes_differ(build_text):
    spec = ("input 8x16x16\nblock r(c, s=1): residual(proj)< conv k3 s=s p1 c bn > relu\n"
            "r(8) r(16, s=2)")
    names = layers(build_text(spec))
    assert "r1.downsample.0" not in names
    assert names["r2.downsample.0"]["opts"]["s"] == (2, 2)
    assert names["r2.downsample.0"]["opts"]["c"] == 16
    assert names["r2.add1"]["meta"]["shape"] == (16, 8, 8)


def test_residual_explicit_shortcut(build_text):
    net = build_text("input 8x16x16\nresidual< conv k3 s2 p1 16 | conv k1 s2 16 > relu")
    assert net.node(net.output)["meta"]["shape"] == (16, 8, 8)
    assert "shortcut" in layers(net)


def test_inception_concat_order(build_text):
    net = build_text("input 8x16x16\ninception< conv k1 4 | id | conv k3 p1 2 >")
    out = net.output
    assert net.node(out)["op"] == "concat"
    assert [net.node(i)["meta"]["shape"][0] for i in net.inputs(out)] == [4, 8, 2]
    assert net.node(out)["meta"]["shape"] == (14, 16, 16)


def test_add_and_gate(build_text):
    net = build_text("input 8x16x16\nadd< conv k3 p1 8 | conv k1 8 >\n"
                     "gate< gap conv k1 2 relu conv k1 8 sigmoid >")
    ops = [net.node(n)["op"] for n in net.layers()]
    assert ops.count("add") == 1 and ops[-1] == "mul"


def test_dense_channels_and_default_body(build_text):
    net = build_text("input 64x8x8\ndense(n=6, k=32)")
    assert net.node(net.output)["meta"]["shape"] == (64 + 6 * 32, 8, 8)
    names = layers(net)
    assert names["dense1.denselayer1.conv1"]["opts"]["c"] == 128
    assert names["dense1.denselayer6.concat1"]["meta"]["shape"][0] == 64 + 5 * 32


def test_aux_does_not_feed_main_path(build_text):
    net = build_text("input 8x16x16\nconv k1 4\naux< gap flatten fc 3 >\nrelu")
    (aux,) = net.aux_outputs
    assert net.node(aux)["name"] == "aux1.fc1"
    assert aux not in net.main_nodes()
    assert net.node(net.output)["op"] == "relu"


def test_label_refs_and_scopes(build_text):
    net = build_text("input 3x16x16\nenc1: conv k3 p1 8 relu\npool: maxpool k2\n"
                     "upsample 2\nconcat< @enc1 | id >")
    names = layers(net)
    assert "enc1.conv1" in names and "pool" in names
    assert net.node(net.output)["meta"]["shape"] == (16, 16, 16)


@pytest.mark.parametrize("spec, count", [
    ("conv k3 p1 8 x3", 3), ("(conv k3 p1 8 relu) * 2", 4), ("relu * 0", 0),
    ("(conv k3 p1 8) * (1 + 1)", 2),
])
def test_repetition(build_text, spec, count):
    assert sum(1 for _ in build_text("input 8x8x8\n" + spec).layers()) == count


def test_tight_star_multiplies_spaced_after_item_repeats(build_text):
    net = build_text("input 3x8x8\nparam c = 4\nconv k1 2*c bottleneck(c) * 2\n"
                     "block bottleneck(c): conv k1 c")
    names = layers(net)
    assert names["conv1"]["opts"]["c"] == 8
    assert {"bottleneck1.conv1", "bottleneck2.conv1"} <= set(names)


def test_params_and_overrides(build_text):
    spec = "input 3x8x8\nparam width = 16\nparam wide = width * 2\nconv k1 wide"
    assert build_text(spec).node(1)["opts"]["c"] == 32
    assert build_text(spec, params={"width": 8}).node(1)["opts"]["c"] == 16
    with pytest.raises(cnndsl.CnnUsageError, match="did you mean `width`"):
        build_text(spec, params={"widht": 8})


def test_expressions(build_text):
    net = build_text("input 30x8x8\nconv k1 in//2 conv k1 divisible(in*0.75, 8) "
                     "conv k1 max(3, min(10, 7)) conv k1 c=round(7/2)")
    assert [net.node(n)["opts"]["c"] for n in net.layers()] == [15, 16, 7, 4]


def test_input_override(build_text):
    net = build_text("input 3x8x8\nconv k3 4", input_shape=(3, 32, 32))
    assert net.node(net.output)["meta"]["shape"] == (4, 30, 30)


def test_use_brings_blocks(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.cnn").write_text('use "more.cnn"\nblock two(c): one(c) one(c)\n')
    (tmp_path / "lib" / "more.cnn").write_text("block one(c): conv k1 c relu\n")
    (tmp_path / "net.cnn").write_text('use "lib/blocks.cnn"\ninput 3x8x8\ntwo(5)\n')
    net = cnndsl.build(tmp_path / "net.cnn")
    assert net.node(net.output)["meta"]["shape"] == (5, 8, 8)


def test_blocks_of_indirectly_used_files_are_visible(tmp_path):
    """docs/language.md, `use`: one namespace of blocks, whichever file brought them."""
    (tmp_path / "blocks.cnn").write_text('use "more.cnn"\nblock two(c): one(c) one(c)\n')
    (tmp_path / "more.cnn").write_text("block one(c): conv k1 c relu\n")
    (tmp_path / "net.cnn").write_text('use "blocks.cnn"\ninput 3x8x8\none(5)\n')
    net = cnndsl.build(tmp_path / "net.cnn")
    assert net.node(net.output)["meta"]["shape"] == (5, 8, 8)


@pytest.mark.parametrize("uses", [
    ('use "one.cnn"\nuse "one.cnn"\n'),                    # the same file twice
    ('use "one.cnn"\nuse "./sub/../one.cnn"\n'),           # twice, spelt differently
    ('use "left.cnn"\nuse "right.cnn"\n'),                 # a diamond
    ('use "one.cnn"\nuse "left.cnn"\n'),                   # directly and through another
])
def test_a_file_reached_twice_is_read_once(tmp_path, uses):
    (tmp_path / "sub").mkdir()
    (tmp_path / "one.cnn").write_text("block one(c): conv k1 c relu\n")
    (tmp_path / "left.cnn").write_text('use "one.cnn"\nblock left: one(4)\n')
    (tmp_path / "right.cnn").write_text('use "one.cnn"\nblock right: one(6)\n')
    (tmp_path / "net.cnn").write_text(uses + "input 3x8x8\none(5)\n")
    net = cnndsl.build(tmp_path / "net.cnn")
    assert net.node(net.output)["meta"]["shape"] == (5, 8, 8)


def test_a_block_defined_in_two_files_is_still_an_error(tmp_path):
    (tmp_path / "a.cnn").write_text("block one: relu\n")
    (tmp_path / "b.cnn").write_text("block one: relu\n")
    (tmp_path / "net.cnn").write_text('use "a.cnn"\nuse "b.cnn"\ninput 3x8x8\none\n')
    with pytest.raises(cnndsl.CnnNameError, match="defined twice"):
        cnndsl.build(tmp_path / "net.cnn")


def test_use_cycle_is_an_error(tmp_path):
    (tmp_path / "a.cnn").write_text('use "b.cnn"\nblock a: relu\n')
    (tmp_path / "b.cnn").write_text('use "a.cnn"\nblock b: relu\n')
    (tmp_path / "net.cnn").write_text('use "a.cnn"\ninput 3x8x8\na\n')
    with pytest.raises(cnndsl.CnnNameError, match="cycle"):
        cnndsl.build(tmp_path / "net.cnn")


def test_use_through_symlink_outside_is_refused(tmp_path):
    outside = tmp_path / "outside.cnn"
    outside.write_text("block x: relu\n")
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "link.cnn").symlink_to(outside)
    (tmp_path / "proj" / "net.cnn").write_text('use "link.cnn"\ninput 3x8x8\nx\n')
    with pytest.raises(cnndsl.CnnNameError, match="outside"):
        cnndsl.build(tmp_path / "proj" / "net.cnn")


def test_connection_table_forms(build_text):
    a = build_text("input 6x14x14\nconv k5 table=[012, 123, 345]")
    b = build_text("input 6x14x14\nconv k5 table=[[0,1,2], [1,2,3], [3,4,5]]")
    assert a.node(1)["opts"]["table"] == b.node(1)["opts"]["table"]
    assert a.node(1)["meta"]["shape"] == (3, 10, 10)


def test_library_file_without_network(tmp_path, capsys):
    from cnndsl.cli import main

    (tmp_path / "lib.cnn").write_text("block one(c): conv k1 c relu\n")
    assert main(["check", str(tmp_path / "lib.cnn")]) == 0
    assert "library" in capsys.readouterr().out


def test_a_flat_input_line():
    net = cnndsl.build("input 784\nfc 100 relu fc 10")
    assert net.input_shape == (784,)
    assert net.node(net.output)["meta"]["shape"] == (10,)


def test_a_label_on_a_composite_is_the_scope_of_its_layers(build_text):
    net = build_text("input 3x8x8\na: inception< conv k1 4 | conv k1 4 conv k1 4 >\n"
                     "b: inception< conv k1 4 | conv k1 4 >\nc: residual< conv k1 8 relu >\n"
                     "d: gate< gap conv k1 8 sigmoid >\nconcat< @a | @c | id >\n")
    assert list(layers(net)) == [
        "a.branch1", "a.branch2.conv1", "a.branch2.conv2", "a.concat1",
        "b.branch1", "b.branch2", "b.concat1", "c.conv1", "c.relu1", "c.add1",
        "d.gap1", "d.conv1", "d.sigmoid1", "d.mul1", "concat1"]
    assert net.node(net.output)["meta"]["shape"] == (24, 8, 8)


INPUT_VALUE = """input 3x32x32
param w = 8 if input == 3x32x32 else 4
block b(c): conv k3 p1 c relu if input != 3x16x16
conv k3 p1 w b(w)
assert channels == 8 if input == 3x32x32
assert macs == 811008 if input == 3x32x32
"""


def test_input_is_the_networks_input_size(build_text):
    """`input` is the input size in conditions, params and blocks, `--input` included."""
    assert build_text(INPUT_VALUE).meta["macs"] == 811008
    small = build_text(INPUT_VALUE, input_shape=(3, 16, 16))
    assert [small.node(n)["op"] for n in small.layers()] == ["conv", "conv"]  # no relu
    assert small.node(small.output)["meta"]["shape"] == (4, 16, 16)
    assert build_text("input 784\nfc 10\nassert params == 7850 if input == 784\n")
    with pytest.raises(cnndsl.CnnContractError, match="macs is"):
        build_text(INPUT_VALUE.replace("811008", "1"))


@pytest.mark.parametrize("line, message", [
    ("assert channels == 4 if input == 3", "compares a size (`input`) with `3`"),
    ("conv k1 input", "`conv` option `c` must be a whole number, got `input`"),
])
def test_input_is_a_size_not_a_number(build_text, line, message):
    with pytest.raises(cnndsl.CnnError, match=re.escape(message)):
        build_text(f"input 3x8x8\nconv k1 4\n{line}\n")


def test_zoo_networks_build_at_other_input_sizes():
    """Their published MACs are asserted at their own input size only."""
    for name in ("resnet50", "efficientnet_b0", "vgg16", "alexnet_2012"):
        net = cnndsl.build(name, input_shape=(3, 320, 320))
        assert net.input_shape == (3, 320, 320)
    assert cnndsl.load("resnet18", input_shape="3x64x64")(torch.randn(1, 3, 64, 64)).shape \
        == (1, 1000)


def test_a_library_is_checked_without_a_call(tmp_path):
    """What no argument can change is checked in blocks nothing calls: a library's."""
    lib = tmp_path / "lib.cnn"
    lib.write_text("block b: conv k3 s0 4 bn eps=-1 dropout 2\n"
                   "block c(w, act=relu): conv k1 w relu(3) cnv act conv k1 w*mid\n"
                   "block fine(c, n, act=relu): repeat(n, i)< conv k1 c*(i+1) act > "
                   "dense(n=2, k=4)< conv k3 p=same k > upsample 2 mode=bilinear\n")
    with pytest.raises(cnndsl.CnnError) as caught:
        cnndsl.check_library(lib)
    found = [(d.span.line, d.span.col, d.message) for d in caught.value.diagnostics]
    assert [where[:2] for where in found] == [(1, 18), (1, 30), (1, 41), (2, 38), (2, 41),
                                              (2, 59)]
    assert "unknown layer or block: `cnv`" in found[4][2] and "`mid`" in found[5][2]
    lib.write_text("block fine(c, n, act=relu): repeat(n, i)< conv k1 c*(i+1) act >\n")
    assert cnndsl.check_library(lib) == 1


def test_a_dense_body_off_its_growth_rate_warns(build_text):
    net = build_text("input 3x16x16\ndense(n=2, k=4)< conv k1 5 >\n")
    assert net.node(net.output)["meta"]["shape"] == (13, 16, 16)
    [warning] = net.warnings
    assert "makes 5 channels, not its growth rate `k` = 4" in warning.message


def test_bytes_that_are_not_utf8_are_shown_escaped(tmp_path):
    path = tmp_path / "bad.cnn"
    path.write_bytes(b"input 3x8x8\nconv k1 4 \xff\xfe relu\n")
    with pytest.raises(cnndsl.CnnSyntaxError) as caught:
        cnndsl.build(path)
    assert "conv k1 4 \\xff\\xfe relu" in str(caught.value) and "\ufffd" not in str(caught.value)


def test_a_projection_maps_odd_sizes_as_the_body_does(build_text):
    """7x7 -> 4x4 (a 3x3 conv s2 p1): the 1x1 projection takes stride 2, as torchvision's."""
    net = build_text("input 4x7x7\nresidual(proj)< conv k3 s2 p1 8 >\n")
    names = layers(net)
    assert names["downsample.0"]["opts"]["s"] == (2, 2)
    assert names["add1"]["meta"]["shape"] == (8, 4, 4)
    model = cnndsl.load("input 4x7x7\nresidual(proj)< conv k3 s2 p1 8 >\n")
    assert model(torch.randn(2, 4, 7, 7)).shape == (2, 8, 4, 4)
