"""Every spec in tests/specs/invalid must fail at the line:col and with the message its
first line states: `# error: LINE:COL: part of the message`."""
import re

import pytest

import cnndsl
from cnndsl.cli import main

from .conftest import SPECS

INVALID = sorted((SPECS / "invalid").glob("*.cnn"))
HEADER = re.compile(rb"#\s*error:\s*(\d+):(\d+):\s*(.+)")


def expectation(path):
    match = HEADER.match(path.read_bytes().split(b"\n", 1)[0])
    assert match, f"{path.name} lacks its `# error: LINE:COL: message` header"
    return int(match[1]), int(match[2]), match[3].decode().strip()


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_fails_where_it_says(path):
    line, col, message = expectation(path)
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.build(path)
    error = info.value
    assert error.span is not None, "the error carries no location"
    assert (error.span.line, error.span.col) == (line, col), str(error)
    assert message in error.message, str(error)
    assert str(error).startswith(f"{path}:{line}:{col}: error: ")


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_cli_exit_1_without_traceback(path, capsys):
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{path}:" in err


def test_corpus_is_large_enough():
    assert len(INVALID) >= 100
