"""The language server: documents, scheduled analyses and the features' registration.

# NOTE: scheduling analyses
# An analysis (parse + build) takes ~0.1 s on ResNet-152 and seconds on a 10,000-layer
# spec, so it runs on a worker thread and the protocol keeps answering meanwhile. Each
# document has at most one analysis running: a change that arrives while one runs only
# marks the document dirty, and when the running analysis ends the newest text is analysed
# next (the versions in between are never analysed: no pile-up). For a document whose
# analysis takes a quarter of a second or more, a debounce of a tenth of that (at most
# 0.25 s) lets a burst of keystrokes coalesce before it starts.
# Diagnostics are published only for the version they describe.
#
# NOTE: stale analyses
# Features that need the built network (hover, inlay hints) answer from the last analysis
# that built. When the text has changed since, a position is carried over to that text by
# finding its line there (see `Document.map_offset`) and the answer is marked stale.
# Features that need names only (completion, navigation, symbols, semantic tokens) read an
# index of the current text's tokens, which exists even for a text that does not parse.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .analysis import Analysis, analyse
from .convert import LineMap
from .diagnostics import publishable
from .index import Index, build_index, document_tokens

DEBOUNCE_MAX_S = 0.25
DEBOUNCE_SHARE = 0.1    # of the last analysis' time
DEBOUNCE_FROM_S = 0.25  # analyses quicker than this start at once
NEARBY_LINES = 200  # how far a line is looked for when a position is carried over
LARGE_TEXT = 20_000  # characters: above, a hover may use the last index (`index_near`)

log = logging.getLogger(__name__)


@dataclass
class Document:
    uri: str
    path: Path | None
    latest: Analysis | None = None       # the newest finished analysis
    built: Analysis | None = None        # the newest that built a network
    parsed: Analysis | None = None       # the newest that parsed
    running: bool = False
    closed: bool = False
    dirty: bool = False
    analyses: int = 0                    # how many ran (tests and the benchmark read it)
    published_elsewhere: set = field(default_factory=set)
    _index: tuple[str, LineMap, Index] | None = None
    _lines: LineMap | None = None

    def map_offset(self, text: str, offset: int, old: Analysis) -> int | None:
        """`offset` in `text` carried over to the text of the analysis `old`."""
        known = (self._lines, self._index[1] if self._index is not None else None)
        lines = next((m for m in known if m is not None and m.text == text), None)
        return carry_offset(text, offset, old.text, old.lines, lines)


def carry_offset(text: str, offset: int, old_text: str, old_lines: LineMap,
                 lines: LineMap | None = None) -> int | None:
    """`offset` in `text` carried over to `old_text`: the same column of the same line,
    found near where it was (None if that line is gone)."""
    if old_text == text:
        return offset
    lines = lines if lines is not None and lines.text == text else LineMap(text)
    line = lines.line_of(offset)
    content = lines.line_text(line)
    column = offset - lines.starts[line]
    for distance in range(NEARBY_LINES):
        for candidate in {line - distance, line + distance}:
            if 0 <= candidate < len(old_lines.starts) \
                    and old_lines.line_text(candidate) == content:
                return old_lines.starts[candidate] + column
    return None


class CnnLanguageServer(LanguageServer):
    def __init__(self) -> None:
        from .. import __name__ as package
        from ..cli import _version

        super().__init__(package, _version())
        self.documents: dict[str, Document] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnndsl-analysis")

    def feature(self, feature_name: str, options=None):
        """pygls' `feature`, with each handler guarded: a bug in a feature is logged and
        answered with nothing, never an error popup or a dead server."""
        register = super().feature(feature_name, options)

        def guard(handler):
            @functools.wraps(handler)
            def guarded(ls, *args):
                try:
                    return handler(ls, *args)
                except JsonRpcException:
                    raise  # meant for the client (a refused rename)
                except Exception:
                    log.exception("%s failed", feature_name)
                    return None
            return register(guarded)
        return guard

    # --- documents --------------------------------------------------------------------
    def document(self, uri: str) -> Document:
        if uri not in self.documents:
            path = to_fs_path(uri) if uri.startswith("file:") else None
            self.documents[uri] = Document(uri, Path(path).resolve() if path else None)
        return self.documents[uri]

    def text(self, uri: str) -> tuple[str, int | None]:
        doc = self.workspace.get_text_document(uri)
        return doc.source, doc.version

    def lines(self, uri: str) -> LineMap:
        """The line map of the document's current text (made once per text)."""
        doc = self.document(uri)
        text, _ = self.text(uri)
        if doc._lines is None or doc._lines.text != text:
            doc._lines = LineMap(text)
        return doc._lines

    def index(self, uri: str) -> tuple[str, Index]:
        """The name index of the document's current text (cached per version)."""
        doc = self.document(uri)
        text, version = self.text(uri)
        if doc._index is not None and doc._index[0] == text:
            return text, doc._index[2]
        # The used files of the last text that parsed: `use` lines change rarely, and the
        # next analysis brings them up to date.
        used = doc.parsed.used if doc.parsed is not None else {}
        index = build_index(document_tokens(text), used)
        doc._index = (text, LineMap(text), index)
        return text, index

    def index_near(self, uri: str, offset: int) -> tuple[str, Index, int]:
        """An index and where `offset` is in its text. Usually the current text's; but while
        a large document is being typed into, the last index, if the line at `offset` is
        unchanged in it (rebuilding it takes a fifth of a second on 10,000 layers, and a
        hover needs only the names on its own line)."""
        doc = self.document(uri)
        text, _ = self.text(uri)
        if doc._index is not None and doc._index[0] != text and len(text) > LARGE_TEXT:
            old_text, old_lines, index = doc._index
            moved = carry_offset(text, offset, old_text, old_lines, self.lines(uri))
            if moved is not None:
                return old_text, index, moved
        text, index = self.index(uri)
        return text, index, offset

    # --- analyses (see NOTE: scheduling analyses) ------------------------------------
    def schedule(self, uri: str) -> None:
        doc = self.document(uri)
        doc.dirty = True
        if not doc.running:
            doc.running = True
            asyncio.ensure_future(self._analyse_until_clean(doc))

    async def _analyse_until_clean(self, doc: Document) -> None:
        loop = asyncio.get_running_loop()
        try:
            while doc.dirty:
                last = doc.latest.seconds if doc.latest is not None else 0.0
                await asyncio.sleep(debounce(last))
                doc.dirty = False
                try:
                    text, version = self.text(doc.uri)
                except KeyError:
                    return  # closed meanwhile
                result = await loop.run_in_executor(self.executor, _analyse_and_place,
                                                    doc.uri, text, version, doc.path)
                doc.analyses += 1
                self._keep(doc, result)
                if not doc.dirty and not doc.closed:
                    self._publish(doc, result)
        except Exception:  # a bug in an analysis must not stop the server
            log.exception("analysis of %s failed", doc.uri)
        finally:
            doc.running = False

    def _keep(self, doc: Document, result: Analysis) -> None:
        doc.latest = result
        if result.spec is not None:
            doc.parsed = result
        if result.network is not None:
            doc.built = result

    def _publish(self, doc: Document, result: Analysis) -> None:
        own, elsewhere = publishable(result)
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=doc.uri, version=result.version, diagnostics=own))
        open_paths = {d.path for d in self.documents.values() if d.path is not None}
        targets = set()
        for path, diags in elsewhere.items():
            if path in open_paths:
                continue
            targets.add(path.as_uri())
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
                uri=path.as_uri(), diagnostics=diags))
        for uri in doc.published_elsewhere - targets:
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
                uri=uri, diagnostics=[]))
        doc.published_elsewhere = targets


def debounce(last_seconds: float) -> float:
    """How long to wait for more keystrokes before analysing (NOTE: scheduling analyses):
    nothing for a document that analyses quickly, else a tenth of its last analysis."""
    if last_seconds < DEBOUNCE_FROM_S:
        return 0.0
    return min(DEBOUNCE_MAX_S, last_seconds * DEBOUNCE_SHARE)


def _analyse_and_place(uri: str, text: str, version, path) -> Analysis:
    """An analysis with its layers placed by span and its lines' shapes (facts.py,
    inlay_hints.py), all on the analysis thread."""
    from .facts import places
    from .inlay_hints import shapes_by_line

    result = analyse(uri, text, version, path)
    if result.network is not None:
        places(result)
        shapes_by_line(result)
    return result


def make_server() -> CnnLanguageServer:
    from . import (
        actions,
        completion,
        definition,
        documents,
        formatting,
        hover,
        inlay_hints,
        references,
        rename,
        semantic_tokens,
        symbols,
    )

    server = CnnLanguageServer()
    for feature in (documents, hover, inlay_hints, completion, definition, references,
                    symbols, rename, actions, formatting, semantic_tokens):
        feature.register(server)
    return server


# The analysis thread holds the GIL for seconds on a large spec; a short switch interval
# lets the protocol thread answer a hover within a few milliseconds meanwhile.
SWITCH_INTERVAL_S = 0.001


def serve() -> None:
    """Run the server over stdio until the client ends it."""
    import sys

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    make_server().start_io()
