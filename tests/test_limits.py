"""Hardening: every limit gives a located error quickly, odd encodings parse, `use` stays
inside the spec's folder tree, and regressions the fuzzer found stay fixed."""
import os
import time

import pytest

import cnndsl
from cnndsl.ir.lower import MAX_LAYERS
from cnndsl.syntax.layout import MAX_NESTING, MAX_OPERATORS
from cnndsl.syntax.parser import MAX_FILE_BYTES

HEAD = "input 3x8x8\n"
# A hang guard, not a speed test (speed belongs to bench/): each of these takes
# milliseconds, and a missing limit takes minutes or memory without end.
HANG_S = 10.0


def located_error(text, **kwargs):
    started = time.perf_counter()
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.build(cnndsl.parse(text), **kwargs)
    elapsed = time.perf_counter() - started
    assert info.value.span is not None, str(info.value)
    return info.value, elapsed


@pytest.mark.parametrize("text, line, col, fragment", [
    (HEAD + "(" * 3000 + "relu" + ")" * 3000, 2, MAX_NESTING + 1, "nest more than"),
    (HEAD + "residual< " * 3000 + "relu" + " >" * 3000, 2, 10 * MAX_NESTING + 9, "nest more"),
    (HEAD + "inception< relu | " * 3000 + "relu" + " >" * 3000, 2, 18 * MAX_NESTING + 10,
     "nest more"),
    (HEAD + "conv k3 c=" + "-" * 3000 + "1", 2, 11 + MAX_OPERATORS, "chains more than"),
    (HEAD + "relu * 100000000", 2, 1, "repeating 100,000,000 times"),
    (HEAD + "((relu * 1000) * 1000) * 1000", 2, 2, "repeating 1,000 times"),
    (HEAD + "block a(c):\n    a(c)\na(3)", 3, 5, "calls itself"),
    (HEAD + "conv k3 " + "9" * 5000, 2, 9, "digits"),
    (HEAD + "conv k3 99999999999", 2, 1, "more than any memory holds"),
])
def test_limits_are_located_and_fast(text, line, col, fragment):
    error, elapsed = located_error(text)
    assert (error.span.line, error.span.col) == (line, col), str(error)
    assert fragment in error.message
    assert elapsed < HANG_S


def test_nesting_up_to_the_limit_builds():
    depth = MAX_NESTING - 1
    for text in ("(" * depth + "relu" + ")" * depth,
                 "residual< " * depth + "relu" + " >" * depth,
                 "conv k3 c=" + "(1+" * depth + "1" + ")" * depth,
                 "conv k3 c=" + "-" * MAX_OPERATORS + "8"):
        started = time.perf_counter()
        cnndsl.build(HEAD + text + "\n")
        assert time.perf_counter() - started < HANG_S


def test_layer_limit():
    cnndsl.build(HEAD + f"relu * {MAX_LAYERS}")
    error, _ = located_error(HEAD + f"relu * {MAX_LAYERS + 1}")
    assert "layers" in error.message


def test_file_size_limit():
    error, elapsed = located_error(b"input 3x8x8\n" + b"relu\n" * (MAX_FILE_BYTES // 5 + 1))
    assert (error.span.line, error.span.col) == (1, 1)
    assert elapsed < HANG_S


@pytest.mark.parametrize("text", [
    "\ufeffinput 3x8x8\nrelu\n", "input 3x8x8\r\nrelu\r\n", "input 3x8x8\rrelu\r",
    "input 3x8x8\n\trelu\n"])
def test_bom_crlf_cr_tabs(text):
    assert cnndsl.build(text).node(cnndsl.build(text).output)["op"] == "relu"


def test_non_utf8_is_located():
    error, _ = located_error(b"input 3x8x8\nrelu \xff\n")
    assert (error.span.line, error.span.col) == (2, 6)


def test_two_projections_in_one_scope():
    # found by tests/test_fuzz.py: both were named `downsample`
    net = cnndsl.build("input 2x4x4\nresidual(proj)< conv k1 3 > relu\n"
                       "residual(proj)< conv k1 1 > relu\n")
    names = {net.node(n)["name"] for n in net.nodes()}
    assert {"downsample", "downsample1"} <= {name.split(".")[0] for name in names}


@pytest.fixture
def tree(tmp_path):
    inside = tmp_path / "project"
    (inside / "lib").mkdir(parents=True)
    (inside / "lib" / "blocks.cnn").write_text("block unit(c): conv k3 p1 c relu\n")
    (tmp_path / "secret.cnn").write_text("block unit(c): relu\n")
    return inside


def test_use_inside_the_tree(tree):
    spec = tree / "net.cnn"
    spec.write_text('use "lib/blocks.cnn"\ninput 3x8x8\nunit(4)\n')
    assert cnndsl.build(spec).output


@pytest.mark.parametrize("target", ["../secret.cnn", "lib/../../secret.cnn", "/etc/hosts"])
def test_use_cannot_leave_the_tree(tree, target):
    spec = tree / "net.cnn"
    spec.write_text(f'use "{target}"\ninput 3x8x8\nunit(4)\n')
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.build(spec)
    assert (info.value.span.line, info.value.span.col) == (1, 5)
    assert "reaches outside" in info.value.message


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_use_cannot_leave_through_a_symlink(tree):
    (tree / "lib" / "escape.cnn").symlink_to(tree.parent / "secret.cnn")
    spec = tree / "net.cnn"
    spec.write_text('use "lib/escape.cnn"\ninput 3x8x8\nunit(4)\n')
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.build(spec)
    assert "reaches outside" in info.value.message


def test_use_cycle(tree):
    (tree / "lib" / "a.cnn").write_text('use "b.cnn"\nblock a: relu\n')
    (tree / "lib" / "b.cnn").write_text('use "a.cnn"\nblock b: relu\n')
    spec = tree / "lib" / "net.cnn"
    spec.write_text('use "a.cnn"\ninput 3x8x8\na\n')
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.build(spec)
    assert "cycle" in info.value.message and info.value.span is not None


@pytest.mark.parametrize("text", ["conv" * 200, "relu\x00", "input 3x8x8 relu " * 30])
def test_one_line_of_text_is_a_path_and_fails_cleanly(text):
    # found by scripts/fuzz.py: a long one-line spec made Path.is_file raise OSError. A
    # one-line string names a file (docs/errors.md); parsed as text it is a located error.
    with pytest.raises(cnndsl.CnnFileError):
        cnndsl.build(text)
    error, _ = located_error(text)
    assert error.span.line == 1
