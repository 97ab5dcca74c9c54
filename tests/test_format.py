"""`cnndsl fmt` and `cnndsl.format`: one canonical layout, idempotent, every comment kept
where it was written, and the same network (AST and IR) before and after."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

import cnndsl
from cnndsl.cli import main
from cnndsl.errors import CnnError
from cnndsl.ir import lower
from cnndsl.syntax.format import FormatError, ast_key
from cnndsl.syntax.tokens import code_tokens, comments

from .conftest import ROOT
from .fuzz_specs import mutated_spec, valid_spec
from .test_docs import ALL as DOC_BLOCKS

ZOO = sorted((ROOT / "zoo_specs").glob("*.cnn"))
EXAMPLES = [(f"{doc}:{line}", body) for doc, line, info, body in DOC_BLOCKS
            if info.split(" ")[0] in ("cnn", "cnn-fragment")]


def ir_key(net) -> tuple:
    """A network's IR as plain data: each node's op, options and name, and the edges."""
    g = net.graph
    nodes = [(n, d["op"], repr(sorted(d["opts"].items())), d["name"])
             for n, d in sorted(g.nodes.items())]
    return nodes, sorted(edge for n in g for edge in g.in_edges(n, data="index"))


def comment_anchors(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each comment with the code of its line (a trailing comment) or of the next line of
    code (a comment on a line of its own): where it was written."""
    tokens = code_tokens(text)
    anchors = []
    for comment in comments(text):
        line = text.count("\n", 0, comment.start_pos) + 1
        same = tuple("".join(t.value.split()) for t in tokens if t.line == line)
        if not same:
            later = [t.line for t in tokens if t.line > line]
            same = ("next:",) + tuple("".join(t.value.split()) for t in tokens
                                      if later and t.line == later[0])
        anchors.append((comment.value.strip(), same))
    return anchors


def check_properties(text: str, path=None) -> str:
    """Format `text` and check every property; returns the formatted text."""
    result = cnndsl.format(text, path)
    assert cnndsl.format(result, path) == result, "not idempotent"
    assert comment_anchors(result) == comment_anchors(text), "a comment moved or was lost"
    before, after = cnndsl.parse(text, path), cnndsl.parse(result, path)
    assert ast_key(before) == ast_key(after)
    if before.body is not None and (before.input_shape is not None):
        try:
            original = lower(before)
        except CnnError:
            return result  # a spec that does not build still formats (and parses the same)
        assert ir_key(lower(after)) == ir_key(original)
    return result


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.name)
def test_the_zoo_is_formatted(path):
    text = path.read_text(encoding="utf-8")
    assert check_properties(text, path) == text, f"run `cnndsl fmt {path.name}`"


def test_fmt_check_passes_on_the_zoo(capsys):
    assert main(["fmt", "--check", *map(str, ZOO)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("example", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_the_docs_examples_are_formatted(example):
    where, body = example
    assert check_properties(body, ROOT / "README.md") == body, \
        f"{where}: format the example with `cnndsl fmt`"


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_spec())
def test_generated_specs_keep_their_network(text):
    check_properties(text)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated_spec())
def test_mutated_specs_format_or_are_refused(text):
    try:
        cnndsl.format(text)
    except FormatError:
        raise
    except CnnError:
        return  # the spec does not parse: refused with its own error
    check_properties(text)


MESSY = """\
  # a comment before everything
network   Messy
input 3x32x32
param  width=16        # the width


block unit( c , s = 1 ) :   conv k3 s=s p1 c bn relu   # a trailing comment
block pair(c):
  unit(c)
        # inside the body
  unit( c ) * 2
stem: conv k3 p1 width bn relu
  body:unit(32)   pair(32)
  residual<conv k3 p1 32
  |   conv k1 32 >
assert params   <  1M
"""

CANONICAL = """\
# a comment before everything
network Messy
input 3x32x32
param width = 16  # the width

block unit(c, s=1): conv k3 s=s p1 c bn relu  # a trailing comment
block pair(c):
    unit(c)
    # inside the body
    unit(c) * 2
stem: conv k3 p1 width bn relu
body: unit(32) pair(32)
      residual< conv k3 p1 32
              | conv k1 32 >
assert params < 1M
"""


def test_the_canonical_layout():
    assert check_properties(MESSY) == CANONICAL


def test_continuation_lines_follow_their_bracket():
    text = "input 3x32x32\n(conv k3 p1 8\n  relu) * 2\nresidual<\nconv k3 p1 8\n>\n"
    assert check_properties(text) == (
        "input 3x32x32\n(conv k3 p1 8\n relu) * 2\nresidual<\n    conv k3 p1 8\n  >\n")


def test_touching_tokens_stay_touching():
    text = "input 3x32x32\nblock b(c): conv k1 c\nb(8) conv k1 4*2 relu (conv k1 8) * 2\n"
    result = check_properties(text)
    assert "b(8)" in result and "4*2" in result and "(conv k1 8) * 2" in result


def test_a_spec_that_does_not_parse_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.cnn"
    bad.write_text("input 3x32x32\nconv k3 (8\n")
    assert main(["fmt", str(bad)]) == 1
    assert bad.read_text() == "input 3x32x32\nconv k3 (8\n"
    err = capsys.readouterr().err
    assert "bad.cnn:2:9: error:" in err


def test_fmt_writes_checks_and_diffs(tmp_path, capsys, monkeypatch):
    import io

    path = tmp_path / "messy.cnn"
    path.write_text(MESSY)
    assert main(["fmt", "--check", str(path)]) == 1
    assert f"would reformat {path}" in capsys.readouterr().err
    assert main(["fmt", "--diff", str(path)]) == 1
    out = capsys.readouterr().out
    assert "-  body:unit(32)   pair(32)" in out and "+body: unit(32) pair(32)" in out
    assert path.read_text() == MESSY
    assert main(["fmt", str(path)]) == 0
    assert path.read_text() == CANONICAL
    assert main(["fmt", "--check", str(path)]) == 0
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == CANONICAL
    assert main(["fmt", str(tmp_path / "missing.cnn")]) == 1
