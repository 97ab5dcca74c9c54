"""The parser's tables: computed by lark from grammars/cnn.lark, cached as JSON.

# NOTE: parser tables
# The grammar stays the one definition of the syntax: lark reads it and computes the
# lexer's terminals and the LALR(1) table, and cnndsl.syntax.lalr runs that table. What
# lark's own parser adds on top (a token object with line counting per token, a callback
# chain per reduction, the tree builder's wrappers) was most of a long spec's parse, and
# building the grammar took longer than a small spec's whole check; so the tables are
# computed once per grammar and kept as JSON (data, never code: nothing in the cache is
# executed) in the user's cache folder, `$CNNDSL_CACHE_DIR` or `$XDG_CACHE_HOME/cnndsl`
# or `~/.cache/cnndsl`, under a name holding the hash of the grammar text and of
# TABLES_FORMAT. A changed grammar gets a new file; an unreadable or stale cache is
# rebuilt; where nothing can be written (a read-only home) the tables are built in memory
# on every run, which is slower and otherwise the same.
#
# Each rule's reduction is described the way lark's tree builder treats it (which children
# it keeps, where `[ ]` puts a None, which `_rule` children it splices in, whether a `?rule`
# with one child passes it through): see `_rule_entry`. A grammar feature this does not
# cover raises `Unsupported`, and cnndsl.syntax.parser then parses with lark itself.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

# Bump when the layout of the JSON below, or how it is read, changes.
TABLES_FORMAT = 1


class Unsupported(Exception):
    """The grammar uses something the table-driven parser does not handle."""


def grammar_path() -> Path:
    """grammars/cnn.lark: in the installed package, or in the source tree."""
    here = Path(__file__).resolve().parents[1]
    packaged = here / "grammars" / "cnn.lark"
    return packaged if packaged.is_file() else here.parent / "grammars" / "cnn.lark"


def grammar_text() -> str:
    return grammar_path().read_text(encoding="utf-8")


def load_tables(text: str, always_accept: tuple[str, ...]) -> dict:
    """The tables for grammar `text`, from the cache or computed (and then cached)."""
    key = hashlib.sha256(f"{TABLES_FORMAT}\n{always_accept}\n{text}".encode()).hexdigest()[:20]
    folder = cache_folder()
    path = folder / f"parser-{key}.json" if folder is not None else None
    if path is not None:
        try:
            tables = json.loads(path.read_text(encoding="utf-8"))
            if tables.get("key") == key:
                return tables
        except (OSError, ValueError):
            pass  # missing or damaged: rebuilt below
    tables = build_tables(text, always_accept)
    tables["key"] = key
    if path is not None:
        _write(path, json.dumps(tables, separators=(",", ":")))
    return tables


def cache_folder() -> Path | None:
    explicit = os.environ.get("CNNDSL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME")
    if base:
        return Path(base) / "cnndsl"
    try:
        return Path.home() / ".cache" / "cnndsl"
    except RuntimeError:  # no home folder to be found
        return None


def _write(path: Path, data: str) -> None:
    """Atomically, so that a parallel run reads the old file or the new one, never half."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temp.write_text(data, encoding="utf-8")
        os.replace(temp, path)
    except OSError:
        pass  # a read-only or full disk: the tables are rebuilt next time


# --- computing the tables with lark ---------------------------------------------------


def make_lark(text: str, always_accept: tuple[str, ...], **options):
    """The lark parser of the grammar, configured as the tables assume."""
    from lark import Lark

    postlex = options.pop("postlex", None) or _PostLex(always_accept)
    return Lark(text, parser="lalr", lexer="basic", postlex=postlex, maybe_placeholders=True,
                **options)


class _PostLex:
    def __init__(self, always_accept: tuple[str, ...]) -> None:
        self.always_accept = always_accept

    def process(self, stream):
        return stream


def build_tables(text: str, always_accept: tuple[str, ...]) -> dict:
    lark = make_lark(text, always_accept)
    frontend = lark.parser
    lexer = frontend.lexer.lexer if hasattr(frontend.lexer, "lexer") else frontend.lexer
    scanner = lexer.scanner  # built on first use, with the keyword retyping (`callback`)
    table = frontend.parser.parser.parse_table
    rules = sorted({rule for actions in table.states.values()
                    for kind, rule in actions.values() if kind.name == "Reduce"},
                   key=lambda rule: (rule.origin.name, rule.order))
    number = {rule: i for i, rule in enumerate(rules)}
    states = {}
    for state, actions in table.states.items():
        # Shift to state s is s; reduce by rule r is -1 - r.
        states[state] = {symbol: (arg if kind.name == "Shift" else -1 - number[arg])
                         for symbol, (kind, arg) in actions.items()}
    if len(table.start_states) != 1:
        raise Unsupported("more than one start rule")
    return {
        "lexer": {
            "patterns": [[m.pattern, m.flags] for m in scanner._mres],
            "ignore": sorted(lexer.ignore_types),
            "retype": {name: [[m.pattern, m.flags] for m in callback.scanner._mres]
                       for name, callback in lexer.callback.items()
                       if type(callback).__name__ == "UnlessCallback"},
        },
        "states": [states[s] for s in range(len(states))] if set(states) == set(
            range(len(states))) else _unsupported("state numbers are not 0..n-1"),
        "rules": [_rule_entry(rule) for rule in rules],
        "start": next(iter(table.start_states.values())),
        "end": next(iter(table.end_states.values())),
        "user_callbacks": bool(lexer.callback.keys() - {
            name for name, cb in lexer.callback.items()
            if type(cb).__name__ == "UnlessCallback"}),
    }


def _rule_entry(rule) -> list:
    """[origin, size, method, keep, trailing Nones, pass a single child through].

    `method` is the ToAst method (the alias, or the rule's name), or None for a `_rule`
    whose children are spliced into its parent's; `keep` is, per kept child,
    [index, splice it, Nones before it] (as lark's tree builder with placeholders does)."""
    options = rule.options
    if options.template_source:
        raise Unsupported(f"templates ({rule.origin.name})")
    expansion = rule.expansion
    empty = options.empty_indices
    if empty:
        bits = "".join(str(int(b)) for b in empty)
        nones = [len(ones) for ones in bits.split("0")]
    else:
        nones = [0] * (len(expansion) + 1)
    keep, pending = [], 0
    for i, symbol in enumerate(expansion):
        pending += nones[i]
        if options.keep_all_tokens or not (symbol.is_term and symbol.filter_out):
            splice = not symbol.is_term and symbol.name.startswith("_")
            keep.append([i, splice, pending])
            pending = 0
    pending += nones[len(expansion)]
    name = rule.origin.name
    method = None if name.startswith("_") else (rule.alias or name)
    single = bool(options.expand1 and not rule.alias)
    return [name, len(expansion), method, keep, pending, single]


def _unsupported(why: str):
    raise Unsupported(why)
