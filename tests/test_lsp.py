"""`cnndsl lsp` end to end: a client talks to the server over stdio, as an editor does."""
from __future__ import annotations

import asyncio
import os
import sys

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types as lsp  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

import cnndsl  # noqa: E402

from .conftest import ROOT  # noqa: E402

LIB = """\
# blocks for the tests
block cbr(c, s=1): conv k3 s=s p1 c bn relu

block stage(c, n=2):
    cbr(c, s=2) cbr(c) * (n-1)
"""

MAIN = """\
network Small
input 3x32x32
use "lib.cnn"
param width = 16

stem:   conv k3 p1 width bn relu
        stage(32)
skip:   cbr(32)
        concat< @skip | id >
        gap flatten fc 10
"""

ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    base = tmp_path_factory.mktemp("specs")
    (base / "lib.cnn").write_text(LIB)
    (base / "main.cnn").write_text(MAIN)
    (base / "sub").mkdir()
    (base / "sub" / "more.cnn").write_text("block one: relu\n")
    return base


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "cnndsl", "lsp"], server_env=ENV))
async def client(lsp_client: LanguageClient, folder):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=folder.as_uri()))
    yield
    await lsp_client.shutdown_session()


# --- helpers ----------------------------------------------------------------------------

_versions: dict[str, int] = {}


async def published(client, uri: str, timeout: float = 30.0) -> list[lsp.Diagnostic]:
    """The diagnostics published for `uri` after the last change."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while uri not in client.diagnostics:
        assert loop.time() < deadline, f"no diagnostics for {uri}"
        await asyncio.sleep(0.02)
    return list(client.diagnostics[uri])


async def open_doc(client, path, text: str) -> str:
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    _versions[uri] = 1
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="cnn", version=1, text=text)))
    await published(client, uri)
    return uri


async def change(client, uri: str, text: str, wait: bool = True) -> None:
    _versions[uri] += 1
    client.diagnostics.pop(uri, None)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=_versions[uri]),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
    if wait:
        await published(client, uri)


def at(text: str, needle: str, skip: int = 0, nth: int = 0) -> lsp.Position:
    """The position of the `nth` occurrence of `needle` (plus `skip` characters)."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += skip
    line = text.count("\n", 0, offset)
    return lsp.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


def doc_id(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


async def hover_text(client, uri: str, position: lsp.Position) -> str:
    result = await client.text_document_hover_async(lsp.HoverParams(
        text_document=doc_id(uri), position=position))
    return result.contents.value if result is not None else ""


# --- diagnostics and code actions -------------------------------------------------------

@pytest.mark.asyncio(loop_scope="module")
async def test_a_good_spec_has_no_diagnostics(client, folder):
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    assert await published(client, uri) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_errors_are_located_with_hint_and_fix(client, folder):
    text = "input 3x32x32\nconv k3 p1 8 relu\nconvv k3 8\n"
    uri = await open_doc(client, folder / "typo.cnn", text)
    diags = await published(client, uri)
    assert len(diags) == 1
    diag = diags[0]
    assert diag.severity == lsp.DiagnosticSeverity.Error
    assert diag.range.start == lsp.Position(line=2, character=0)
    assert "convv" in diag.message and "did you mean `conv`" in diag.message
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=doc_id(uri), range=diag.range,
        context=lsp.CodeActionContext(diagnostics=[diag])))
    assert len(actions) == 1
    edit = actions[0].edit.changes[uri][0]
    assert actions[0].title == "Replace with `conv`"
    assert edit.new_text == "conv" and edit.range == diag.range


@pytest.mark.asyncio(loop_scope="module")
async def test_warnings_are_published(client, folder):
    text = "input 3x32x32\ninception< conv k2 s2 8 | conv k3 s2 p1 8 >\n"
    uri = await open_doc(client, folder / "warn.cnn", text)
    diags = await published(client, uri)
    assert [d.severity for d in diags] == [lsp.DiagnosticSeverity.Warning]
    assert "not aligned" in diags[0].message and diags[0].range.start.line == 1


@pytest.mark.asyncio(loop_scope="module")
async def test_error_in_a_used_file_is_reported_there_and_at_the_use(client, folder):
    (folder / "broken.cnn").write_text("block bad(c): conv k3 c\n  relu )\n")
    text = 'input 3x32x32\nuse "broken.cnn"\nconv k3 8\n'
    uri = await open_doc(client, folder / "uses_broken.cnn", text)
    diags = await published(client, uri)
    assert len(diags) == 1 and diags[0].range.start.line == 1
    assert "broken.cnn:2" in diags[0].message
    there = await published(client, (folder / "broken.cnn").as_uri())
    assert there and there[0].range.start.line == 1


@pytest.mark.asyncio(loop_scope="module")
async def test_diagnostics_follow_changes(client, folder):
    path = folder / "edit.cnn"
    uri = await open_doc(client, path, "input 3x32x32\nconv k3 8\n")
    assert await published(client, uri) == []
    await change(client, uri, "input 3x32x32\nconv k3 8 fc 10\n")
    diags = await published(client, uri)
    assert diags and "flat" in diags[0].message and diags[0].range.start.line == 1
    await change(client, uri, "input 3x32x32\nconv k3 8 flatten fc 10\n")
    assert await published(client, uri) == []


# --- hover ------------------------------------------------------------------------------

@pytest.mark.asyncio(loop_scope="module")
async def test_hover_on_a_layer_gives_shape_counts_and_rf(client, folder):
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    text = await hover_text(client, uri, at(MAIN, "conv k3 p1 width"))
    net = cnndsl.build(folder / "main.cnn")
    conv = net.node(net.by_name("stem.conv1"))["meta"]
    assert "`conv k3 p1 16 nobias`" in text and "16x32x32" in text
    assert f"params {conv['params']:,}" in text and "rf 3" in text


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_on_a_block_call_gives_signature_and_totals(client, folder):
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    text = await hover_text(client, uri, at(MAIN, "stage(32)", skip=2))
    net = cnndsl.build(folder / "main.cnn")
    nodes = [n for n in net.layers() if net.node(n)["name"].startswith("stage.")
             or net.node(n)["name"].startswith("0.")]
    assert "block stage(c, n=2)" in text
    params = sum(net.node(n)["meta"]["params"] for n in net.layers()
                 if any(s.block == "stage" for s in net.node(n)["scope"]))
    assert f"params {params:,}" in text and "32x16x16" in text
    assert nodes or params


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_on_labels_and_refs(client, folder):
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    label = await hover_text(client, uri, at(MAIN, "skip:"))
    ref = await hover_text(client, uri, at(MAIN, "@skip", skip=2))
    assert "label `skip`" in label and "32x16x16" in label
    assert "`@skip`" in ref and "defined at line 8" in ref and "32x16x16" in ref


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_on_a_param_and_an_option(client, folder):
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    assert "= 16" in await hover_text(client, uri, at(MAIN, "width bn"))
    assert "kernel size" in await hover_text(client, uri, at(MAIN, "k3 p1 width"))
    assert "`cbr`, `stage`" in await hover_text(client, uri, at(MAIN, "lib.cnn"))


@pytest.mark.asyncio(loop_scope="module")
async def test_hover_stays_with_the_last_good_analysis_marked_stale(client, folder):
    path = folder / "stale.cnn"
    good = "input 3x32x32\nconv k3 p1 8 relu\nconv k3 p1 16 relu\n"
    uri = await open_doc(client, path, good)
    broken = "input 3x32x32\nconv k3 p1 8 relu\nconv k3 p1 16 relu\nresidual< conv k3 \n"
    await change(client, uri, broken)
    assert await published(client, uri)  # the error is reported
    text = await hover_text(client, uri, at(broken, "conv k3 p1 16"))
    assert "8x32x32" not in text and "16x32x32" in text and "stale" in text


# --- inlay hints --------------------------------------------------------------------------

@pytest.mark.asyncio(loop_scope="module")
async def test_inlay_hints_show_the_output_shape_of_each_line(client, folder):
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    hints = await client.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=doc_id(uri), range=lsp.Range(start=lsp.Position(line=0, character=0),
                                                    end=lsp.Position(line=20, character=0))))
    by_line = {h.position.line: h.label for h in hints}
    lines = MAIN.splitlines()
    assert "16x32x32" in by_line[5] and "32x16x16" in by_line[6] and "10" in by_line[9]
    assert hints[0].position.character == len(lines[hints[0].position.line].rstrip())
    lib_uri = await open_doc(client, folder / "lib.cnn", LIB)
    assert not await client.text_document_inlay_hint_async(lsp.InlayHintParams(
        text_document=doc_id(lib_uri), range=lsp.Range(
            start=lsp.Position(line=0, character=0), end=lsp.Position(line=9, character=0))))
    # (a library builds no network)


# --- completion ---------------------------------------------------------------------------

async def complete(client, uri, position) -> dict[str, lsp.CompletionItem]:
    result = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=doc_id(uri), position=position))
    items = result.items if isinstance(result, lsp.CompletionList) else result
    return {item.label: item for item in items}


@pytest.mark.asyncio(loop_scope="module")
async def test_completion_of_layers_options_blocks_and_params(client, folder):
    text = MAIN + "        conv k3 \n"
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    await change(client, uri, text)
    items = await complete(client, uri, lsp.Position(line=10, character=16))
    assert items["conv"].kind == lsp.CompletionItemKind.Class
    assert "convolution" in items["conv"].documentation.value.lower()
    assert {"s", "p", "d", "g", "bias=", "nobias"} <= set(items)  # the conv's options
    assert items["stage"].detail == "block stage(c, n=2)"  # from the used file
    assert items["width"].kind == lsp.CompletionItemKind.Variable
    await change(client, uri, MAIN)


@pytest.mark.asyncio(loop_scope="module")
async def test_completion_of_labels_after_at_and_files_in_use(client, folder):
    text = MAIN + "        concat< @\nuse \"\n"
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    await change(client, uri, text)
    labels = await complete(client, uri, lsp.Position(line=10, character=17))
    assert set(labels) == {"stem", "skip"}
    files = await complete(client, uri, lsp.Position(line=11, character=5))
    assert {"lib.cnn", "sub/more.cnn"} <= set(files) and "main.cnn" not in files
    await change(client, uri, MAIN)


# --- navigation ---------------------------------------------------------------------------

async def definition(client, uri, position) -> lsp.Location:
    result = await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=doc_id(uri), position=position))
    return result[0] if isinstance(result, list) else result


@pytest.mark.asyncio(loop_scope="module")
async def test_go_to_definition(client, folder):
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    block = await definition(client, uri, at(MAIN, "stage(32)"))
    assert block.uri == (folder / "lib.cnn").as_uri()
    assert block.range.start == at(LIB, "stage(c")
    label = await definition(client, uri, at(MAIN, "@skip", skip=1))
    assert label.uri == uri and label.range.start == at(MAIN, "skip:")
    param = await definition(client, uri, at(MAIN, "width bn"))
    assert param.range.start == at(MAIN, "width =")
    used = await definition(client, uri, at(MAIN, "lib.cnn"))
    assert used.uri == (folder / "lib.cnn").as_uri()
    lib_uri = await open_doc(client, folder / "lib.cnn", LIB)
    block_param = await definition(client, lib_uri, at(LIB, "s=s", skip=2))
    assert block_param.range.start == at(LIB, "s=1")
    local = await definition(client, lib_uri, at(LIB, "cbr(c, s=2)"))
    assert local.uri == lib_uri and local.range.start == at(LIB, "cbr(c, s=1)")


@pytest.mark.asyncio(loop_scope="module")
async def test_references_and_symbols(client, folder):
    lib_uri = await open_doc(client, folder / "lib.cnn", LIB)
    refs = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=doc_id(lib_uri), position=at(LIB, "cbr(c)"),
        context=lsp.ReferenceContext(include_declaration=True)))
    assert sorted(r.range.start.line for r in refs) == [1, 4, 4]
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        text_document=doc_id(uri)))
    assert [(s.name, s.kind) for s in symbols] == [
        ("Small", lsp.SymbolKind.Module), ("width", lsp.SymbolKind.Variable),
        ("stem", lsp.SymbolKind.Field), ("skip", lsp.SymbolKind.Field)]
    lib_symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        text_document=doc_id(lib_uri)))
    assert [s.name for s in lib_symbols] == ["cbr", "stage"]
    assert [c.name for c in lib_symbols[1].children] == ["c", "n"]


@pytest.mark.asyncio(loop_scope="module")
async def test_rename_a_label_and_a_block(client, folder):
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    edit = await client.text_document_rename_async(lsp.RenameParams(
        text_document=doc_id(uri), position=at(MAIN, "@skip", skip=1), new_name="shortcut"))
    assert sorted(e.range.start.line for e in edit.changes[uri]) == [7, 8]
    assert all(e.new_text == "shortcut" for e in edit.changes[uri])
    edit = await client.text_document_rename_async(lsp.RenameParams(
        text_document=doc_id(uri), position=at(MAIN, "cbr(32)"), new_name="unit"))
    assert [e.range.start for e in edit.changes[uri]] == [at(MAIN, "cbr(32)")]
    assert [e.range.start for e in edit.changes[(folder / "lib.cnn").as_uri()]] == \
        [at(LIB, "cbr(c, s=1)")]
    with pytest.raises(Exception, match="look like an option"):
        await client.text_document_rename_async(lsp.RenameParams(
            text_document=doc_id(uri), position=at(MAIN, "skip:"), new_name="k3"))


# --- formatting and semantic tokens -------------------------------------------------------

@pytest.mark.asyncio(loop_scope="module")
async def test_formatting_is_cnndsl_fmt(client, folder):
    messy = "input  3x32x32\nstem:conv k3  p1 8   # the stem\n   relu\n"
    uri = await open_doc(client, folder / "messy.cnn", messy)
    edits = await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=doc_id(uri), options=lsp.FormattingOptions(tab_size=4,
                                                                  insert_spaces=True)))
    assert len(edits) == 1 and edits[0].new_text == cnndsl.format(messy)
    await change(client, uri, "input 3x32x32\nconv k3 (\n")
    assert not await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=doc_id(uri), options=lsp.FormattingOptions(tab_size=4,
                                                                  insert_spaces=True)))


@pytest.mark.asyncio(loop_scope="module")
async def test_semantic_tokens(client, folder):
    uri = await open_doc(client, folder / "main.cnn", MAIN)
    result = await client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(
        text_document=doc_id(uri)))
    from cnndsl.lsp.semantic_tokens import TYPES

    data = result.data
    decoded, line, col = [], 0, 0
    for i in range(0, len(data), 5):
        line += data[i]
        col = data[i + 1] if data[i] else col + data[i + 1]
        decoded.append((line, col, data[i + 2], TYPES[data[i + 3]]))
    kinds = {(ln, c): kind for ln, c, _, kind in decoded}
    assert kinds[(0, 0)] == "keyword"                # network
    assert kinds[(5, 0)] == "label"                  # stem:
    assert kinds[(5, 8)] == "class"                  # conv
    assert kinds[(5, 13)] == "property"              # k3
    assert kinds[(5, 19)] == "variable"              # width
    assert kinds[(6, 8)] == "function"               # stage
    assert kinds[(8, 17)] == "label"                 # skip in @skip


# --- robustness ---------------------------------------------------------------------------

@pytest.mark.asyncio(loop_scope="module")
async def test_half_typed_specs_never_break_the_server(client, folder):
    typed = "extra:  residual< conv k3 p1 32 bn | conv k1 32 > relu\n"
    at_line = MAIN.index("        gap")
    final = MAIN[:at_line] + typed + MAIN[at_line:]
    uri = await open_doc(client, folder / "typing.cnn", MAIN)
    for end in range(0, len(typed) + 1, 3):
        await change(client, uri, MAIN[:at_line] + typed[:end] + MAIN[at_line:], wait=False)
        position = at(MAIN, "stage(32)")
        await hover_text(client, uri, position)
        await complete(client, uri, lsp.Position(line=MAIN[:at_line].count("\n"),
                                                 character=end))
        await client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(
            text_document=doc_id(uri)))
    await change(client, uri, final)
    assert await published(client, uri) == []
    for junk in ("\x00\x01", "block", "residual< |", "@", "(((", "use \"", "k3:", "\t\t>"):
        await change(client, uri, MAIN + junk)
        await hover_text(client, uri, at(MAIN, "stage(32)"))
        await complete(client, uri, lsp.Position(line=10, character=len(junk)))
    assert "32x16x16" in await hover_text(client, uri, at(MAIN, "stage(32)", skip=1))


@pytest.mark.asyncio(loop_scope="module")
async def test_a_burst_of_changes_is_analysed_without_pile_up(client, folder):
    uri = await open_doc(client, folder / "burst.cnn", MAIN)
    before = (await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="cnndsl.analysisStats")))[uri]["analyses"]
    for i in range(40):
        await change(client, uri, MAIN.replace("fc 10", f"fc {i + 1}"), wait=False)
    diags = await published(client, uri)
    await asyncio.sleep(0.3)
    stats = (await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="cnndsl.analysisStats")))[uri]
    # How many analyses a burst causes depends on how fast the client sends (a slow machine
    # may analyse every version): the coalescing itself is tested without timing below.
    assert diags == [] and stats["version"] == _versions[uri]
    assert 1 <= stats["analyses"] - before <= 40


def test_changes_during_an_analysis_coalesce_into_one_more():
    """While an analysis runs, 40 changes only mark the document dirty; when it ends the
    newest text is analysed once (the scheduler with a held analysis: no timing)."""
    import threading

    from cnndsl.lsp import server as server_module
    from cnndsl.lsp.analysis import Analysis
    from cnndsl.lsp.convert import LineMap

    started, release, analysed = threading.Event(), threading.Event(), []

    def held_analysis(uri, text, version, path):
        started.set()
        release.wait(10)
        analysed.append(version)
        return Analysis(uri, path, version, text, LineMap(text))

    server = server_module.CnnLanguageServer()
    current = {"version": 1}
    server.text = lambda uri: ("network N", current["version"])
    server._publish = lambda doc, result: None
    saved, server_module._analyse_and_place = server_module._analyse_and_place, held_analysis

    async def burst():
        server.schedule("untitled:a")
        while not started.is_set():          # until the first analysis is held
            await asyncio.sleep(0.01)
        for version in range(2, 42):
            current["version"] = version
            server.schedule("untitled:a")
        release.set()
        while server.document("untitled:a").running:
            await asyncio.sleep(0.01)

    try:
        asyncio.run(asyncio.wait_for(burst(), 20))
    finally:
        server_module._analyse_and_place = saved
        server.executor.shutdown()
    assert analysed == [1, 41]
    assert server.document("untitled:a").analyses == 2


# --- the command and the benchmark harness ------------------------------------------------

def test_the_lsp_command_is_registered():
    from cnndsl.cli import make_parser

    args = make_parser().parse_args(["lsp", "--stdio"])
    assert args.command == "lsp"


def test_the_latency_benchmark_runs(tmp_path):
    # No timing is asserted (targets belong to the benchmark): this keeps it from rotting.
    import json
    import subprocess

    out = tmp_path / "lsp.json"
    done = subprocess.run([sys.executable, "-m", "bench.lsp_latency", "--edits", "2",
                           "--hovers", "2", "--layers", "40", "--keystrokes", "3",
                           "--json", str(out)], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["resnet152"]["diagnostics"]["n"] == 2
    assert "block stage" in data["resnet152"]["hover_call_text"]
    assert data["big_file"]["analyses_during_typing"] >= 1
    assert "change -> diagnostics" in done.stdout


@pytest.mark.asyncio(loop_scope="module")
async def test_saving_a_used_file_reanalyses_the_specs_that_use_it(client, folder):
    (folder / "parts.cnn").write_text("block part: conv k3 p1 8 relu\n")
    text = 'input 3x32x32\nuse "parts.cnn"\npart flatten fc 10\n'
    uri = await open_doc(client, folder / "uses_parts.cnn", text)
    assert await published(client, uri) == []
    parts = folder / "parts.cnn"
    parts_uri = await open_doc(client, parts, "block part: conv k3 p1 8 relu\n")
    broken = "block part: conv k3 p1 8 fc 10 relu\n"
    parts.write_text(broken)
    client.diagnostics.pop(uri, None)
    await change(client, parts_uri, broken, wait=False)
    client.text_document_did_save(lsp.DidSaveTextDocumentParams(text_document=doc_id(parts_uri)))
    diags = await published(client, uri)
    assert diags and diags[0].range.start.line == 1 and "parts.cnn" in diags[0].message
