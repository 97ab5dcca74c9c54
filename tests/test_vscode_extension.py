"""editors/vscode: the manifest, the language configuration and the TextMate grammar.

The grammar's own tests (editors/vscode/tests/*.cnn, run by vscode-tmgrammar-test from npm)
run here when `npm install` has been run in editors/vscode; otherwise they are skipped, and
`cd editors/vscode && npm install && npm test` runs them (docs/editor.md)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from cnndsl.ops import layer_names

from .conftest import ROOT

EXTENSION = ROOT / "editors" / "vscode"


def _json(name: str) -> dict:
    return json.loads((EXTENSION / name).read_text(encoding="utf-8"))


def test_the_manifest_wires_language_grammar_and_client():
    manifest = _json("package.json")
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "cnn" and ".cnn" in language["extensions"]
    assert (EXTENSION / language["configuration"]).is_file()
    assert _json(grammar["path"])["scopeName"] == grammar["scopeName"] == "source.cnn"
    assert (EXTENSION / manifest["main"]).is_file()
    assert manifest["contributes"]["configuration"]["properties"][
        "cnndsl.server.command"]["default"] == ["cnndsl", "lsp"]
    assert "vscode-tmgrammar-test" in manifest["devDependencies"]
    assert "@vscode/vsce" in manifest["devDependencies"]


def test_the_language_configuration():
    config = _json("language-configuration.json")
    assert config["comments"]["lineComment"] == "#"
    assert ["<", ">"] in config["brackets"]
    increase = re.compile(config["indentationRules"]["increaseIndentPattern"])
    assert increase.match("block stage(c, n=2):  # a stage")
    assert not increase.match("block se(c): gate< gap >")


def test_the_grammar_knows_every_layer():
    grammar = _json("syntaxes/cnn.tmLanguage.json")
    pattern = grammar["repository"]["layer"]["match"]
    known = set(re.search(r"\(\?:([^)]*)\)", pattern).group(1).split("|"))
    missing = set(layer_names()) - known
    assert not missing, (f"add {sorted(missing)} to the `layer` pattern of "
                         "editors/vscode/syntaxes/cnn.tmLanguage.json")


@pytest.mark.skipif(not (EXTENSION / "node_modules" / ".bin" / "vscode-tmgrammar-test")
                    .exists() or shutil.which("npm") is None,
                    reason="run `npm install` in editors/vscode for the grammar tests")
def test_the_grammar_passes_its_tests():
    done = subprocess.run(["npm", "test", "--silent"], cwd=EXTENSION, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_client_is_valid_javascript():
    done = subprocess.run(["node", "--check", str(EXTENSION / "extension.js")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
