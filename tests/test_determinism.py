"""The same spec gives byte-identical outputs across processes with different hash seeds,
and a failing command leaves an earlier output intact and no partial file."""
import os
import subprocess
import sys

import pytest

from cnndsl.cli import SUBCOMMANDS, main

from .conftest import ROOT, SPECS

SPEC = SPECS / "valid" / "constructs.cnn"
COMMANDS = {
    "summary": ["summary", "--json"],
    "compile": ["compile"],
    "render": ["render", "-o", "{out}/net.dot"],
}


def available(command):
    return any(module.__name__.rsplit(".", 1)[-1] == command for module in SUBCOMMANDS)


def run_in_process(args, seed, tmp_path):
    out = tmp_path / f"seed{seed}"
    out.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    argv = [a.format(out=out) for a in args]
    done = subprocess.run([sys.executable, "-m", "cnndsl", *argv, str(SPEC)], cwd=ROOT,
                          env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    return done.stdout, files


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_byte_identical_across_hash_seeds(command, tmp_path):
    if not available(command):
        pytest.skip(f"`cnndsl {command}` does not exist yet")
    if not SPEC.exists():
        pytest.skip(f"{SPEC.name} is not in tests/specs/valid")
    first = run_in_process(COMMANDS[command], 1, tmp_path)
    second = run_in_process(COMMANDS[command], 2, tmp_path)
    assert first[0] or first[1], "the command wrote nothing"
    assert first == second


@pytest.mark.parametrize("command, name", [("compile", "net.py"), ("render", "net.dot"),
                                           ("export", "net.onnx")])
def test_failure_keeps_earlier_output(command, name, tmp_path, capsys):
    if not available(command):
        pytest.skip(f"`cnndsl {command}` does not exist yet")
    target = tmp_path / name
    target.write_bytes(b"earlier output\n")
    bad = tmp_path / "bad.cnn"
    bad.write_text("input 3x8x8\nconv k3 8\nconv k9 8\n")  # fails in shape inference
    assert main([command, str(bad), "-o", str(target)]) == 1
    assert target.read_bytes() == b"earlier output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bad.cnn", name])
    assert "Traceback" not in capsys.readouterr().err
