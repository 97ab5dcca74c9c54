"""The layers run one way (docs: /work/shared/STYLE.md, "The house"):

    cli -> api (api, torch_api, onnx_export) -> backends -> passes -> ir
        -> syntax, ops, outputs -> errors

A module may import from its own layer or the layers below it, never from one above: the IR
knows nothing of diagrams, a pass nothing of the torch source. Checked on the source with
`ast`, so an import inside a function counts too; imports only for type checkers
(`if TYPE_CHECKING:`) do not.
"""
import ast
from pathlib import Path

import pytest

import cnndsl

PACKAGE = Path(cnndsl.__file__).parent
LAYERS = [
    {"errors"},
    {"syntax", "ops", "outputs"},
    {"ir"},
    {"passes"},
    {"backends"},
    {"api", "torch_api", "onnx_export", "weights", "zoo", "highlight", "frontends"},
    {"cli", "lsp"},
    {"__init__", "__main__"},
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}
MODULES = sorted(PACKAGE.rglob("*.py"))


def top(relative: Path) -> str:
    """The layer a module belongs to: `ir` for cnndsl/ir/graph.py, `api` for api.py."""
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported(path: Path, root: Path = PACKAGE):
    """(line, the cnndsl layer imported) for every import of the module at `path`."""
    relative = path.relative_to(root)
    package = list(relative.parent.parts)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)]
            parts = base + (node.module.split(".") if node.module else [])
            targets = [parts] if parts else [[alias.name] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnndsl."):
            targets = [node.module.split(".")[1:]]
        elif isinstance(node, ast.Import):
            targets = [a.name.split(".")[1:] for a in node.names
                       if a.name.startswith("cnndsl.")]
        else:
            continue
        for parts in targets:
            yield node.lineno, parts[0]


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_module_imports_from_a_layer_above_its_own(path):
    layer = top(path.relative_to(PACKAGE))
    assert layer in LEVEL, f"{layer} is in no layer: add it to LAYERS"
    upward = [f"line {line}: {target}" for line, target in imported(path)
              if target in LEVEL and LEVEL[target] > LEVEL[layer]]
    assert not upward, f"{layer} imports from above it: {upward}"


def test_the_check_sees_every_form_of_import(tmp_path):
    (tmp_path / "ir").mkdir()
    module = tmp_path / "ir" / "graph.py"
    module.write_text("from typing import TYPE_CHECKING\n"
                      "import cnndsl.api\n"
                      "from cnndsl.cli import main\n"
                      "from ..backends.graphviz import render\n"
                      "from .. import passes\n"
                      "from .lower import lower\n"
                      "def f():\n    from ..torch_api import load\n"
                      "if TYPE_CHECKING:\n    from ..backends import summary\n")
    assert list(imported(module, tmp_path)) == [
        (2, "api"), (3, "cli"), (4, "backends"), (5, "passes"), (6, "ir"), (8, "torch_api")]


def test_the_ir_layers_import_no_backend_api_or_cli_at_all():
    low = [p for p in MODULES if top(p.relative_to(PACKAGE)) in
           {"ir", "syntax", "ops", "passes", "errors"}]
    for path in low:
        for line, target in imported(path):
            assert target not in {"backends", "api", "cli", "torch_api", "onnx_export"}, \
                f"{path.relative_to(PACKAGE)}:{line} imports {target}"
