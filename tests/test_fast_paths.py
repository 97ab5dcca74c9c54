"""The front end's shortcuts give what the long way gives: replayed lines (NOTE: replayed
lines in cnndsl/syntax/lalr.py) parse and fail as lark does, literal layers (NOTE: literal
layers in cnndsl/ir/lower.py) lower as the same layers written through variables, and
`build`'s `lowered=True` keeps the shapes and notes infer_shapes would compute."""
import pytest

import cnndsl
from cnndsl.errors import CnnError
from cnndsl.ir import lower
from cnndsl.passes import PIPELINE
from cnndsl.syntax import parse

from .conftest import ZOO
from .test_parser_tables import assert_same

REPEATED = "network R\ninput 3x32x32\n" + "conv k3 p1 16 relu\n" * 4


@pytest.mark.parametrize("text", [
    REPEATED,
    # a line shape seen before, on other states: inside a block, then at the top
    "network R\ninput 3x8x8\nblock b(c):\n    conv k3 p1 c\n    conv k3 p1 c\nb(4)\nconv k3 p1 4\n",
    # the same shape, then a number too long for it: the error of that line
    REPEATED + "conv k3 p1 " + "9" * 41 + " relu\n",
    # a parse error (`,`) before a bracket error (`)`) on one line: the parse error wins
    REPEATED + "conv k3 , 64 )\n",
    REPEATED + "conv k3 ,\n)\n",
    REPEATED + "conv k3 p1 16 relu >\n",
    REPEATED + "conv k3 p1 16 relu",  # no newline at the end
])
def test_replayed_lines_parse_and_fail_as_lark_does(text):
    assert_same(text)


def test_a_replayed_error_is_located_on_its_own_line():
    with pytest.raises(CnnError) as caught:
        parse(REPEATED + "conv k3 p1 " + "9" * 41 + " relu\n", "r.cnn")
    assert caught.value.diagnostics[0].span.line == 7


def _graph(network):
    return [(a["op"], a["opts"], a["name"], a["meta"]) for a in
            (network.node(n) for n in network.nodes())]


def test_literal_layers_lower_as_the_same_layers_through_variables():
    literal = "network L\ninput 3x64x64\n" + (
        "conv k3 p1 16 bn relu\nconv k1 s2 32 nobias\nmaxpool k2\n") * 3 + "gap flatten fc 10\n"
    through = "network L\ninput 3x64x64\nparam a = 16\nparam b = 32\nparam one = 1\n" + (
        "conv k=3 p=one a bn relu\nconv k=one s=2 b nobias\nmaxpool k=2\n") * 3 + \
        "gap flatten fc 10\n"
    assert _graph(cnndsl.build(literal)) == _graph(cnndsl.build(through))


def test_a_literal_layer_that_fails_reports_its_own_place():
    text = "network L\ninput 3x8x8\nconv k3 8\nconv k3 8\nconv k3 8\nconv k3 8\n"
    with pytest.raises(CnnError) as caught:
        cnndsl.build(text)
    assert caught.value.diagnostics[0].span.line == 6  # 8 -> 6 -> 4 -> 2: the fourth fails


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "densenet121", "mobilenet_v2",
                                  "lenet5"])
def test_build_keeps_what_the_passes_compute_the_long_way(name):
    path = ZOO / f"{name}.cnn"
    if not path.is_file():
        pytest.skip(f"no {name} in the zoo")
    built = cnndsl.build(path)
    network = lower(parse(path.read_text(), str(path)))
    for run_pass in PIPELINE:
        network = run_pass(network)  # copies, and recomputes every shape
    assert _graph(built) == _graph(network)
    assert [(w.message, w.span.start if w.span else None) for w in built.warnings] == \
        [(w.message, w.span.start if w.span else None) for w in network.warnings]


def test_the_dropped_rows_note_survives_the_shortcuts():
    # One option dict for the three convs, each on another shape: a note each.
    built = cnndsl.build("network D\ninput 3x31x31\n" + "conv k2 s2 8\n" * 3)
    notes = [w for w in built.warnings if "never reads" in w.message]
    assert [w.span.line for w in notes] == [3, 4, 5]  # 31 -> 15 -> 7 -> 3: a row lost each
    assert "8x15x15 input" in notes[1].message
