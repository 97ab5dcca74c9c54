"""The analysis passes against published figures and hand-worked examples."""
import pytest

import cnndsl
from cnndsl.passes import PIPELINE
from cnndsl.passes.receptive_field import RfAxis

from .conftest import SPECS, ZOO

ANALYSIS = SPECS / "analysis"


def layer(net, name):
    return net.node(net.by_name(name))["meta"]


def output_rf(net):
    return net.node(net.output)["meta"]["rf"]


def test_lenet5_as_published():
    net = cnndsl.build(ANALYSIS / "lenet5.cnn")
    published = {"C1.conv1": (156, 122_304), "S2.subsample1": (12, 5_880),
                 "C3.conv1": (1_516, 151_600), "S4.subsample1": (32, 2_000),
                 "C5.conv1": (48_120, 48_120), "F6.fc1": (10_164, 10_164),
                 "rbf1": (0, 840)}
    for name, (params, connections) in published.items():
        meta = layer(net, name)
        assert (meta["params"], meta["connections"]) == (params, connections), name
    assert net.meta["params"] == 60_000
    assert net.meta["connections"] == 340_908


GOOGLENET_NAIVE = """input 256x28x28
inception< conv k1 128 | conv k3 p1 192 | conv k5 p2 96 | maxpool k3 s1 p1 >
"""
GOOGLENET_REDUCED = """input 256x28x28
inception< conv k1 128 | conv k1 64 conv k3 p1 192 | conv k1 64 conv k5 p2 96
         | maxpool k3 s1 p1 conv k1 64 >
"""


@pytest.mark.parametrize("text, macs", [(GOOGLENET_NAIVE, 854_196_224),
                                        (GOOGLENET_REDUCED, 271_351_808)])
def test_inception_module_macs(text, macs):
    net = cnndsl.build(text)
    assert net.meta["macs"] == macs
    assert net.meta["flops"] == 2 * macs


@pytest.mark.parametrize("text, rf", [
    ("conv k3 s2 p1 8 conv k3 s2 p1 8", RfAxis(7, 4, 0.5)),
    ("conv k3 p1 8 conv k3 p1 8 conv k3 p1 8", RfAxis(7, 1, 0.5)),
    ("conv k7 s2 p3 8 maxpool k3 s2 p1", RfAxis(11, 4, 0.5)),
    ("conv k3 d2 p2 8", RfAxis(5, 1, 0.5)),
])
def test_receptive_field_of_a_path(text, rf):
    net = cnndsl.build("input 3x32x32\n" + text)
    assert output_rf(net) == (rf, rf)


def test_receptive_field_axes_are_separate():
    net = cnndsl.build("input 3x32x32\nconv k1x7 p=[0,3] 8")
    assert output_rf(net) == (RfAxis(1, 1, 0.5), RfAxis(7, 1, 0.5))


def test_aligned_merge_takes_the_largest():
    net = cnndsl.build("input 3x32x32\ninception< conv k1 8 | conv k3 p1 8 | conv k5 p2 8 >")
    assert output_rf(net)[0] == RfAxis(5, 1, 0.5)
    assert not net.warnings


def test_misaligned_merge_warns_naming_branches():
    net = cnndsl.build("input 3x32x32\ninception< conv k2 s2 8 | conv k3 s2 p1 8 >")
    messages = [w.message for w in net.warnings if w.severity == "warning"]
    assert len(messages) == 1
    assert "not aligned" in messages[0] and "`branch1`" in messages[0] \
        and "`branch2`" in messages[0]
    assert net.warnings[0].span.line == 2


def test_global_pooling_sees_the_whole_input():
    net = cnndsl.build("input 3x32x32\nconv k3 p1 8 gap flatten fc 10")
    size, jump, start = output_rf(net)[0]
    assert size == 3 + 31  # the padded window reached over all 32 positions
    assert net.node(net.output)["meta"]["rf_global"]


def test_se_gate_is_not_a_misaligned_merge():
    net = cnndsl.build("input 8x16x16\nconv k3 p1 8\ngate< gap conv k1 2 relu conv k1 8 sigmoid >")
    assert not net.warnings
    assert output_rf(net)[0].jump == 1


def test_gridding_warning_for_stacked_dilations():
    net = cnndsl.build("input 3x64x64\nconv k3 d2 p2 8\nconv k3 d2 p2 8\nconv k3 d2 p2 8")
    grids = [w for w in net.warnings if "gridding" in w.message]
    assert len(grids) == 1 and grids[0].span.line == 3


def test_no_gridding_warning_for_hybrid_dilation():
    net = cnndsl.build("input 3x64x64\nconv k3 p1 8 conv k3 d2 p2 8 conv k3 d5 p5 8")
    assert not [w for w in net.warnings if "gridding" in w.message]


def test_note_where_floor_division_drops_input():
    net = cnndsl.build("input 3x8x9\nconv k3 s2 8")
    notes = [w for w in net.warnings if w.severity == "note"]
    assert len(notes) == 1
    assert "1 rows" in notes[0].message and "columns" not in notes[0].message


def test_no_note_for_a_window_narrower_than_its_stride():
    # A strided 1x1 conv (ResNet's projection) skips every other row by design.
    net = cnndsl.build("input 3x56x56\nconv k1 s2 8")
    assert not net.warnings


def test_no_note_when_the_window_fits():
    net = cnndsl.build("input 3x224x224\nconv k7 s2 p3 8 maxpool k3 s2 p1")
    assert not net.warnings


def test_aux_heads_are_counted_apart():
    plain = cnndsl.build("input 3x16x16\nconv k3 p1 8 gap flatten fc 10")
    with_aux = cnndsl.build("input 3x16x16\nconv k3 p1 8\naux< gap flatten fc 5 >\n"
                            "gap flatten fc 10")
    assert with_aux.meta["params"] == plain.meta["params"]
    assert with_aux.meta["macs"] == plain.meta["macs"]
    assert with_aux.meta["aux"] == {"params": 8 * 5 + 5, "macs": 8 * 5}


@pytest.mark.parametrize("contract, actual", [
    ("assert params < 100", "params is 224"),
    ("assert macs <= 1000", "macs is 194,400"),
    ("assert flops < 1000", "flops is 388,800"),
    ("assert rf >= 5", "rf is 3"),
])
def test_failing_contracts_state_the_actual_value(contract, actual):
    with pytest.raises(cnndsl.CnnContractError) as info:
        cnndsl.build(f"input 3x32x32\nconv k3 8\n{contract}\nconv k3 8")
    assert actual in info.value.message
    assert (info.value.span.line, info.value.span.col) == (3, 1)


def test_contracts_measure_what_the_tensor_depends_on():
    net = cnndsl.build("input 3x32x32\nconv k3 8\nassert params == 224\nassert rf == 3\n"
                       "assert macs == 194400\nconv k3 8\nassert rf == 5")
    assert net.meta["params"] == 224 + 584


def test_memory_formula():
    net = cnndsl.build("input 3x8x8\nconv k3 p1 4 relu")
    base = cnndsl.summary("input 3x8x8\nconv k3 p1 4 relu", batch=4, optimizer="adam")
    params_bytes = 4 * (3 * 9 * 4 + 4)
    saved = 4 * 3 * 64 + 4 * 4 * 64  # the conv's input, the relu's output
    assert net.meta["memory"]["saved_bytes"] == saved
    assert base.data["memory"]["training_bytes"] == params_bytes * 4 + 4 * saved


def test_bad_optimizer_is_a_usage_error():
    with pytest.raises(cnndsl.CnnUsageError):
        cnndsl.summary("input 3x8x8\nconv k3 4", optimizer="lbfgs")


VGG16 = """input 3x224x224
block stage(c, n): (conv k3 p1 c relu) * n maxpool k2
stage(64, 2) stage(128, 2) stage(256, 3) stage(512, 3) stage(512, 3)
flatten fc 4096 relu dropout fc 4096 relu dropout fc 1000
"""


def test_vgg16_published_figures():
    net = cnndsl.build(VGG16)
    pool5 = net.node(net.by_name("stage5.maxpool1"))["meta"]["rf"][0]
    assert (pool5.size, pool5.jump) == (212, 32)
    assert net.meta["params"] == 138_357_544  # torchvision vgg16
    assert round(net.meta["macs"] / 1e9, 2) == 15.47  # torchvision's "GFLOPS" for vgg16


@pytest.mark.parametrize("text", ["concat< deconv k2 s2 8 | upsample 2 >",
                                  "concat< deconv k4 s2 p1 8 | upsample 2 mode=bilinear >"])
def test_deconv_and_upsample_paths_are_aligned(text):
    net = cnndsl.build("input 3x16x16\n" + text)
    assert not net.warnings
    assert output_rf(net)[0][1:] == (0.5, 0.25)  # jump, start: output pixel 0 at 0.25


@pytest.mark.parametrize("run_pass", PIPELINE, ids=lambda p: p.__name__)
def test_a_pass_leaves_its_input_alone_unless_inplace(run_pass):
    net = cnndsl.build("input 3x16x16\nconv k3 p1 8 bn relu\nresidual< conv k3 p1 8 > gap")
    before = {n: dict(net.node(n)["meta"]) for n in net.nodes()}
    warnings = list(net.warnings)
    out = run_pass(net)
    assert out is not net or run_pass.__name__ == "check_contracts"
    assert {n: dict(net.node(n)["meta"]) for n in net.nodes()} == before
    assert net.warnings == warnings
    assert run_pass(net, inplace=True) is net


def test_folding_does_not_repeat_warnings():
    spec = "input 3x8x9\nconv k3 s2 8 bn relu"
    assert len(cnndsl.build(spec, fuse_bn=True).warnings) == len(cnndsl.build(spec).warnings) == 1


SE2 = """network SE2
input 16x32x32
gate< gap conv k1 16 sigmoid >
conv k3 p1 16
gate< gap conv k1 16 sigmoid >
conv k3 p1 16
"""


def test_fields_pass_through_se_gates():
    """Issue 12's repro: a gate's global branch neither widens the field nor its jump."""
    net = cnndsl.build(SE2)
    (height, width), meta = output_rf(net), net.node(net.output)["meta"]
    assert (height.size, height.jump) == (width.size, width.jump) == (5, 1)
    assert not net.warnings
    assert meta["rf_global_branch"] and meta["rf_global"]
    summary = cnndsl.summary(net)
    assert summary.data["rf"]["global_branch"]
    last_row = summary.text().splitlines()[summary.text().splitlines().index(
        next(line for line in summary.text().splitlines() if line.startswith("rf  ")))]
    assert "global branch" in last_row
    assert "5+g" in summary.text()


def test_global_branch_flag_marks_only_spatial_maps():
    net = cnndsl.build("input 8x16x16\nconv k3 p1 8\ngate< gap conv k1 8 sigmoid >\n"
                       "conv k3 s2 p1 8 gap flatten fc 4")
    by_name = {net.node(n)["name"]: net.node(n)["meta"] for n in net.layers()}
    assert not by_name["conv1"]["rf_global_branch"] and not by_name["conv1"]["rf_global"]
    assert by_name["conv3"]["rf_global_branch"] and by_name["conv3"]["rf"][0].jump == 2
    assert by_name["conv3"]["rf"][0].size == 5
    assert by_name["gap2"]["rf_global"] and not by_name["gap2"]["rf_global_branch"]
    assert not by_name["fc1"]["rf_global_branch"]  # collapsed: its size is the input's


def _stride_factor(net, n):
    """How a layer multiplies the jump (its windows' strides), or None if it is global."""
    from cnndsl.ops import lookup

    attrs = net.node(n)
    spec = lookup(attrs["op"])
    if spec.rf is None:
        return (1, 1)
    ins = [net.node(i)["meta"]["shape"] for i in net.inputs(n)]
    rule = spec.rf(attrs["opts"], ins)
    if rule is None:
        return (1, 1)
    if rule == "global":
        return None
    factor = [1, 1]
    for step in rule:
        factor = [f * s for f, s in zip(factor, step.s)]
    return tuple(factor)


def zoo_network_paths():
    return sorted(p for p in ZOO.glob("*.cnn") if cnndsl.read_spec(p).body)


@pytest.mark.parametrize("path", zoo_network_paths(), ids=lambda p: p.stem)
def test_jump_is_the_product_of_strides_on_the_spatial_path(path, zoo):
    net = zoo(path.stem)
    jumps: dict = {net.input: (1, 1)}  # None: collapsed by a global op on every path
    for n in net.nodes():
        if n == net.input:
            continue
        spatial = {jumps[i] for i in net.inputs(n) if jumps[i] is not None}
        factor = _stride_factor(net, n)
        if not spatial or factor is None:
            jumps[n] = None
            continue
        assert len(spatial) == 1, f"{net.node(n)['name']}: merged paths of different strides"
        (jump,) = spatial
        jumps[n] = tuple(j * f for j, f in zip(jump, factor))
        rf = net.node(n)["meta"]["rf"]
        assert (rf[0].jump, rf[1].jump) == jumps[n], net.node(n)["name"]
    gated = any(net.node(n)["op"] == "mul" for n in net.nodes())
    if gated:
        assert not [w for w in net.warnings if "not aligned" in w.message]
