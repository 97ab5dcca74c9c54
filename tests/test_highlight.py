"""The Pygments lexer: registered as `cnn` through the entry point, and it reads every
spec in the zoo and the docs without an unrecognised character."""
from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

pytest.importorskip("pygments")

from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Text

from cnndsl.highlight import CnnLexer

from .conftest import ROOT
from .test_docs import ALL as DOC_BLOCKS

SPECS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "zoo_specs").glob("*.cnn"))]
SPECS += [body for _, _, info, body in DOC_BLOCKS if info.split(" ")[0].startswith("cnn")]


def tokens(text: str) -> list[tuple]:
    return [(kind, value) for kind, value in CnnLexer().get_tokens(text) if value.strip()]


def test_every_spec_lexes_without_unknown_text():
    for text in SPECS:
        unknown = [(k, v) for k, v in tokens(text) if k is Error or k is Text]
        assert not unknown, unknown[:5]


def test_token_kinds():
    got = dict((v, k) for k, v in tokens(
        "network N  # the name\nblock b(c, s=1): conv k3 s=s p1 c bn relu x2\n"
        "stem: b(64) concat< @stem | id >\nassert params < 30M\n"))
    assert got["network"] in Keyword and got["# the name"] in Comment
    assert got["b"] in Name.Function and got["conv"] in Name.Builtin
    assert got["k3"] in Name.Attribute and got["p1"] in Name.Attribute
    assert got["stem:"] in Name.Label and got["@stem"] in Name.Label
    assert got["30M"] in Number and got["x2"] in Operator and got["concat"] in Keyword


def test_the_entry_point_registers_the_alias(tmp_path):
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entry = config["project"]["entry-points"]["pygments.lexers"]
    assert entry == {"cnn": "cnndsl.highlight:CnnLexer"}
    # A distribution with just this entry point, found on the path as an installed one is.
    info = tmp_path / "cnndsl_lexer_probe-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cnndsl-lexer-probe\n"
                                   "Version: 0\n")
    (info / "entry_points.txt").write_text("[pygments.lexers]\ncnn = "
                                           "cnndsl.highlight:CnnLexer\n")
    probe = ("from pygments.lexers import get_lexer_by_name, get_lexer_for_filename\n"
             "print(type(get_lexer_by_name('cnn')).__name__, "
             "type(get_lexer_for_filename('x.cnn')).__name__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env={"PYTHONPATH": f"{tmp_path}:{ROOT}"}, check=True)
    assert out.stdout.split() == ["CnnLexer", "CnnLexer"]
