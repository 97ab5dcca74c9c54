"""`cnndsl summary`: golden table and JSON, the schema, the CLI and its imports.

Regenerate the golden files with `CNNDSL_REGEN=1 pytest tests/test_summary.py` and review
the diff."""
import json
import os
import subprocess
import sys

import pytest

import cnndsl
from cnndsl.cli import main

from .conftest import ROOT, SPECS

GOLDEN = ROOT / "tests" / "golden"
CASES = [("lenet5", {}), ("small", {}), ("small", {"depth": 1, "batch": 8,
                                                  "optimizer": "adam"})]


def golden_name(stem, options, suffix):
    extra = "".join(f"_{k}{v}" for k, v in options.items())
    return GOLDEN / f"summary_{stem}{extra}.{suffix}"


def check_golden(path, text):
    if os.environ.get("CNNDSL_REGEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path.name} is missing: run with CNNDSL_REGEN=1"
    assert text == path.read_text()


@pytest.mark.parametrize("stem, options", CASES)
def test_summary_text_and_json_match_golden(stem, options):
    result = cnndsl.summary(SPECS / "analysis" / f"{stem}.cnn", **options)
    check_golden(golden_name(stem, options, "txt"), result.text())
    check_golden(golden_name(stem, options, "json"), result.json())


def test_json_schema():
    data = json.loads(cnndsl.summary(SPECS / "analysis" / "small.cnn").json())
    for key in ("network", "input", "output", "params", "macs", "flops", "connections",
                "memory", "rf", "aux", "layers", "warnings"):
        assert key in data
    assert set(data["memory"]) >= {"params_bytes", "activations_bytes", "training_bytes"}
    assert set(data["rf"]) == {"size", "jump", "start", "global_branch"}
    assert set(data["aux"]) == {"params", "macs"}
    for row in data["layers"]:
        assert set(row) >= {"name", "op", "line", "shape", "params", "macs", "connections",
                            "rf", "module"}
    merges = [row for row in data["layers"] if not row["module"]]
    assert {row["op"] for row in merges} == {"add", "concat"}
    main_rows = [row for row in data["layers"] if not row["aux"]]
    assert sum(row["params"] for row in main_rows) == data["params"]
    assert data["warnings"][0]["line"] == 9 and "gridding" in data["warnings"][0]["message"]


def test_depth_folds_rows_and_keeps_totals():
    full = cnndsl.summary(SPECS / "analysis" / "small.cnn").data
    folded = cnndsl.summary(SPECS / "analysis" / "small.cnn", depth=1).data
    assert len(folded["layers"]) < len(full["layers"])
    assert sum(r["params"] for r in folded["layers"]) == sum(r["params"] for r in full["layers"])
    body = next(r for r in folded["layers"] if r["name"] == "body")
    assert body["layers"] == sum(1 for r in full["layers"] if r["name"].startswith("body."))


def test_cli_summary(capsys):
    spec = str(SPECS / "analysis" / "lenet5.cnn")
    assert main(["summary", spec, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["params"], data["connections"]) == (60_000, 340_908)
    for bad in (["--batch", "0"], ["--optimizer", "lbfgs"], ["--depth", "x"],
                ["--depth", "-1"], ["--dtype", "fp8"]):
        with pytest.raises(SystemExit):
            main(["summary", spec, *bad])


def test_cli_writes_output_file(tmp_path):
    target = tmp_path / "lenet.txt"
    assert main(["summary", str(SPECS / "analysis" / "lenet5.cnn"), "-o", str(target)]) == 0
    assert "340,908" in target.read_text()


def test_check_prints_located_warnings(capsys):
    assert main(["check", str(SPECS / "analysis" / "small.cnn")]) == 0
    err = capsys.readouterr().err
    assert "small.cnn:9:" in err and "warning: gridding" in err


@pytest.mark.parametrize("command", ["check", "summary"])
def test_check_and_summary_never_import_torch(command):
    code = ("import sys\nfrom cnndsl.cli import main\n"
            f"main([{command!r}, {str(SPECS / 'analysis' / 'small.cnn')!r}])\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("spec", ["small", "lenet5"])
def test_layer_names_are_module_paths(spec):
    load = getattr(cnndsl, "load", None)
    if load is None:
        pytest.skip("cnndsl.load (the PyTorch backend) has not landed")
    model = load(SPECS / "analysis" / f"{spec}.cnn")
    data = cnndsl.summary(SPECS / "analysis" / f"{spec}.cnn").data
    for row in data["layers"]:
        if row["module"]:
            module = model.get_submodule(row["name"])
            assert sum(p.numel() for p in module.parameters()) == row["params"], row["name"]
    assert sum(p.numel() for p in model.parameters()) == data["params"] + data["aux"]["params"]


def test_notes_from_a_used_file_are_located_in_that_file(tmp_path, capsys):
    """A note about a layer of a `use`d block file cites that file and its line."""
    (tmp_path / "blocks.cnn").write_text("block down(c):\n    conv k3 p1 c\n    maxpool k2\n")
    spec = tmp_path / "net.cnn"
    spec.write_text('# top\nuse "blocks.cnn"\ninput 3x7x7\n\nconv k1 4\ndown(8)\n')
    blocks = str(tmp_path / "blocks.cnn")
    [note] = cnndsl.summary(spec).warnings
    assert note.span.location == f"{blocks}:3:5" and note.severity == "note"
    for command in (["summary", str(spec)], ["check", str(spec)]):
        assert main(command) == 0
        err = capsys.readouterr().err
        assert f"{blocks}:3:5: note: `down1.maxpool1` never reads the last 1 rows" in err, command
        assert f"{spec}:" not in err, command


def test_layers_and_notes_from_a_used_file_name_it(tmp_path, capsys):
    """The JSON and the table say which file a line is in when it is not the spec."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.cnn").write_text("block down(c):\n    conv k3 p1 c\n"
                                                 "    maxpool k2\n")
    spec = tmp_path / "net.cnn"
    spec.write_text('use "lib/blocks.cnn"\ninput 3x7x7\nconv k1 4\ndown(8)\n')
    data = cnndsl.summary(spec).data
    where = {layer["name"]: (layer["file"], layer["line"]) for layer in data["layers"]}
    assert where["conv1"] == (None, 3)
    assert where["down1.conv1"] == ("lib/blocks.cnn", 2)
    assert [(w["file"], w["line"]) for w in data["warnings"]] == [("lib/blocks.cnn", 3)]
    assert main(["summary", str(spec)]) == 0
    assert "lib/blocks.cnn:2" in capsys.readouterr().out


def test_a_stride_equal_to_the_kernel_is_shown_unless_it_is_the_default():
    data = cnndsl.summary("input 3x8x8\nconv k2 s2 4\ndeconv k2 s2 4\nmaxpool k2\n"
                          "maxpool k2 s1\n").data
    assert [row["op"] for row in data["layers"]] == \
        ["conv k2 s2 4", "deconv k2 s2 4", "maxpool k2", "maxpool k2 s1"]


def test_a_folded_row_shows_the_line_of_the_call():
    text = ("input 3x8x8\nblock b(c):\n    conv k1 c\n    relu\n"
            "first: b(4)\nsecond: b(5)\n")
    rows = cnndsl.summary(text, depth=1).data["layers"]
    assert [(r["name"], r["line"], r.get("layers")) for r in rows] == \
        [("first", 5, 2), ("second", 6, 2)]


def test_depth_0_gives_the_totals_alone(capsys):
    spec = str(SPECS / "analysis" / "lenet5.cnn")
    assert main(["summary", spec, "--depth", "0"]) == 0
    out = capsys.readouterr().out
    assert "name" not in out and "params" in out and "340,908" in out
    assert cnndsl.summary(spec, depth=0).data["layers"] == []
    with pytest.raises(cnndsl.CnnUsageError):
        cnndsl.summary(spec, depth=-1)


def test_a_summary_shows_itself_in_a_notebook():
    result = cnndsl.summary("input 3x8x8\nconv k1 4\n")
    assert repr(result) == result.text()
    assert result._repr_html_().startswith("<pre>") and "conv k1 4" in result._repr_html_()


def test_a_network_repr_is_one_line():
    net = cnndsl.build("input 3x8x8\nconv k1 4 relu\naux< gap flatten fc 2 >\n")
    assert repr(net) == "<Network Network: 3x8x8 -> 4x8x8, 5 layers, 1 aux head>"
