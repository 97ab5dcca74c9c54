"""Completion: layer names with their docs, the options of the layer at the cursor, block
names with their signatures, params in scope, labels after `@`, and files in `use "`."""
from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as lsp

from ..ops import layer_names, lookup
from ..syntax.tokens import code_tokens
from .index import signature

COMPOSITES = ("residual", "inception", "concat", "add", "gate", "dense", "aux")
STATEMENTS = ("network", "input", "param", "use", "block", "assert")
MAX_FILES = 200
_USE = re.compile(r'^\s*use\s+"([^"]*)$')
_REF = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)?$")


def register(server) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                    lsp.CompletionOptions(trigger_characters=["@", '"', "/", " "]))
    def completion(ls, params: lsp.CompletionParams) -> lsp.CompletionList:
        return lsp.CompletionList(is_incomplete=False,
                                  items=complete(ls, params.text_document.uri, params.position))


def complete(ls, uri: str, position: lsp.Position) -> list[lsp.CompletionItem]:
    lines = ls.lines(uri)
    offset = lines.offset(position)
    before = lines.line_text(position.line)[:offset - lines.starts[position.line]]
    if (use := _USE.match(before)) is not None:
        return _files(ls.document(uri).path, use.group(1))
    # The names in scope, from the index (the last one, in a large document being typed
    # into: the line being typed is new, so look from the line above; see `index_near`).
    above = lines.starts[position.line] - 1 if position.line else 0
    _, index, where = ls.index_near(uri, max(0, above))
    scope = next((s for s in index.scopes if s[0] <= where <= s[1]), None)
    if _REF.search(before):
        names = {o.name for o in index.occurrences
                 if o.kind == "label" and o.definition and o.scope == scope}
        return [lsp.CompletionItem(label=n, kind=lsp.CompletionItemKind.Reference)
                for n in sorted(names)]
    items = _options(before, index)
    items += [_layer_item(name) for name in layer_names()]
    items += [lsp.CompletionItem(label=name, kind=lsp.CompletionItemKind.Keyword,
                                 insert_text=f"{name}< ", detail=f"{name}< ... >")
              for name in COMPOSITES]
    items += _blocks(ls, uri, index)
    items += [lsp.CompletionItem(label=name, kind=lsp.CompletionItemKind.Variable,
                                 detail="the input's channels" if name == "in" else
                                 "block parameter" if s else "param")
              for name, s in _params(index, scope)]
    if not before.strip():
        items += [lsp.CompletionItem(label=k, kind=lsp.CompletionItemKind.Keyword)
                  for k in STATEMENTS]
    return items


def _layer_item(name: str) -> lsp.CompletionItem:
    spec = lookup(name)
    options = " ".join(o.compact + "…" if o.compact else f"{o.name}=" for o in spec.options)
    doc = spec.doc + (f"\n\noptions: {options}" if options else "")
    return lsp.CompletionItem(label=name, kind=lsp.CompletionItemKind.Class,
                              detail=f"layer ({spec.family})",
                              documentation=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown,
                                                              value=doc))


def _options(before: str, index) -> list[lsp.CompletionItem]:
    """The options of the layer the cursor is in: the last layer name before it on its
    line, with no block call in between."""
    layer = None
    words = code_tokens(before)
    for tok, nxt in zip(words, words[1:] + [None]):
        if tok.type != "NAME":
            continue
        if lookup(tok.value) is not None:
            layer = tok.value
        elif tok.value in index.blocks or tok.value in index.local_blocks \
                or (nxt is not None and nxt.type == "CALL_OPEN"):
            layer = None
    spec = lookup(layer) if layer is not None else None
    if spec is None:
        return []
    items = []
    for option in spec.options:
        label = option.compact if option.compact else f"{option.name}="
        items.append(lsp.CompletionItem(
            label=label, kind=lsp.CompletionItemKind.Property, sort_text=f"0{label}",
            detail=f"{spec.name} option `{option.name}`",
            documentation=option.doc or None))
    for flag in spec.flags:
        items.append(lsp.CompletionItem(label=flag, kind=lsp.CompletionItemKind.EnumMember,
                                        sort_text=f"0{flag}", detail=f"{spec.name} flag"))
    return items


def _blocks(ls, uri: str, index) -> list[lsp.CompletionItem]:
    signatures = {name: signature(block) for name, (block, _) in index.blocks.items()}
    doc = ls.document(uri)
    if doc.parsed is not None and doc.parsed.spec is not None:
        signatures.update({b.name: signature(b) for b in doc.parsed.spec.blocks})
    for name in index.local_blocks:
        signatures.setdefault(name, f"block {name}")
    return [lsp.CompletionItem(label=name, kind=lsp.CompletionItemKind.Function,
                               detail=sig, sort_text=f"1{name}")
            for name, sig in sorted(signatures.items())]


def _params(index, scope) -> list[tuple[str, tuple | None]]:
    found = {}
    for occ in index.occurrences:
        if occ.kind == "param" and occ.definition and (occ.scope is None or occ.scope == scope):
            found.setdefault(occ.name, occ.scope)
    found.setdefault("in", scope)
    return sorted(found.items())


def _files(path: Path | None, typed: str) -> list[lsp.CompletionItem]:
    base = path.parent if path is not None else Path.cwd()
    found = []
    for candidate in sorted(base.rglob("*.cnn")):
        if path is not None and candidate.resolve() == path:
            continue
        rel = candidate.relative_to(base).as_posix()
        if rel.startswith(typed.rsplit("/", 1)[0] if "/" in typed else ""):
            found.append(lsp.CompletionItem(label=rel, kind=lsp.CompletionItemKind.File))
        if len(found) >= MAX_FILES:
            break
    return found
