"""The examples in README.md and docs/language.md work as written.

Fences (see the comment at the top of docs/language.md):
  ```cnn                a complete spec: it builds
  ```cnn file=PATH      a complete spec shown verbatim from PATH: equal to it, and PATH builds
  ```cnn-fragment       network lines: they build after `input 3x32x32`
  ```python             runs
  ```sh                 its `cnndsl` and `make` lines are checked against the real commands
Every fence in these files names one of them, so no example goes unchecked.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import cnndsl

from .conftest import ROOT

DOCS = ("README.md", "docs/language.md")
KINDS = {"cnn", "cnn-fragment", "python", "sh"}
FRAGMENT_INPUT = "input 3x32x32\n"
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.DOTALL | re.MULTILINE)


def _blocks(doc: str) -> list[tuple[str, int, str, str]]:
    """(doc, line, info string, body) of every fenced block in a doc."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    return [(doc, text.count("\n", 0, m.start()) + 1, m.group(1).strip(), m.group(2))
            for m in _FENCE.finditer(text)]


ALL = [b for doc in DOCS for b in _blocks(doc)]


def _of(*kinds: str) -> list:
    chosen = [b for b in ALL if b[2].split(" ")[0] in kinds]
    return [pytest.param(b, id=f"{b[0]}:{b[1]}") for b in chosen]


def test_every_fence_has_a_checked_kind():
    assert len(ALL) >= 10  # the fence pattern still finds the blocks
    unknown = [f"{doc}:{line}: ```{info}" for doc, line, info, _ in ALL
               if info.split(" ")[0] not in KINDS]
    assert not unknown, "fences without a checked kind:\n" + "\n".join(unknown)


@pytest.mark.parametrize("block", _of("cnn"))
def test_spec_examples_build(block):
    doc, line, info, body = block
    shown_from = re.fullmatch(r"cnn file=(\S+)", info)
    if shown_from:
        path = ROOT / shown_from.group(1)
        assert body == path.read_text(encoding="utf-8"), f"{doc}:{line} differs from {path}"
        cnndsl.build(path)
    else:
        assert info == "cnn", f"{doc}:{line}: unknown fence ```{info}"
        cnndsl.build(cnndsl.parse(body, f"{doc}:{line}"))


@pytest.mark.parametrize("block", _of("cnn-fragment"))
def test_fragment_examples_build(block):
    doc, line, _, body = block
    cnndsl.build(cnndsl.parse(FRAGMENT_INPUT + body, f"{doc}:{line}"))


@pytest.mark.parametrize("block", _of("python"))
def test_python_examples_run(block, monkeypatch):
    doc, line, _, body = block
    monkeypatch.chdir(ROOT)  # the examples name files relative to the repository
    exec(compile(body, f"{doc}:{line}", "exec"), {"__name__": "doc_example"})


def _command_lines(text: str, program: str) -> list[list[str]]:
    """The arguments of each line that runs `program`, optional `[...]` parts included."""
    commands = []
    for raw in text.splitlines():
        words = shlex.split(raw.replace("[", " ").replace("]", " "), comments=True)
        if words and Path(words[0]).name == program:
            commands.append(words[1:])
    return commands


def _check_cli(argv: list[str]) -> None:
    from cnndsl.cli import make_parser

    try:
        make_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`cnndsl {' '.join(argv)}` is not a valid command line ({exc})")


@pytest.mark.parametrize("block", _of("sh"))
def test_shell_examples_use_real_commands(block):
    doc, line, _, body = block
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z]+):", makefile, re.MULTILINE))
    for argv in _command_lines(body, "make"):
        assert set(argv) <= targets, f"{doc}:{line}: make {' '.join(argv)}"
    for argv in _command_lines(body, "cnndsl"):
        _check_cli(argv)
    assert _command_lines(body, "make") or _command_lines(body, "cnndsl")


def test_demo_runs_the_documented_commands():
    # `make demo` is what the README promises: check, summary, compile, render, forward.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    demo = re.search(r"^demo:.*?\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    text = demo.replace("$(BIN)/", ".venv/bin/").replace("$(NET)", "resnet50")
    commands = _command_lines(text, "cnndsl")
    assert [argv[0] for argv in commands] == \
        ["check", "summary", "summary", "compile", "render", "render"]
    for argv in commands:
        _check_cli(argv)
    assert "$(FORWARD)" in demo
    assert re.search(r"^out/$", (ROOT / ".gitignore").read_text(), re.MULTILINE)


@pytest.mark.parametrize("name", ["k5", "s2", "p1", "d3", "g2", "op1", "k1x7", "x2"])
def test_names_that_look_like_options_are_refused(name):
    # docs/language.md, "Names that look like options".
    for spec in (f"block b({name}): conv k3 {name}\nb(16)\n",
                 f"block b(c, {name}=1): conv k3 c\nb(16)\n",
                 f"block b(c, s=1): conv k3 c s=s\nb(16, {name}=2)\n",
                 f"block {name}: conv k3 16\n{name}\n",
                 f"param {name} = 16\nconv k3 16\n"):
        with pytest.raises(cnndsl.CnnSyntaxError, match=f"unexpected `{name}`"):
            cnndsl.build(FRAGMENT_INPUT + spec)
    with pytest.raises(cnndsl.CnnSyntaxError, match="unexpected `:`"):
        cnndsl.build(FRAGMENT_INPUT + f"{name}: conv k3 16\n")


@pytest.mark.parametrize("name", ["k_5", "ks", "stride", "s_2", "c5", "K5", "k"])
def test_other_names_are_names(name):
    cnndsl.build(FRAGMENT_INPUT + f"block b({name}): conv k3 {name}\nb(16)\n"
                 f"param {name}_p = 1\n{name}: conv k3 8\n")
