"""Mistakes that once passed silently are errors or warnings at their line (issue 16)."""
import pytest

import cnndsl
from cnndsl.api import parse_assignment
from cnndsl.cli import main


def error_of(text, **kwargs):
    with pytest.raises(cnndsl.CnnError) as info:
        cnndsl.build(text, **kwargs)
    return info.value


@pytest.mark.parametrize("layer", ["scale 1e400", "bn eps=1e400", "ln eps=1e400",
                                   "leaky(1e400)", "dropout 1e400", "conv k1 c=1e999"])
def test_an_infinite_literal_is_refused(layer):
    error = error_of(f"input 3x8x8\nconv k1 4\n{layer}\n")
    assert "too large to be a number" in error.message and error.span.line == 3


@pytest.mark.parametrize("value", ["1_6", "１６", "1e400", "nan", "inf", "0x10", "16.0.0",
                                   "1e16", "--3"])
def test_set_refuses_what_the_spec_refuses(value):
    with pytest.raises(cnndsl.CnnUsageError):
        parse_assignment(f"width={value}")


@pytest.mark.parametrize("value, number", [("16", 16), ("-3", -3), ("0.5", 0.5),
                                           ("1e-3", 1e-3), ("30M", 30_000_000), (".5", 0.5)])
def test_set_reads_numbers_as_the_spec_does(value, number):
    assert parse_assignment(f"width={value}") == ("width", number)


def test_set_with_an_underscore_exits_2(tmp_path):
    spec = tmp_path / "a.cnn"
    spec.write_text("input 3x8x8\nparam width = 4\nconv k1 width\n")
    assert main(["check", str(spec), "--set", "width=1_6"]) == 2


def test_a_bare_layer_repeated_after_others_on_its_line_warns():
    net = cnndsl.build("input 3x8x8\nconv k3 p1 4 bn relu x3\n")
    assert len(net.warnings) == 1
    warning = net.warnings[0]
    assert warning.severity == "warning" and (warning.span.line, warning.span.col) == (2, 17)
    assert "repeats only `relu`" in warning.message and "(conv ... relu)" in warning.hint


@pytest.mark.parametrize("text", ["relu x3", "conv k3 p1 4 x3", "(conv k3 p1 4 relu) x3",
                                  "conv k1 4\nrelu * 2"])
def test_an_intended_repeat_does_not_warn(text):
    assert cnndsl.build(f"input 3x8x8\n{text}\n").warnings == []


def test_a_repeat_in_a_block_warns_once_however_often_it_is_called():
    net = cnndsl.build("input 3x8x8\nblock b: conv k1 3 relu x2\nb b b\n")
    assert len(net.warnings) == 1 and net.warnings[0].span.line == 2


def test_each_unused_output_is_reported_together():
    error = error_of("input 3x8x8\na: conv k1 4\nconv k1 5\nadd< @a | @a >\nconv k1 6\n"
                     "concat< @a | @a >\n")
    assert [(d.span.line, d.span.col) for d in error.diagnostics] == [(3, 1), (4, 1)]
    assert all("never used" in d.message and "aux< ... >" in d.hint
               for d in error.diagnostics)


def test_an_aux_head_and_a_label_used_later_are_used():
    net = cnndsl.build("input 3x8x8\na: conv k1 4\naux< gap flatten fc 10 >\nconv k1 5\n"
                       "concat< @a | id >\n")
    assert len(net.aux_outputs) == 1


def test_a_label_outside_a_block_is_named_as_such():
    error = error_of("input 3x8x8\nskip: conv k1 3\nblock b: concat< @skip | id >\nb\n")
    assert "outside block `b`" in error.message and error.span.line == 3


def test_a_label_on_nothing_is_refused_only_when_referenced():
    assert cnndsl.build("input 3x8x8\na: (conv k1 4) * 0\nconv k1 5\n")
    assert cnndsl.build("input 3x8x8\na: id\nconv k1 5\nconcat< @a | id >\n")
