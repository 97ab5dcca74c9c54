"""Hostile specs against the generated code: every identifier from a spec is sanitised,
and the only text ever executed is the generated source (cnndsl/torch_api.py)."""
import ast
import builtins
import keyword
import re

import pytest

import cnndsl
from cnndsl.ir.names import attribute_name, class_name

from .conftest import ROOT

HOSTILE_LABELS = ["class", "def", "import", "lambda", "None", "True", "self", "forward",
                  "__init__", "__class__", "__dict__", "_modules", "training", "super", "print",
                  "exec", "eval", "open", "torch", "nn", "F", "x", "cat", "__import__"]


def hostile_spec():
    lines = ["network __import__", "input 3x8x8"]
    lines += [f"{label}: conv k3 p1 4 relu" if i % 2 else f"{label}: relu"
              for i, label in enumerate(HOSTILE_LABELS)]
    lines.append('block exec(__class__): conv k1 __class__\nexec(2)')
    lines.append("inception< iter: conv k1 2 | len: conv k1 2 >")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_attribute_names_are_safe(label):
    name = attribute_name(label)
    assert name.isidentifier() and not keyword.iskeyword(name)
    assert not (name.startswith("__") and name.endswith("__"))
    assert name not in dir(builtins)


@pytest.mark.parametrize("name", ["class", "__import__", "print", "_", "None", "a-b"])
def test_class_names_are_safe(name):
    out = class_name(name)
    assert out.isidentifier() and not keyword.iskeyword(out) and out not in dir(builtins)


def test_hostile_spec_compiles_to_plain_python():
    torch = pytest.importorskip("torch")
    source = cnndsl.compile_source(hostile_spec())
    tree = ast.parse(source)
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                  and isinstance(node.value, ast.Name) and node.value.id == "self"}
    assert not any(a.startswith("__") for a in attributes), attributes
    calls = {node.func.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not calls & {"eval", "exec", "__import__", "open", "compile"}
    model = cnndsl.load(hostile_spec()).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 8, 8)).shape[0] == 1


def test_only_generated_source_is_executed():
    pattern = re.compile(r"(?<![.\w])(eval|exec)\(")
    users = {path.relative_to(ROOT).as_posix(): pattern.findall(path.read_text())
             for path in (ROOT / "cnndsl").rglob("*.py")}
    assert {path for path, found in users.items() if found} == {"cnndsl/torch_api.py"}
    text = (ROOT / "cnndsl" / "torch_api.py").read_text()
    assert len(pattern.findall(text)) == 1 and 'exec(compile(source, filename, "exec")' in text
