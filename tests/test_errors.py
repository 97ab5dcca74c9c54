"""How errors look: location, source line, caret, hint; collected; never a traceback."""
import subprocess
import sys

import pytest

import cnndsl
from cnndsl.cli import main


def error_of(text):
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.build(text)
    return info.value


def test_rendering_has_location_line_caret_hint():
    error = error_of("input 3x32x32\nconv k3 64 fc 10\n")
    lines = str(error).splitlines()
    assert lines[0].startswith("<string>:2:12: error: `fc` needs a flat input")
    assert lines[1] == "    conv k3 64 fc 10"
    assert lines[2] == "               " + "^" * 5
    assert lines[3].startswith("hint: add `flatten`")


@pytest.mark.parametrize("text, hint", [
    ("input 3x8x8\ncnv k3 8\n", "did you mean `conv`?"),
    ("input 3x8x8\nconv k3 8 rleu\n", "did you mean `relu`?"),
    ("input 3x8x8\nconv k3 8 strde=2\n", "did you mean `stride`?"),
    ("input 3x8x8\nblock basic(c): conv k3 c\nbasik(3)\n", "did you mean `basic`?"),
    ("input 3x8x8\nparam width = 8\nconv k3 widht\n", "did you mean `width`?"),
    ("input 3x8x8\nblock b(c): conv k3 c\nb(chanels=3)\n", None),
])
def test_did_you_mean(text, hint):
    error = error_of(text)
    if hint == "did you mean `stride`?":
        assert "`conv` has no option `strde`" in error.message
    elif hint is not None:
        assert error.hint == hint, str(error)
    else:
        assert "no parameter `chanels`" in error.message


def test_misspelt_variable_is_reported_as_a_layer_with_hint():
    error = error_of("input 3x8x8\nparam width = 8\nconv k3 widht\n")
    assert "widht" in error.message


def test_several_contract_failures_are_reported_together():
    error = error_of("input 3x8x8\nconv k1 4\nassert channels == 5\nrelu\n"
                     "assert shape == 4x9x9\n")
    assert [d.span.line for d in error.diagnostics] == [3, 5]


def test_usage_errors_exit_2(tmp_path, capsys):
    spec = tmp_path / "a.cnn"
    spec.write_text("input 3x8x8\nparam w = 4\nconv k1 w\n")
    assert main(["check", str(spec), "--set", "nonsense"]) == 2
    assert main(["check", str(spec), "--set", "q=3"]) == 2
    assert main(["check", str(spec), "--input", "3x8"]) == 2
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert main(["check", str(spec), "--set", "w=6", "--input", "3x16x16"]) == 0
    assert "output 6x16x16" in capsys.readouterr().out


def test_missing_file_is_reported(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.cnn")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_no_traceback_from_the_command(tmp_path):
    spec = tmp_path / "bad.cnn"
    spec.write_bytes(b"input 3x8x8\nconv k3 \xff\xfe 8\n")
    run = subprocess.run([sys.executable, "-m", "cnndsl", "check", str(spec)],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert f"{spec}:2" in run.stderr


def test_errors_in_the_default_dense_layer_are_located_at_the_dense():
    """The user never wrote DenseNet-B's built-in body; the error points at their `dense`."""
    error = error_of("input 3x8x8\nflatten\ndense(n=2, k=4)\n")
    assert str(error).startswith("<string>:3:1: error: `conv` needs a CxHxW feature map")
    assert error.span.source.name == "<string>"
    assert "the default DenseNet-B layer" in error.hint and "feature map" in error.hint
    assert "<DenseNet-B layer>" not in str(error)
    # A body the user wrote is theirs: its errors stay where they wrote them.
    own = error_of("input 3x8x8\nflatten\ndense(n=2, k=4)< bn conv k1 4 >\n")
    assert (own.span.line, own.span.col) == (3, 21) and "DenseNet-B" not in (own.hint or "")


def test_a_long_line_is_quoted_around_the_span_only():
    line = "conv k1 4 " + "relu " * 4_000 + "cnv 3"  # 20 kB; a 1 MB line is quoted alike
    error = error_of(f"input 3x8x8\n{line}\n")
    quoted, caret = str(error).splitlines()[1:3]
    assert len(quoted) < 120 and quoted.startswith("    ...") and quoted.endswith("cnv 3")
    assert caret.index("^") == quoted.index("cnv") and caret.count("^") == 3


@pytest.mark.parametrize("bad", ["\u202e", "\u2066", "\x1b[31m", "\x00", "\u200f"])
def test_control_and_bidi_characters_are_escaped_in_what_is_echoed(bad):
    error = error_of(f'input 3x8x8\nconv k1 "{bad}x" 4\n')
    text = str(error)
    assert bad not in text and ascii(bad)[1:-1] in text
    quoted, caret = text.splitlines()[1:3]
    assert caret.index("^") == quoted.index('"')
    assert caret.count("^") == len(f'"{ascii(bad)[1:-1]}x"')


@pytest.mark.parametrize("text, hint", [
    ("frobnicate 2", "neither a layer nor a block of this file"),
    ("conv k1 4 wobble2x 2", "neither a layer nor a block of this file"),
    ('use "blocks.cnn"\nfrobnicate 2', "if it is a block of a used file, call it with "
                                       "parentheses: `frobnicate(2)`"),
])
def test_an_unknown_word_before_a_value_gets_no_block_syntax_hint_unless_it_may_be_one(
        text, hint):
    with pytest.raises(cnndsl.CnnNameError) as info:
        cnndsl.build(cnndsl.parse(f"input 3x8x8\n{text}\n"))
    assert hint in info.value.hint


def test_a_block_called_without_parentheses_is_named_as_such():
    error = error_of("input 3x8x8\nblock frob(c): conv k1 c\nfrob 4\n")
    assert error.message == "block `frob` is called without parentheses"
    assert error.hint == "blocks take their arguments in parentheses: `frob(4)`"


def test_an_unindented_block_body_says_so():
    error = error_of("input 3x8x8\nblock b(c):\nconv k1 c\nb(3)\n")
    assert error.message.startswith("block `b` has no body: the lines after `block b(c):` "
                                    "are not indented")
    assert "indent" in error.hint and "unexpected" not in str(error)
