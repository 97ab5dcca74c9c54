"""Output files: written atomically, with the mode a plain `open(path, "w")` gives."""
import os
import stat
import sys

import pytest

from cnndsl.cli import main
from cnndsl.outputs import write_atomic

from .conftest import ZOO

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """`umask(value)` sets the process umask for one test."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("value", [0o022, 0o002, 0o077])
def test_a_new_file_gets_the_umask_mode(tmp_path, umask, value):
    umask(value)
    plain = tmp_path / "plain.txt"
    with open(plain, "w") as handle:
        handle.write("x")
    written = write_atomic(tmp_path / "out.txt", "x")
    assert mode(written) == mode(plain) == 0o666 & ~value
    assert written.read_text() == "x"


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "out.py"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, b"new")
    assert mode(target) == 0o640 and target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.py"]  # no temporary left


def test_cli_outputs_are_not_private(tmp_path, umask):
    umask(0o022)
    out = tmp_path / "lenet.dot"
    assert main(["render", str(ZOO / "lenet5.cnn"), "-o", str(out)]) == 0
    assert mode(out) == 0o644
