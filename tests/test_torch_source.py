"""Generated PyTorch source: deterministic, ruff-clean, golden, safe from hostile names,
and traceable by torch.fx, torch.export and the ONNX exporter.

Regenerate the golden files with `CNNDSL_REGEN=1 pytest tests/test_torch_source.py` and
review the diff.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest
import torch

import cnndsl
from cnndsl import OpSpec, OptionSpec

from .conftest import ROOT, SPECS
from .torch_helpers import expected_params, instantiate, n_params

GOLDEN = ROOT / "tests" / "golden" / "torch"


@pytest.mark.parametrize("name", ["mini_resnet", "lecun"])
def test_golden_source(name):
    source = cnndsl.compile_source(SPECS / "torch" / f"{name}.cnn")
    path = GOLDEN / f"{name}.py"
    if os.environ.get("CNNDSL_REGEN"):
        path.write_text(source)
    assert path.exists(), f"{path.name} is missing: run with CNNDSL_REGEN=1"
    assert source == path.read_text()


@pytest.mark.parametrize("fuse_bn", [False, True])
def test_source_is_deterministic_and_ruff_clean(tmp_path, fuse_bn):
    spec = SPECS / "valid" / "constructs.cnn"
    first = cnndsl.compile_source(spec, fuse_bn=fuse_bn)
    assert first == cnndsl.compile_source(spec, fuse_bn=fuse_bn)
    out = tmp_path / "model.py"
    out.write_text(first)
    ruff = ROOT / ".venv" / "bin" / "ruff"
    done = subprocess.run([str(ruff), "check", "--config", str(ROOT / "pyproject.toml"),
                           str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_every_network_compiles_to_ruff_clean_source(tmp_path):
    from .test_torch_backend import NETWORKS

    for param in NETWORKS:
        path = param.values[0]
        (tmp_path / f"{path.parent.name}_{path.stem}.py").write_text(
            cnndsl.compile_source(path))
    ruff = ROOT / ".venv" / "bin" / "ruff"
    done = subprocess.run([str(ruff), "check", "--config", str(ROOT / "pyproject.toml"),
                           str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def _identifiers(source: str) -> set[str]:
    tree = ast.parse(source)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    return names


HOSTILE = '''network __import__
input 3x16x16
block class(c): conv k3 p1 c bn relu
block forward(c): residual< class(c) >
__import__: conv k1 8
self: forward(8)
training: class(8)
x: conv k1 8
__class__: gap flatten fc 4
'''


def test_hostile_names_are_sanitised():
    source = cnndsl.compile_source(HOSTILE, class_name='Evil"\nimport os')
    names = _identifiers(source)
    assert "__import__" not in names and "__class__" not in names
    assert "os" not in names
    tree = ast.parse(source)
    imported = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for a in node.names]
    imported += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert imported and all(name.split(".")[0] == "torch" for name in imported)
    model = cnndsl.load(HOSTILE).eval()
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 4)
    assert isinstance(model.training, bool)  # a label never shadows nn.Module's attributes
    header = cnndsl.torch_api.torch_source(cnndsl.build(HOSTILE), spec_name='a"\nb\rc.cnn')
    assert all(line.startswith("#") for line in header.splitlines()[:4])


HELPERS_SPEC = """network {name}
input 1x32x32
block {block}(c): conv k1 c
conv k5 2 table=[[0],[0]] subsample k2 s2 scale 0.5 ln
{block}(4)
gap flatten rbf 10
"""


@pytest.mark.parametrize("name", ["F", "nn", "torch", "Scale", "Subsample", "RBF",
                                  "TableConv2d", "ChannelLayerNorm"])
def test_names_of_the_generated_file_are_never_hidden(tmp_path, name):
    """A network or block named like a module alias or a helper class gets another class
    name; the spec's file name gives the network's name where the text has none."""
    text = HELPERS_SPEC.format(name=name, block=name)
    path = tmp_path / f"{name}.cnn"
    path.write_text(text.split("\n", 1)[1])  # named after the file
    for spec in (text, path):
        source = cnndsl.compile_source(spec)
        classes = [n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)]
        assert len(classes) == len(set(classes))
        assert not {"F", "nn", "torch"} & set(classes)
        model = cnndsl.load(spec).eval()
        assert model(torch.randn(1, 1, 32, 32)).shape == (1, 10)
        assert type(model.scale1).__name__ == "Scale"
    with pytest.raises(cnndsl.CnnUsageError, match="taken by the generated file"):
        cnndsl.compile_source(text, class_name="Scale")


def test_a_call_whose_output_nobody_reads_is_still_valid_python():
    text = "input 3x8x8\nblock b(c): conv k1 c\na: conv k1 4\nb(4)\nconcat< @a | @a >\n"
    try:
        source = cnndsl.compile_source(text)
    except cnndsl.CnnError:
        return  # refusing the spec is right too (lowering may report unused outputs)
    compile(source, "<generated>", "exec")
    model = cnndsl.load(text)
    for training in (True, False):
        assert model.train(training)(torch.randn(1, 3, 8, 8)).shape == (1, 8, 8, 8)


def test_fx_and_export_trace_the_forward():
    network = cnndsl.build(SPECS / "valid" / "constructs.cnn")
    model = instantiate(network).eval()
    x = torch.randn(2, *network.input_shape)
    traced = torch.fx.symbolic_trace(model)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        expected = model(x)
        torch.testing.assert_close(traced(x), expected)
        torch.testing.assert_close(exported.module()(x), expected)


def test_onnx_export(tmp_path, capfd):
    pytest.importorskip("onnxscript")
    import onnx

    from cnndsl.cli import main
    from cnndsl.onnx_export import export_onnx

    out = tmp_path / "lecun.onnx"
    assert main(["export", str(SPECS / "torch" / "lecun.cnn"), "-o", str(out)]) == 0
    captured = capfd.readouterr()  # what reaches the file descriptors, torch's logs too
    assert captured.out == f"wrote {out}\n"  # torch's messages and warnings kept out
    assert all(line.startswith("export: ") for line in captured.err.splitlines())
    assert "exported the graph" in captured.err  # progress
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    (graph_input,), (graph_output,) = model.graph.input, model.graph.output
    assert (graph_input.name, graph_output.name) == ("input", "output")
    batch, channels = graph_input.type.tensor_type.shape.dim[:2]
    assert batch.dim_param == "batch" and channels.dim_value == 1
    assert not any(p.key == "pkg.torch.onnx.stack_trace"  # no paths of this machine
                   for node in model.graph.node for p in node.metadata_props)
    again = export_onnx(SPECS / "torch" / "lecun.cnn", tmp_path / "again.onnx")
    assert again.read_bytes() == out.read_bytes()  # seeded weights: the same bytes
    with pytest.raises(cnndsl.CnnUsageError, match="--opset 13: torch's exporter wrote opset"):
        export_onnx(SPECS / "torch" / "lecun.cnn", tmp_path / "old.onnx", opset=13)
    assert not (tmp_path / "old.onnx").exists()


def test_compile_command(tmp_path, capsys):
    from cnndsl.cli import main

    out = tmp_path / "model.py"
    spec = str(SPECS / "torch" / "mini_resnet.cnn")
    assert main(["compile", spec, "-o", str(out), "--fuse-bn", "--class-name", "Net"]) == 0
    assert "class Net(nn.Module):" in out.read_text()
    assert "BatchNorm" not in out.read_text()
    assert main(["compile", spec]) == 0
    assert capsys.readouterr().out.startswith("# Generated by cnndsl")


@pytest.fixture
def s2d():
    def shape(opts, ins):
        c, h, w = ins[0]
        return (c * opts["b"] ** 2, h // opts["b"], w // opts["b"])

    spec = cnndsl.register_layer(OpSpec(
        name="s2d", family="custom", doc="space to depth",
        options=(OptionSpec("b", "int", 2, minimum=1),), positional="b", shape=shape,
        torch=lambda opts, ins, out: f"SpaceToDepth({opts['b']})",
        extras={"torch_helpers": {"SpaceToDepth": SPACE_TO_DEPTH}}))
    yield spec
    cnndsl.unregister_layer("s2d")


SPACE_TO_DEPTH = '''
class SpaceToDepth(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(block)

    def forward(self, x):
        return self.unshuffle(x)
'''


def test_custom_layer_is_emitted_from_its_registration(s2d):
    text = "input 3x32x32\nconv k3 p1 8 s2d 2 conv k1 16\n"
    assert "class SpaceToDepth(nn.Module):" in cnndsl.compile_source(text)
    network = cnndsl.build(text)
    model = instantiate(network)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 16, 16, 16)
    assert n_params(model) == expected_params(network)


def test_import_cnndsl_does_not_import_torch():
    code = ("import sys, cnndsl; cnndsl.build('input 3x8x8\\nconv k3 4'); "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
