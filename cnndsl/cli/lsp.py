"""`cnndsl lsp`: the language server over stdio (needs the `lsp` extra: pygls)."""
from __future__ import annotations

from ..errors import CnnUsageError


def add_parser(sub, parent) -> None:
    p = sub.add_parser("lsp", help="run the language server (for editors)",
                       description="Run the .cnn language server over stdin/stdout, for "
                                   "editors (docs/editor.md). Needs `pip install cnndsl[lsp]`.")
    p.add_argument("--stdio", action="store_true",
                   help="talk over stdin/stdout (the default and only transport)")
    p.set_defaults(run=run)


def run(args) -> int:
    try:
        from ..lsp.server import serve
    except ImportError as exc:
        raise CnnUsageError(f"the language server needs pygls ({exc.name} is missing)",
                            hint="pip install 'cnndsl[lsp]'") from None
    serve()
    return 0
