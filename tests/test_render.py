"""`cnndsl render`: golden .dot files for zoo networks, grouping rules, and real `dot` runs.

Regenerate the golden files with `CNNDSL_REGEN=1 pytest tests/test_render.py` and review
the diff (and the pictures: `cnndsl render zoo_specs/resnet50.cnn -o /tmp/r.png`)."""
import os
import re

import pytest

import cnndsl
from cnndsl.backends.diagram import layout
from cnndsl.backends.graphviz import describe, node_params, pipe, render, save
from cnndsl.cli import main

from .conftest import ROOT, ZOO

GOLDEN = ROOT / "tests" / "golden" / "diagrams"
GOLDEN_CASES = [("lenet5", None), ("resnet50", None), ("densenet121", None),
                ("googlenet", None), ("resnet50", 99)]


@pytest.mark.parametrize("name, depth", GOLDEN_CASES)
def test_dot_matches_golden(zoo, name, depth):
    source = render(zoo(name), depth=depth).source
    path = GOLDEN / f"{name}{'' if depth is None else f'_depth{depth}'}.dot"
    if os.environ.get("CNNDSL_REGEN"):
        path.write_text(source)
    assert path.exists(), f"{path.name} is missing: run with CNNDSL_REGEN=1"
    assert source == path.read_text()


def test_resnet152_default_collapses_repeated_bottlenecks(zoo):
    net = zoo("resnet152")
    diagram = layout(net)
    assert diagram.box_count() < 100
    runs = sorted(len(b.scopes) for b in diagram.boxes.values() if b.kind == "scope")
    assert runs[-1] == 35  # layer3: one projecting bottleneck, then 35 alike
    # Every layer is drawn in exactly one box, and the boxes' figures add up.
    drawn = sorted(n for b in diagram.boxes.values() if b.kind not in ("input", "output")
                   for n in b.nodes)
    assert drawn == sorted(net.layers())
    assert sum(node_params(net, n) for n in drawn) == net.meta["params"]


def test_full_depth_draws_every_skip_connection(zoo):
    net = zoo("resnet50")
    source = render(net, depth=99).source
    adds = sum(1 for n in net.layers() if net.node(n)["op"] == "add")
    assert adds == 16
    assert len(re.findall(r'\[label="\+"', source)) == adds
    diagram = layout(net, 99)
    merge_inputs = [e for e in diagram.edges if diagram.boxes[e.head].kind == "merge"]
    assert len(merge_inputs) == 2 * adds  # the body and the shortcut of each block


def test_edges_carry_tensor_shapes_unless_asked_not_to(zoo):
    net = zoo("resnet50")

    def edge_lines(source):
        return [line for line in source.splitlines() if " -> " in line]
    assert any('label=" 256×56×56"' in line for line in edge_lines(render(net).source))
    assert not any("label=" in line for line in edge_lines(render(net, shapes=False).source))


def test_aux_heads_are_dashed_side_branches(zoo):
    net = zoo("googlenet")
    diagram = layout(net, 99)
    aux_outputs = [b for b in diagram.boxes.values() if b.kind == "output" and b.aux]
    assert len(aux_outputs) == len(net.aux_outputs) == 2
    source = render(net, depth=99).source
    assert source.count("aux output") == 2
    assert "style=dashed" in source


def test_dense_concatenations_are_drawn_as_a_chain(zoo):
    net = zoo("densenet121")
    diagram = layout(net, 99)
    for box in diagram.boxes.values():
        if box.kind == "merge":
            assert sum(1 for e in diagram.edges if e.head == box.key) == 2


def test_depth_zero_collapses_everything_and_depth_expands(zoo):
    net = zoo("resnet50")
    counts = [layout(net, d).box_count() for d in range(4)]
    assert counts == sorted(counts) and counts[0] < counts[-1]


def test_output_is_deterministic(zoo):
    net = zoo("googlenet")
    assert render(net).source == render(cnndsl.build(ZOO / "googlenet.cnn")).source
    assert pipe(render(net), "svg") == pipe(render(net), "svg")


@pytest.mark.parametrize("op, opts, text", [
    ("conv", {"k": (3, 3), "s": (2, 2), "p": (1, 1), "d": (1, 1), "g": 1, "c": 128},
     "conv 3×3/2, 128"),
    ("conv", {"k": (1, 7), "s": (1, 1), "d": (1, 1), "g": 32, "c": 64}, "conv 1×7 g32, 64"),
    ("maxpool", {"k": (3, 3), "s": (2, 2), "p": (0, 0)}, "maxpool 3×3/2"),
    ("avgpool", {"k": (2, 2), "s": (2, 2), "p": (0, 0)}, "avgpool 2×2"),
    ("fc", {"c": 1000, "bias": True}, "fc 1000"),
    ("dropout", {"p": 0.5}, "dropout 0.5"),
    ("relu", {}, "relu"),
    ("lrn", {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}, "lrn"),  # k: a constant
])
def test_layers_read_like_a_paper(op, opts, text):
    assert describe(op, opts) == text


def test_cli_renders_every_format_with_real_dot(tmp_path):
    spec = str(ZOO / "lenet5.cnn")
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b"digraph"}
    for fmt, start in magic.items():
        out = tmp_path / f"lenet.{fmt}"
        assert main(["render", spec, "-o", str(out), "--rankdir", "TB"]) == 0
        assert out.read_bytes().startswith(start), fmt
    svg = (tmp_path / "lenet.svg").read_text()
    assert "<svg" in svg and "C3" in svg


def test_cli_reports_a_bad_extension(tmp_path, capsys):
    assert main(["render", str(ZOO / "lenet5.cnn"), "-o", str(tmp_path / "x.jpeg")]) == 2
    assert ".svg, .png, .pdf or .dot" in capsys.readouterr().err
    assert not (tmp_path / "x.jpeg").exists()


def test_missing_dot_is_a_usage_error(tmp_path, monkeypatch, zoo):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(cnndsl.CnnUsageError, match="not installed"):
        save(render(zoo("lenet5")), tmp_path / "x.png")
    assert main(["render", str(ZOO / "lenet5.cnn"), "-o", str(tmp_path / "x.svg")]) == 2
    assert main(["render", str(ZOO / "lenet5.cnn"), "-o", str(tmp_path / "x.dot")]) == 0


def test_bad_depth_and_rankdir_are_usage_errors(zoo):
    with pytest.raises(cnndsl.CnnUsageError):
        render(zoo("lenet5"), depth=-1)
    with pytest.raises(cnndsl.CnnUsageError):
        render(zoo("lenet5"), rankdir="BT")


def test_network_displays_as_svg_in_notebooks(zoo):
    svg = zoo("lenet5")._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg


def test_render_accepts_spec_text():
    diagram = cnndsl.render("input 3x32x32\nconv k3 p1 16 bn relu\ngap flatten fc 10\n")
    assert "conv 3×3, 16" in diagram.source


def test_cli_options_reach_the_diagram(tmp_path, zoo):
    out = tmp_path / "r.dot"
    args = ["render", str(ZOO / "resnet50.cnn"), "-o", str(out), "--depth", "0",
            "--no-shapes", "--rankdir", "LR"]
    assert main(args) == 0
    assert out.read_text() == render(zoo("resnet50"), depth=0, shapes=False,
                                     rankdir="LR").source
    assert "rankdir=LR" in out.read_text()


def test_activations_fold_into_the_layer_they_belong_to(zoo):
    def chains(name):
        net = zoo(name)
        diagram = layout(net, 99)
        return {tuple(net.node(n)["op"] for n in b.nodes) for b in diagram.boxes.values()}
    assert ("bn", "relu", "conv") in chains("densenet121")  # pre-activation
    assert ("add", "relu") in chains("resnet50")
    resnet = chains("resnet50")
    assert ("conv", "bn", "relu") in resnet and ("conv", "bn") in resnet


def test_custom_layers_get_the_custom_colour_and_a_legend_entry():
    from cnndsl import OpSpec

    cnndsl.register_layer(OpSpec(name="swish2", family="custom", doc="a test activation"))
    try:
        source = cnndsl.render("input 3x8x8\nconv k3 4 swish2\n", depth=9).source
    finally:
        cnndsl.unregister_layer("swish2")
    assert "swish2" in source
    assert '<TD BGCOLOR="#a6cee3" BORDER="1" WIDTH="14"></TD><TD ALIGN="LEFT">conv</TD>' \
        in source
    assert 'ALIGN="LEFT">custom</TD>' in source


NETWORKS = sorted(p.name for p in ZOO.glob("*.cnn") if cnndsl.read_spec(p).body is not None)


@pytest.mark.parametrize("name", NETWORKS)
def test_cli_renders_every_zoo_network_to_dot(tmp_path, name):
    """Every zoo network draws at its default depth (.dot needs no `dot` binary).
    alexnet_2012 once crashed: lrn's float `k` was read as a kernel size."""
    out = tmp_path / "net.dot"
    assert main(["render", str(ZOO / name), "-o", str(out)]) == 0
    assert out.read_text().startswith("digraph")
