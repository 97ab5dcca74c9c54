"""Code actions: the fixes that diagnostics carry ("did you mean `conv`?" replaces the
misspelt name)."""
from __future__ import annotations

from lsprotocol import types as lsp


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
    def code_actions(ls, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        actions = []
        for diag in params.context.diagnostics:
            data = diag.data if isinstance(diag.data, dict) else None
            if not data or "replacement" not in data:
                continue
            new = data["replacement"]
            actions.append(lsp.CodeAction(
                title=f"Replace with `{new}`", kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[diag], is_preferred=True,
                edit=lsp.WorkspaceEdit(changes={uri: [lsp.TextEdit(range=diag.range,
                                                                   new_text=new)]})))
        return actions
