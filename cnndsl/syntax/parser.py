"""parse(): .cnn text to a `Spec`; a syntax error is a located `CnnError`."""
from __future__ import annotations

import functools
import re
from pathlib import Path

from ..errors import CnnError, CnnLimitError, CnnNameError, CnnSyntaxError
from ..ops import lookup
from ..ops.registry import RESERVED
from . import ast
from .group import Grouper
from .lalr import Lexer, LexError, ParseError, Parser, Token
from .layout import Layout
from .source import Source
from .tables import Unsupported, grammar_text, load_tables, make_lark
from .transform import RawBlock, RawLine, ToAst

MAX_FILE_BYTES = 4 * 2**20


@functools.lru_cache(maxsize=1)
def _engine() -> tuple[Lexer, Parser, ToAst] | None:
    """The lexer and parser of the grammar's tables (see NOTE: parser tables in tables.py),
    or None where the tables cannot express the grammar (then lark parses)."""
    transformer = ToAst()
    try:
        tables = load_tables(grammar_text(), Layout.always_accept)
        return Lexer(tables["lexer"]), Parser(tables, transformer), transformer
    except Unsupported:
        return None


def parse(text: str | bytes, path: str | Path | None = None, *,
          name: str | None = None) -> ast.Spec:
    """Parse one spec. Raises `CnnError` with the location of the first problem. Errors
    name the spec `path`, else `name` (`<stdin>`), else `<string>`."""
    source = make_source(text, path, name)
    engine = _engine()
    if engine is None:
        return parse_with_lark(source)
    lexer, parser, transformer = engine
    transformer.begin(source)
    try:
        tokens = Layout(source).process(lexer.tokens(source.text))
        statements = parser.parse(tokens, len(source.text))
    except LexError as exc:
        raise _character_error(source, exc.pos) from None
    except ParseError as exc:
        raise _token_error(source, exc.token, exc.expected) from None
    except RecursionError:
        raise _too_deep(source) from None
    return _assemble(source, statements)


def parse_with_lark(source: Source) -> ast.Spec:
    """The same parse run by lark's own lexer and parser: where the tables do not cover
    the grammar, and in the tests, as the reference the table-driven parser must equal."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput

    parser = _lark_parser()
    parser.options.postlex.current = Layout(source)
    parser.options.transformer.begin(source)
    try:
        statements = parser.parse(source.text)
    except UnexpectedCharacters as exc:
        raise _character_error(source, exc.pos_in_stream) from None
    except UnexpectedInput as exc:
        raise _token_error(source, getattr(exc, "token", None),
                           getattr(exc, "expected", None) or ()) from None
    except RecursionError:
        raise _too_deep(source) from None
    return _assemble(source, statements)


@functools.lru_cache(maxsize=1)
def _lark_parser():
    # The post-lexer and the transformer need the source (for errors and spans), so the
    # parser is built once here and the spec's Layout and source are wired in per parse.
    return make_lark(grammar_text(), Layout.always_accept, transformer=ToAst(),
                     postlex=_LayoutSlot())


class _LayoutSlot:
    """Stands in for the Layout of the parse in progress (lark keeps one postlexer), and
    hands it lark's tokens as cnndsl's."""

    always_accept = Layout.always_accept
    current: Layout | None = None

    def process(self, stream):
        return self.current.process(Token(t.type, t.value, t.start_pos, t.end_pos)
                                    for t in stream)


def number_pattern() -> re.Pattern:
    """The grammar's NUMBER terminal as a compiled pattern (for numbers read outside a spec,
    such as `--set width=32`, to follow the spec's own rule)."""
    return re.compile(_lark_parser().get_terminal("NUMBER").pattern.to_regexp())


def _too_deep(source: Source) -> CnnError:
    # Layout's limits (see its NOTE) keep the AST shallow; this is the last guard.
    return CnnLimitError("the spec nests too deeply to parse", source.span(0, 0),
                         "split the network into blocks")


def make_source(text: str | bytes, path: str | Path | None,
                name: str | None = None) -> Source:
    """The spec as a `Source`: UTF-8 (a leading BOM dropped), newlines as `\\n`."""
    name = str(path) if path is not None else name or "<string>"
    where = Path(path) if path is not None else None
    if len(text) > MAX_FILE_BYTES:
        head = Source(_first_line(text), name, where)
        raise CnnLimitError(f"the file is larger than {MAX_FILE_BYTES:,} bytes",
                            head.span(0, 0), "split it into files joined with `use`")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            good = text[:exc.start].decode("utf-8")
            # The bad bytes shown escaped (`\xff`), the caret under the first.
            shown = Source(good + text[exc.start:].decode("utf-8", "backslashreplace"), name,
                           where)
            raise CnnSyntaxError(f"the file is not UTF-8 text (byte 0x{text[exc.start]:02x})",
                                 shown.span(len(good), len(good) + 4),
                                 "save the spec as UTF-8") from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return Source(text, name, where)


def _first_line(text: str | bytes) -> str:
    line = text[:200].split(b"\n" if isinstance(text, bytes) else "\n", 1)[0]
    return line.decode("utf-8", "replace") if isinstance(line, bytes) else line


def _assemble(source: Source, statements: list) -> ast.Spec:
    network = input_shape = None
    params: list[ast.Param] = []
    uses: list[ast.Use] = []
    raw_blocks: list[RawBlock] = []
    outputs: list[ast.Name] = []
    init = None
    lines: list[RawLine] = []
    for kind, value in statements:
        if kind == "network":
            if network is not None:
                raise CnnSyntaxError("the network is named twice", value.span,
                                     "keep one `network` line")
            network = value
        elif kind == "input":
            if input_shape is not None:
                raise CnnSyntaxError("the input is declared twice", value.span,
                                     "keep one `input` line")
            if len(value.dims) != 3 and len(value.dims) != 1:
                raise CnnSyntaxError("the input is CxHxW (or a flat size)", value.span,
                                     "e.g. `input 3x224x224`")
            input_shape = value
        elif kind == "param":
            params.append(value)
        elif kind == "use":
            uses.append(value)
        elif kind == "init":
            if init is not None:
                raise CnnSyntaxError("the initialisation is named twice", value.span,
                                     "keep one `init` line")
            init = value
        elif kind == "output":
            if outputs:
                raise CnnSyntaxError("the outputs are declared twice", value[0].span,
                                     "list every output on one `output` line")
            outputs.extend(value)
        elif kind == "block":
            raw_blocks.append(value)
        else:
            lines.append(value)
    _check_unique(params, "param")
    _check_unique(raw_blocks, "block")
    for param in params:
        _check_not_reserved(param, "a `param`")
    spec_vars = frozenset(p.name for p in params)
    spec_layers = layer_params(params)
    block_names = frozenset(b.name for b in raw_blocks)
    blocks = tuple(_block(b, spec_vars, block_names, bool(uses), spec_layers)
                   for b in raw_blocks)
    body = None
    if lines:
        grouper = Grouper(spec_vars, block_names, bool(uses), spec_layers)
        items = tuple(item for line in lines
                      for item in grouper.sequence(line.words, line.span, line=True).items)
        body = ast.Sequence(items, lines[0].span.to(lines[-1].span))
    whole = source.span(0, len(source.text))
    return ast.Spec(source, network.id if network else None, input_shape, tuple(params),
                    tuple(uses), blocks, body, whole, tuple(outputs), init)


def layer_params(params) -> frozenset[str]:
    """The parameters whose default is a layer (`act=relu`, `act=id`, `act=leaky(0.1)`):
    in a body their name is a layer, not a value."""
    def is_layer(expr) -> bool:
        name = expr.id if isinstance(expr, ast.Name) else \
            expr.name if isinstance(expr, ast.FnCall) else None
        if name == "id":
            return True
        spec = lookup(name) if name is not None else None
        return spec is not None and not spec.internal
    return frozenset(p.name for p in params if p.default is not None and is_layer(p.default))


def _block(raw: RawBlock, spec_vars: frozenset[str], block_names: frozenset[str],
           uses: bool, spec_layers: frozenset[str] = frozenset()) -> ast.BlockDef:
    _check_block_name(raw)
    _check_unique(raw.params, "parameter")
    for param in raw.params:
        _check_not_reserved(param, "a block parameter")
    seen_default = False
    for p in raw.params:
        if p.default is not None:
            seen_default = True
        elif seen_default:
            raise CnnSyntaxError(f"parameter `{p.name}` without a default follows one with a "
                                 "default", p.span, "put parameters with defaults last")
    names = {p.name for p in raw.params}
    layers = (spec_layers - names) | layer_params(raw.params)
    grouper = Grouper(spec_vars | names, block_names, uses, layers)
    items = tuple(item for words, span in raw.lines
                  for item in grouper.sequence(words, span, line=True).items)
    body = ast.Sequence(items, raw.lines[0][1].to(raw.lines[-1][1]))
    return ast.BlockDef(raw.name, raw.params, body, raw.span)


def _check_block_name(raw: RawBlock) -> None:
    """A block named like a layer, a composite or a function could never be called: the
    name would always mean that."""
    spec = lookup(raw.name)
    what = "a layer" if spec is not None and not spec.internal else \
        "a word of the language" if raw.name in RESERVED else None
    if what is not None:
        at = raw.span.start + raw.span.text.index(raw.name, len("block"))
        raise CnnNameError(f"block `{raw.name}` has the name of {what}, so it could never "
                           "be called", raw.span.source.span(at, at + len(raw.name)),
                           f"rename the block, e.g. `my_{raw.name}`")


def _check_not_reserved(param: ast.Param, what: str) -> None:
    """`param in = 5` would never be read: `in` always means the input's channels."""
    if param.name not in RESERVED:
        return
    meaning = "always means the input's channels" if param.name == "in" else \
        "is a word of the language"
    raise CnnNameError(f"`{param.name}` cannot be the name of {what}: it {meaning}",
                       _name_span(param), "choose another name")


def _name_span(param: ast.Param):
    """The span of a param's name alone (a `param` line's span starts at the keyword)."""
    span = param.span
    found = re.compile(rf"\b{re.escape(param.name)}\b").search(span.text, 1 if
                                                              span.text.startswith("param") else 0)
    start = span.start + (found.start() if found else 0)
    return span.source.span(start, start + len(param.name))


def _check_unique(things, what: str) -> None:
    seen = {}
    for thing in things:
        if thing.name in seen:
            first = seen[thing.name].span
            raise CnnNameError(f"{what} `{thing.name}` is defined twice (first at line "
                               f"{first.line})", thing.span, "rename one of them")
        seen[thing.name] = thing


# --- parse errors to CnnSyntaxError -----------------------------------------------------

_TOKEN_WORDS = {
    "_NL": "the end of the line", "$END": "the end of the file", "_BLOCK_END": "the block's end",
    "LANGLE": "`<`", "RANGLE": "`>`", "VBAR": "`|`", "RPAR": "`)`", "LPAR": "`(`",
    "CALL_OPEN": "`(`", "RSQB": "`]`", "LSQB": "`[`", "COMMA": "`,`", "COLON": "`:`",
    "NAME": "a name", "NUMBER": "a number", "SIZE": "a size", "STRING": "a string",
    "LABEL": "a label", "KWNAME": "an option `name=`", "COMPACT": "an option like `k3`",
    "REPEAT_LIT": "a repeat like `x3`", "REF": "a reference `@label`", "LT": "`<`", "GT": "`>`",
    "ASSERT": "`assert`", "IF": "`if`", "ELSE": "`else`", "CMP": "a comparison",
    "QLABEL": "a label", "DEFAULT": "`default`", "OUTPUT": "`output`", "INIT": "`init`",
    "BLOCK": "`block`", "STAR": "`*`", "SLASH": "`/`",
    "PLUS": "`+`", "MINUS": "`-`",
}


def _describe(tok: Token | None) -> str:
    """What `unexpected ...` names: `end of the line`, or the token's text."""
    if tok is None or tok.type == "$END":
        return "end of the file"
    if tok.type in ("_NL", "_BLOCK_END"):
        return "end of the line"
    return f"`{tok.value}`"


def _character_error(source: Source, offset: int) -> CnnError:
    """No terminal matches at `offset`."""
    ch = source.text[offset] if offset < len(source.text) else ""
    line_rest = source.text[offset:].split("\n", 1)[0]
    word = line_rest.split(None, 1)[0] if line_rest.strip() else ch
    hint = _character_hint(ch, word)
    shown = word if word.isprintable() else ascii(word)[1:-1]
    return CnnSyntaxError(f"unexpected `{shown}`", source.span(offset, offset + len(word)), hint)


def _token_error(source: Source, tok: Token | None, expected) -> CnnError:
    """`tok` cannot come next; `expected` are the terminals that could."""
    if tok is None or tok.type == "$END":
        end = len(source.text)
        return CnnSyntaxError("the file ends in the middle of a statement",
                              source.span(max(0, end - 1), end))
    start = tok.start_pos if tok.start_pos is not None else len(source.text)
    end = tok.end_pos if tok.end_pos is not None else start
    if tok.type in ("_NL", "_BLOCK_END"):
        line = source.text.rfind("\n", 0, start) + 1
        start = end = len(source.text[:start].rstrip())
        start = max(line, start - 1)
        head = source.text[line:end].strip()
        if head.startswith("block") and head.endswith(":"):
            return _block_without_body(source, head, line, start)
    expected = sorted(expected)
    return CnnSyntaxError(f"unexpected {_describe(tok)}", source.span(start, max(end, start + 1)),
                          _token_hint(tok, expected))


def _block_without_body(source: Source, head: str, line: int, colon: int) -> CnnError:
    """`block b(c):` and then a line that is not indented: the body is missing, or was
    meant to be indented."""
    name = head[len("block"):].strip().rstrip(":").split("(", 1)[0].strip()
    after = source.text[colon + 1:].lstrip(" \t\f:\n")
    why = f": the lines after `{head}` are not indented under it" if after.strip() else ""
    return CnnSyntaxError(f"block `{name}` has no body{why}", source.span(colon, colon + 1),
                          "indent the body's lines deeper than `block`, or write the body "
                          "after the `:`")


def _character_hint(ch: str, word: str) -> str | None:
    if word.endswith(":") or ":" in word:
        return ("a label is an identifier followed by `:` (letters, digits and `_`, "
                "not starting with a digit)")
    if ch.isdigit():
        return "a name cannot start with a digit; sizes are written `3x224x224`"
    if ch == "{" or ch == "}":
        return "bodies are written in `< >`, e.g. `residual< conv k3 64 >`"
    if ch == "\t":
        return None
    if not ch.isprintable() or ord(ch) > 127:
        return "the spec contains a character the language does not use"
    return None


def _token_hint(tok: Token, expected: list[str]) -> str | None:
    if tok.type in ("_NL", "_BLOCK_END"):
        if "RPAR" in expected:
            return "close the `(`"
        if "RANGLE" in expected:
            return "close the body with `>`"
        return "the line ends too early"
    if tok.type == "KWNAME" and "KWNAME" not in expected:
        return "options follow a layer: `conv k3 s=2 64`"
    if tok.type == "RANGLE" or tok.type == "GT":
        return "a `>` closes a body opened with `<`"
    if tok.type == "VBAR":
        return "`|` separates branches inside `< >`"
    if tok.type == "REF":
        return "`@label` starts a branch: `concat< @skip | id >`"
    if tok.type == "LABEL":
        return "a label comes first on a line or branch: `stem: conv k3 64`"
    if tok.type == "ELSE":
        return ("`a if c else b` stands alone as a call argument, a block parameter's "
                "default or a `param`'s value, not inside parentheses; a layer option takes "
                "it through a block parameter, a nested choice through a second `param`")
    words = [_TOKEN_WORDS[e] for e in expected if e in _TOKEN_WORDS]
    if 0 < len(words) <= 4:
        return "expected " + " or ".join(words)
    return None
