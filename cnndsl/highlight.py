"""A Pygments lexer for .cnn specs, registered under the `pygments.lexers` entry point with
the alias `cnn`: Sphinx, mkdocs and `pygmentize -l cnn` highlight specs with it.

It follows grammars/cnn.lark's terminals (the same regular expressions where they matter:
labels, keyword options, compact options, sizes, numbers) and takes the layer names from
the ops table, so a layer registered from Python is highlighted too."""
from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

from .ops import layer_names

COMPOSITES = ("residual", "inception", "concat", "add", "gate", "dense", "aux")
FUNCTIONS = ("min", "max", "round", "ceil", "floor", "divisible")
METRICS = ("shape", "rf", "params", "macs", "flops", "channels")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_END = r"(?![A-Za-z0-9_])"


class CnnLexer(RegexLexer):
    name = "cnn"
    aliases = ["cnn", "cnndsl"]
    filenames = ["*.cnn"]
    mimetypes = ["text/x-cnn"]
    url = "https://github.com/cnndsl/cnndsl"

    tokens = {
        "root": [
            (r"[ \t\f]+", Whitespace),
            (r"\n", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"[^"\n]*"', String.Double),
            (rf"(block)([ \t]+)({_IDENT})", bygroups(Keyword.Declaration, Whitespace,
                                                     Name.Function)),
            (rf"(param)([ \t]+)({_IDENT})", bygroups(Keyword.Declaration, Whitespace,
                                                     Name.Variable)),
            (rf"(network)([ \t]+)({_IDENT})", bygroups(Keyword.Declaration, Whitespace,
                                                       Name.Class)),
            (words(("input", "use"), suffix=_END), Keyword.Declaration),
            (rf"(assert)([ \t]+)({_IDENT})", bygroups(Keyword, Whitespace, Name.Builtin)),
            (rf"{_IDENT}[ \t]*:(?!=)", Name.Label),
            (rf"@{_IDENT}", Name.Label),
            (rf"({_IDENT})([ \t]*)(=)(?!=)", bygroups(Name.Attribute, Whitespace, Operator)),
            (rf"(?:op|[kspdg])[0-9]+(?:x[0-9]+)?{_END}", Name.Attribute),
            (rf"x[0-9]+{_END}", Operator.Word),
            (rf"[0-9]+(?:x[0-9]+)+{_END}", Number.Integer),
            (rf"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?[KMGT]?{_END}", Number),
            (words(COMPOSITES, suffix=_END), Keyword.Type),
            (words(tuple(layer_names()), suffix=_END), Name.Builtin),
            (words(FUNCTIONS, suffix=r"(?=\()"), Name.Builtin.Pseudo),
            (r"in" + _END, Name.Builtin.Pseudo),
            (rf"{_IDENT}(?=\()", Name.Function),
            (_IDENT, Name),
            (r"==|!=|<=|>=|//|[-+*/<>|=]", Operator),
            (r"[()\[\],:]", Punctuation),
            (r".", Text),
        ],
    }
