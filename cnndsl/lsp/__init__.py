"""`cnndsl lsp`: the language server (pygls, over stdio). See docs/editor.md.

A client of the public API: each analysis is `cnndsl.parse` and `cnndsl.build` on the text
of the open document; the features read the spans, the AST and the annotated network.
One module per LSP feature; `server.py` wires them to the protocol and schedules analyses.
"""
