"""`python -m bench.lsp_latency`: latency of `cnndsl lsp` as an editor sees it.

A client talks to the server over stdio (pygls' client, as VS Code's would) and measures:
- change -> published diagnostics on zoo_specs/resnet152.cnn (target: median <= 100 ms);
- hover on a layer and on a block call of the same spec (target: <= 20 ms);
- a 10,000-layer spec typed into at 50 characters a second: how many analyses ran (the
  debounce must leave no pile-up), hover latency while it types, and the time from the
  last keystroke to its diagnostics.
Writes docs/benchmarks_lsp.json (or --json) and prints a table. Targets are checked here,
never in the test suite.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

import cnndsl

from .synthetic import synthetic_spec

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"diagnostics_median_s": 0.100, "hover_median_s": 0.020}


class Client(LanguageClient):
    """Records when each version's diagnostics arrive."""

    def __init__(self) -> None:
        super().__init__("cnndsl-bench", "0")
        self.arrived: dict[tuple[str, int | None], float] = {}
        self.waiters: dict[tuple[str, int | None], asyncio.Future] = {}

        @self.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(ls, params: lsp.PublishDiagnosticsParams) -> None:
            key = (params.uri, params.version)
            ls.arrived[key] = time.perf_counter()
            waiter = ls.waiters.pop(key, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(ls.arrived[key])

    async def diagnostics(self, uri: str, version: int, timeout: float = 120.0) -> float:
        key = (uri, version)
        if key in self.arrived:
            return self.arrived[key]
        waiter = asyncio.get_running_loop().create_future()
        self.waiters[key] = waiter
        return await asyncio.wait_for(waiter, timeout)


async def start() -> Client:
    client = Client()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    await client.start_io(sys.executable, "-m", "cnndsl", "lsp", env=env)
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(),
                                                       root_uri=ROOT.as_uri()))
    client.initialized(lsp.InitializedParams())
    return client


def open_doc(client: Client, path: Path, text: str) -> str:
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=uri, language_id="cnn", version=1, text=text)))
    return uri


def change(client: Client, uri: str, version: int, text: str) -> float:
    sent = time.perf_counter()
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
    return sent


async def hover(client: Client, uri: str, text: str, needle: str) -> tuple[float, str]:
    offset = text.index(needle) + 1
    line = text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1)
    sent = time.perf_counter()
    result = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=line, character=column)))
    return time.perf_counter() - sent, result.contents.value if result else ""


def _stats(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median_s": statistics.median(ordered), "p90_s": ordered[int(0.9 * (len(ordered) - 1))],
            "min_s": ordered[0], "n": len(ordered)}


async def resnet152(client: Client, edits: int, hovers: int) -> dict:
    path = ROOT / "zoo_specs" / "resnet152.cnn"
    text = path.read_text(encoding="utf-8")
    uri = open_doc(client, path, text)
    await client.diagnostics(uri, 1)
    latencies = []
    for i in range(edits):
        edited = text.replace("fc: fc 1000", f"fc: fc {1000 + (i % 2)}")
        sent = change(client, uri, i + 2, edited)
        latencies.append(await client.diagnostics(uri, i + 2) - sent)
        await asyncio.sleep(0.05)
    builds = []  # the compiler alone, in this process, for comparison
    for _ in range(max(3, edits // 3)):
        started = time.perf_counter()
        cnndsl.build(path)
        builds.append(time.perf_counter() - started)
    layer = [(await hover(client, uri, text, "conv k7"))[0] for _ in range(hovers)]
    call = [(await hover(client, uri, text, "stage(256"))[0] for _ in range(hovers)]
    _, shown = await hover(client, uri, text, "stage(256")
    return {"diagnostics": _stats(latencies), "build_in_process": _stats(builds),
            "hover_layer": _stats(layer),
            "hover_call": _stats(call), "hover_call_text": shown}


async def big_file(client: Client, layers: int, keystrokes: int, interval: float) -> dict:
    path = ROOT / "big_synthetic.cnn"  # never written: the text lives in the editor only
    text = synthetic_spec(layers, "chain")
    uri = open_doc(client, path, text)
    opened = time.perf_counter()
    first = await client.diagnostics(uri, 1) - opened
    stats_before = await _analyses(client, uri)
    typed = "gap flatten fc 10\n"
    hovers = []
    sent = 0.0
    for i in range(keystrokes):
        sent = change(client, uri, i + 2, text + typed[:i % len(typed) + 1] + "\n")
        if i % 5 == 0:
            hovers.append((await hover(client, uri, text, "conv k3 p1"))[0])
        await asyncio.sleep(interval)
    final_version = keystrokes + 1
    last = await client.diagnostics(uri, final_version) - sent
    await asyncio.sleep(0.5)
    stats_after = await _analyses(client, uri)
    return {"layers": layers, "keystrokes": keystrokes, "interval_s": interval,
            "first_diagnostics_s": first, "last_keystroke_to_diagnostics_s": last,
            "analyses_during_typing": stats_after["analyses"] - stats_before["analyses"],
            "analysis_seconds": stats_after["seconds"], "hover_while_typing": _stats(hovers)}


async def _analyses(client: Client, uri: str) -> dict:
    stats = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command="cnndsl.analysisStats"))
    return stats[uri]


async def run(args) -> dict:
    client = await start()
    try:
        results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                               "platform": platform.platform(),
                               "load_average_before": os.getloadavg()},
                   "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "resnet152": await resnet152(client, args.edits, args.hovers)}
        if args.layers:
            results["big_file"] = await big_file(client, args.layers, args.keystrokes,
                                                 args.interval)
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
    results["machine"]["load_average_after"] = os.getloadavg()
    results["targets"] = {
        "diagnostics_median_s": TARGETS["diagnostics_median_s"],
        "diagnostics_met": results["resnet152"]["diagnostics"]["median_s"]
        <= TARGETS["diagnostics_median_s"],
        "hover_median_s": TARGETS["hover_median_s"],
        "hover_met": max(results["resnet152"]["hover_layer"]["median_s"],
                         results["resnet152"]["hover_call"]["median_s"])
        <= TARGETS["hover_median_s"]}
    return results


def report(results: dict) -> str:
    r = results["resnet152"]
    ms = lambda s: f"{1000 * s:.1f} ms"  # noqa: E731
    load = results["machine"]["load_average_before"][0]
    rows = [f"machine: {results['machine']['cpus']} CPUs, load average {load:.1f} at the start",
            f"change -> diagnostics, resnet152: median {ms(r['diagnostics']['median_s'])}, "
            f"p90 {ms(r['diagnostics']['p90_s'])} (n={r['diagnostics']['n']}; target "
            f"<= 100 ms: {'met' if results['targets']['diagnostics_met'] else 'NOT met'}); "
            f"cnndsl.build alone in the client's process: median "
            f"{ms(r['build_in_process']['median_s'])}",
            f"hover on a layer: median {ms(r['hover_layer']['median_s'])}, p90 "
            f"{ms(r['hover_layer']['p90_s'])}",
            f"hover on a block call: median {ms(r['hover_call']['median_s'])}, p90 "
            f"{ms(r['hover_call']['p90_s'])} (target <= 20 ms: "
            f"{'met' if results['targets']['hover_met'] else 'NOT met'})"]
    if "big_file" in results:
        b = results["big_file"]
        rows += [f"{b['layers']:,}-layer spec: first diagnostics {ms(b['first_diagnostics_s'])}; "
                 f"{b['keystrokes']} keystrokes at {b['interval_s'] * 1000:.0f} ms -> "
                 f"{b['analyses_during_typing']} analyses (one takes "
                 f"{ms(b['analysis_seconds'])}); last keystroke -> diagnostics "
                 f"{ms(b['last_keystroke_to_diagnostics_s'])}; hover while typing median "
                 f"{ms(b['hover_while_typing']['median_s'])}, p90 "
                 f"{ms(b['hover_while_typing']['p90_s'])}"]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.lsp_latency",
                                description=__doc__.split("\n")[0])
    p.add_argument("--edits", type=int, default=30, help="changes timed on resnet152")
    p.add_argument("--hovers", type=int, default=50, help="hovers timed of each kind")
    p.add_argument("--layers", type=int, default=10_000,
                   help="layers of the big spec (0: skip it)")
    p.add_argument("--keystrokes", type=int, default=50)
    p.add_argument("--interval", type=float, default=0.02, help="seconds between keystrokes")
    p.add_argument("--json", default=str(ROOT / "docs" / "benchmarks_lsp.json"))
    args = p.parse_args(argv)
    results = asyncio.run(run(args))
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
