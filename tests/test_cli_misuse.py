"""The command line misused: every FILE is a path (spec text comes through `-`), a spec
file that cannot be read exits 1 in every subcommand, nothing but a regular file is read
or replaced, and no misuse ends in an internal error or a hang."""
import io
import os
import sys

import pytest

import cnndsl
from cnndsl.api import open_spec
from cnndsl.cli import main

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX FIFOs and devices")

SPEC = "input 3x8x8\nconv k1 4\n"
SUBCOMMANDS = {
    "check": [],
    "summary": [],
    "compile": [],
    "render": ["-o", "out.dot"],
    "export": ["-o", "out.onnx"],
}


@pytest.fixture
def spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "ok.cnn"
    path.write_text(SPEC)
    return path


def unreadable(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    fifo = tmp_path / "fifo.cnn"
    os.mkfifo(fifo)
    return {
        "missing": (str(tmp_path / "nope.cnn"), "no such file"),
        "a bare name": ("resnet_fifty", "is not a network of the zoo"),
        "a folder": (str(folder), "is a folder"),
        "a fifo": (str(fifo), "is a FIFO"),
        "a device": ("/dev/zero", "is a device"),
        "too long": ("a" * 5000 + ".cnn", "too long"),
    }


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_an_unreadable_spec_file_exits_1_in_every_subcommand(spec, tmp_path, capsys, command):
    for what, (argument, reason) in unreadable(tmp_path).items():
        status = main([command, argument, *SUBCOMMANDS[command]])
        err = capsys.readouterr().err
        assert status == 1, (what, err)
        assert reason in err and err.startswith("cnndsl: error: "), (what, err)
        assert "internal error" not in err and "input shape" not in err


def test_spec_text_comes_through_stdin(spec, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SPEC.encode())))
    assert main(["check", "-"]) == 0
    assert "ok -: " in capsys.readouterr().out
    assert open_spec("-", io.BytesIO(b"input 3x8x8\nconv k3 \n")).source.name == "<stdin>"
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.build(open_spec("-", io.BytesIO(b"input 3x8x8\ncnv k1 4\n")))
    assert str(info.value).startswith("<stdin>:2:1: error: ")
    assert main(["check", "-", "-"]) == 2


def test_the_api_reads_a_one_line_string_as_a_path(tmp_path):
    with pytest.raises(cnndsl.CnnFileError, match="resnet50.cnn: no such file"):
        cnndsl.build("resnet50.cnn")
    with pytest.raises(cnndsl.CnnFileError, match="did you mean `resnet50`"):
        cnndsl.build("resnet05")  # a bare name: the zoo (see cnndsl/zoo.py)
    assert cnndsl.build(SPEC).output  # text: it holds a newline


@pytest.mark.parametrize("target", ["folder", "link", "fifo", "device"])
@pytest.mark.parametrize("command", ["summary", "compile", "render"])
def test_output_replaces_only_a_regular_file(spec, tmp_path, capsys, target, command):
    paths = {"folder": tmp_path / "out.dot", "link": tmp_path / "link.dot",
             "fifo": tmp_path / "fifo.dot", "device": "/dev/null"}
    (tmp_path / "out.dot").mkdir()
    (tmp_path / "link.dot").symlink_to(spec)
    os.mkfifo(tmp_path / "fifo.dot")
    assert main([command, str(spec), "-o", str(paths[target])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnndsl: error: ") and "internal error" not in err
    assert spec.read_text() == SPEC  # the link's target is untouched
    assert (tmp_path / "link.dot").is_symlink()


@pytest.mark.parametrize("path", ["a" * 5000 + ".cnn", "a\0b.cnn", "../outside.cnn"])
def test_a_bad_use_path_is_a_located_error(tmp_path, path):
    spec = tmp_path / "net.cnn"
    spec.write_bytes(b'input 3x8x8\nuse "' + path.encode() + b'"\nconv k1 4\n')
    for src in (spec, spec.read_text()):
        with pytest.raises(cnndsl.CnnNameError) as info:
            cnndsl.build(src)
        assert (info.value.span.line, info.value.span.col) == (2, 5)
        assert len(info.value.message) < 200
    assert main(["check", str(spec)]) == 1


def test_a_used_fifo_or_folder_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.cnn")
    (tmp_path / "dir.cnn").mkdir()
    for name, reason in (("pipe.cnn", "is a FIFO"), ("dir.cnn", "is a folder")):
        spec = tmp_path / "net.cnn"
        spec.write_text(f'input 3x8x8\nuse "{name}"\nconv k1 4\n')
        with pytest.raises(cnndsl.CnnNameError, match=reason):
            cnndsl.build(spec)


def test_check_json_reports_every_file(spec, tmp_path, capsys):
    import json

    bad = tmp_path / "bad.cnn"
    bad.write_text("input 3x8x8\ncnv k1 4\n")
    warned = tmp_path / "warned.cnn"
    warned.write_text("input 3x8x8\nconv k1 4 relu x2\n")
    status = main(["check", "--json", str(spec), str(bad), "nope.cnn", str(warned)])
    assert status == 1
    files = json.loads(capsys.readouterr().out)["files"]
    assert [f["ok"] for f in files] == [True, False, False, True]
    assert files[0]["output"] == [4, 8, 8] and files[0]["layers"] == 1
    assert (files[1]["diagnostics"][0]["line"], files[1]["diagnostics"][0]["col"]) == (2, 1)
    assert "no such file" in files[2]["diagnostics"][0]["message"]
    assert files[3]["diagnostics"][0]["severity"] == "warning"


def test_fmt_reads_only_regular_files(tmp_path, capsys):
    """`fmt` refuses what no other command reads: a FIFO would block it for ever."""
    for what, (argument, reason) in unreadable(tmp_path).items():
        if what == "a bare name":  # fmt takes files only: no zoo names
            reason = "no such file"
        for extra in ([], ["--check"]):
            assert main(["fmt", *extra, argument]) == 1, what
            err = capsys.readouterr().err
            assert reason in err and err.startswith("cnndsl: error: "), (what, err)


def test_an_output_never_replaces_an_input(spec, tmp_path, capsys):
    (tmp_path / "lib.cnn").write_text("block b(c): conv k1 c\n")
    spec.write_text('use "lib.cnn"\n' + SPEC + "b(4)\n")
    before = spec.read_text()
    for command in (["compile", "ok.cnn", "-o", "ok.cnn"], ["summary", "ok.cnn", "-o", "./ok.cnn"],
                    ["compile", "ok.cnn", "-o", str(tmp_path / "lib.cnn")],
                    ["render", "ok.cnn", "-o", "lib.cnn"]):
        assert main(command) == 2, command
        assert "is an input of this command" in capsys.readouterr().err
    assert spec.read_text() == before and (tmp_path / "lib.cnn").read_text().startswith("block")


@pytest.mark.parametrize("arguments", [["compile", "ok.cnn", "-o", ""],
                                       ["summary", "ok.cnn", "-o", ""],
                                       ["check", "ok.cnn", "--input", ""],
                                       ["compile", "ok.cnn", "--class-name", ""]])
def test_an_empty_option_value_is_a_usage_error(spec, capsys, arguments):
    assert main(arguments) == 2
    assert "the value is empty" in capsys.readouterr().err
