"""The language server's features on broken and half-typed specs: every request at every
position gets an answer (perhaps empty), never an exception. In process, for speed; the
end-to-end tests over stdio are in test_lsp.py."""
from __future__ import annotations

import pytest

pytest.importorskip("pygls")

from hypothesis import HealthCheck, given, settings
from lsprotocol import types as lsp
from pygls.workspace import Workspace

from cnndsl.lsp import completion, definition, hover, inlay_hints, semantic_tokens, symbols
from cnndsl.lsp.server import _analyse_and_place, make_server

from .fuzz_specs import mutated_spec

GOOD = ("network N\ninput 3x32x32\nparam w = 8\nblock b(c, s=1): conv k3 s=s p1 c bn relu\n"
        "stem: conv k3 p1 w relu\n      b(16) b(16, s=2)\nskip: b(16)\n"
        "concat< @skip | id > gap flatten fc 10\n")


_SERVER = []
MAX_PLACES = 40  # positions tried per text


def exercise(text: str, built_from: str = GOOD) -> None:
    if not _SERVER:
        _SERVER.append(make_server())
        _SERVER[0].protocol._workspace = Workspace(None)  # what `initialize` would make
    server = _SERVER[0]
    uri = "file:///tmp/robust.cnn"
    server.documents.pop(uri, None)
    server.workspace.put_text_document(lsp.TextDocumentItem(uri=uri, language_id="cnn",
                                                            version=1, text=built_from))
    doc = server.document(uri)
    server._keep(doc, _analyse_and_place(uri, built_from, 1, doc.path))
    server.workspace.put_text_document(lsp.TextDocumentItem(uri=uri, language_id="cnn",
                                                            version=2, text=text))
    server._keep(doc, _analyse_and_place(uri, text, 2, doc.path))
    lines = text.split("\n")
    places = [lsp.Position(line=line, character=column) for line, content in enumerate(lines)
              for column in range(0, len(content) + 1, 3)]
    for where in places[::max(1, len(places) // MAX_PLACES)]:
        hover.hover_at(server, uri, where)
        completion.complete(server, uri, where)
        definition.locate(server, uri, where)
    everything = lsp.Range(start=lsp.Position(line=0, character=0),
                           end=lsp.Position(line=len(lines), character=0))
    inlay_hints.hints(server, uri, everything)
    symbols.symbols(server, uri)
    semantic_tokens.encode(server, uri)


def test_every_prefix_of_a_spec():
    for end in range(0, len(GOOD) + 1, 11):
        exercise(GOOD[:end])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated_spec())
def test_mutated_specs(text):
    exercise(text)
