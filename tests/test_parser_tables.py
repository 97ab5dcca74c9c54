"""The table-driven parser (cnndsl/syntax/lalr.py) against lark's own parser of the same
grammar: the same AST with the same spans, or the same error at the same place, on the zoo,
the docs' examples, tests/specs and fuzzed specs. And the tables' cache (tables.py)."""
import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings

from cnndsl.errors import CnnError
from cnndsl.syntax import parser as parsing
from cnndsl.syntax.source import Span
from cnndsl.syntax.tables import TABLES_FORMAT, grammar_text, load_tables

from .conftest import SPECS, ZOO
from .fuzz_specs import mutated_spec, valid_spec, word_soup
from .test_docs import ALL as DOC_BLOCKS

SHORT = settings(max_examples=150, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


def outcome(parse, text: str):
    """The AST as plain data (spans as offsets and line:col), or the error's text."""
    try:
        return ("ok", _plain(parse(text)))
    except CnnError as exc:
        return ("error", type(exc).__name__, str(exc))


def _plain(node):
    if isinstance(node, Span):
        return ("span", node.start, node.end, node.line, node.col)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__, *(_plain(getattr(node, f.name))
                                       for f in dataclasses.fields(node) if f.name != "source"))
    if isinstance(node, (tuple, list)):
        return tuple(_plain(x) for x in node)
    return node


def by_tables(text: str):
    return parsing.parse(text, "spec.cnn")


def by_lark(text: str):
    return parsing.parse_with_lark(parsing.make_source(text, "spec.cnn"))


def assert_same(text: str) -> None:
    assert outcome(by_tables, text) == outcome(by_lark, text)


def test_the_tables_cover_the_grammar():
    assert parsing._engine() is not None  # else every parse goes through lark


SPEC_FILES = sorted(ZOO.glob("*.cnn")) + sorted(SPECS.rglob("*.cnn"))


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_spec_files_parse_the_same(path):
    assert_same(path.read_bytes().decode("utf-8", "replace"))


@pytest.mark.parametrize("block", [b for b in DOC_BLOCKS if b[2].startswith("cnn")],
                         ids=lambda b: f"{b[0]}:{b[1]}")
def test_doc_examples_parse_the_same(block):
    assert_same(block[3])


@SHORT
@given(valid_spec())
def test_generated_specs_parse_the_same(text):
    assert_same(text)


@SHORT
@given(mutated_spec())
def test_mutated_specs_parse_the_same(text):
    assert_same(text)


@SHORT
@given(word_soup())
def test_word_soup_parses_the_same(text):
    assert_same(text)


@pytest.mark.parametrize("text", [
    "", "\n", "# only a comment\n", "conv", "conv k3 64", "input 3x32x32\nconv k3 (",
    "input 3x32x32\nconv k3 64 >", "block b:\n", "block b:\nconv k3 64\n", "network\n",
    "input 3x32x32\nresidual< conv k3 64 | >", "input 3x32x32\nassert shape < 3\n",
    "input 3x32x32\nconv k3 $ 64\n", "input 3x32x32\nconv k3 64 64:\n",
])
def test_edge_cases_parse_the_same(text):
    assert_same(text)


def test_tables_are_cached_as_data_per_grammar(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNDSL_CACHE_DIR", str(tmp_path / "cache"))
    text = grammar_text()
    first = load_tables(text, ("NL",))
    files = list((tmp_path / "cache").glob("parser-*.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text()) == first
    assert load_tables(text, ("NL",)) == first  # read back, not rebuilt
    # A changed grammar gets tables of its own; the old file stays as it was.
    changed = text.replace('"network" NAME', '"net" NAME')
    assert load_tables(changed, ("NL",))["key"] != first["key"]
    assert len(list((tmp_path / "cache").glob("parser-*.json"))) == 2
    assert str(TABLES_FORMAT) and first["key"] in files[0].name


def test_a_damaged_or_unwritable_cache_is_rebuilt(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("CNNDSL_CACHE_DIR", str(folder))
    key = load_tables(grammar_text(), ("NL",))["key"]
    (path,) = folder.glob("parser-*.json")
    for damage in ("{not json", json.dumps({"key": "other"})):
        path.write_text(damage)
        assert load_tables(grammar_text(), ("NL",))["key"] == key
        assert json.loads(path.read_text())["key"] == key  # rewritten
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("CNNDSL_CACHE_DIR", str(blocked / "cache"))  # cannot be made
    assert load_tables(grammar_text(), ("NL",))["key"] == key


def test_lark_parses_where_the_tables_cannot(monkeypatch):
    from cnndsl.syntax import tables

    def unsupported(*args):
        raise tables.Unsupported("a grammar feature the tables do not cover")

    text = (ZOO / "resnet18.cnn").read_text()
    expected = outcome(by_tables, text)
    monkeypatch.setattr(parsing, "load_tables", unsupported)
    parsing._engine.cache_clear()
    try:
        assert parsing._engine() is None
        assert outcome(by_tables, text) == expected
    finally:
        parsing._engine.cache_clear()
