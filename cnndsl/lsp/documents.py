"""Opening, changing and closing documents: each change schedules an analysis."""
from __future__ import annotations

from lsprotocol import types as lsp


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls, params: lsp.DidSaveTextDocumentParams) -> None:
        saved = ls.document(params.text_document.uri)
        ls.schedule(saved.uri)
        for doc in list(ls.documents.values()):  # the open specs that use the saved file
            if doc is not saved and doc.parsed is not None and saved.path in doc.parsed.used:
                ls.schedule(doc.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: lsp.DidCloseTextDocumentParams) -> None:
        doc = ls.documents.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=params.text_document.uri, diagnostics=[]))
        if doc is not None:
            doc.dirty = False
            doc.closed = True

    register_stats(server)


STATS_COMMAND = "cnndsl.analysisStats"


def register_stats(server) -> None:
    @server.command(STATS_COMMAND)
    def analysis_stats(ls, *args) -> dict:
        """How many analyses ran per document, and the last one's version and seconds (for
        the tests and the benchmark: debouncing must leave no pile-up)."""
        return {uri: {"analyses": doc.analyses,
                      "version": doc.latest.version if doc.latest else None,
                      "seconds": doc.latest.seconds if doc.latest else None,
                      "running": doc.running}
                for uri, doc in ls.documents.items()}
