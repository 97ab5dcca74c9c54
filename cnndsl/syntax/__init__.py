"""Source text to AST: the grammar, the layout post-lexer, the transformer and grouping."""
from .parser import parse
from .source import Source, Span

__all__ = ["Source", "Span", "parse"]
