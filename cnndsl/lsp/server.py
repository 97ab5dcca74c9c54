"""The language server: documents, scheduled analyses and the features' registration.

# NOTE: scheduling analyses
# An analysis (parse + build) takes ~0.1 s on ResNet-152 and seconds on a 10,000-layer
# spec, so it runs on a worker thread and the protocol keeps answering meanwhile. Each
# document has at most one analysis running: a change that arrives while one runs only
# marks the document dirty, and when the running analysis ends the newest text is analysed
# next (the versions in between are never analysed: no pile-up). A short debounce, scaled
# to how long the document's last analysis took, lets a burst of keystrokes coalesce first.
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
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .analysis import Analysis, analyse, used_specs
from .convert import LineMap
from .diagnostics import publishable
from .index import Index, build_index

DEBOUNCE_MIN_S = 0.005
DEBOUNCE_MAX_S = 0.25
NEARBY_LINES = 200  # how far a line is looked for when a position is carried over

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
    _index: tuple[int | None, str, Index] | None = None

    def map_offset(self, text: str, offset: int, old: Analysis) -> int | None:
        """`offset` in `text` carried over to `old.text`: the same column of the same line,
        found near where it was (None if that line is gone)."""
        if old.text == text:
            return offset
        lines = LineMap(text)
        line = lines.line_of(offset)
        content = lines.line_text(line)
        column = offset - lines.starts[line]
        for distance in range(NEARBY_LINES):
            for candidate in {line - distance, line + distance}:
                if 0 <= candidate < len(old.lines.starts) \
                        and old.lines.line_text(candidate) == content:
                    return old.lines.starts[candidate] + column
        return None


class CnnLanguageServer(LanguageServer):
    def __init__(self) -> None:
        from .. import __name__ as package
        from ..cli import _version

        super().__init__(package, _version())
        self.documents: dict[str, Document] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnndsl-analysis")

    # --- documents --------------------------------------------------------------------
    def document(self, uri: str) -> Document:
        if uri not in self.documents:
            path = to_fs_path(uri) if uri.startswith("file:") else None
            self.documents[uri] = Document(uri, Path(path).resolve() if path else None)
        return self.documents[uri]

    def text(self, uri: str) -> tuple[str, int | None]:
        doc = self.workspace.get_text_document(uri)
        return doc.source, doc.version

    def index(self, uri: str) -> tuple[str, Index]:
        """The name index of the document's current text (cached per version)."""
        from ..syntax.tokens import code_tokens

        doc = self.document(uri)
        text, version = self.text(uri)
        if doc._index is not None and doc._index[1] == text:
            return text, doc._index[2]
        used = doc.parsed.used if doc.parsed is not None else {}
        if doc.parsed is None or doc.parsed.text != text:
            used = self._used_of(text, doc, used)
        index = build_index(code_tokens(text), used)
        doc._index = (version, text, index)
        return text, index

    def _used_of(self, text: str, doc: Document, fallback: dict) -> dict:
        from .. import api
        from ..errors import CnnError

        try:
            return used_specs(api.parse(text, doc.path))
        except CnnError:
            return fallback

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
                await asyncio.sleep(min(DEBOUNCE_MAX_S, max(DEBOUNCE_MIN_S, last / 4)))
                doc.dirty = False
                try:
                    text, version = self.text(doc.uri)
                except KeyError:
                    return  # closed meanwhile
                result = await loop.run_in_executor(self.executor, analyse, doc.uri, text,
                                                    version, doc.path)
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


def serve() -> None:
    """Run the server over stdio until the client ends it."""
    make_server().start_io()
