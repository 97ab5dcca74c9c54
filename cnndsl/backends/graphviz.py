"""The diagram backend: an annotated network drawn as a graphviz `Digraph`.

`cnndsl.backends.diagram` decides what the boxes and clusters are (see its NOTE on
diagram grouping); this module gives them labels, colours and a legend, and writes them
as .dot, .svg, .png or .pdf through the `dot` binary.
"""
from __future__ import annotations

from html import escape
from pathlib import Path

import graphviz
import networkx as nx

from ..errors import CnnUsageError
from ..ir.graph import Network, Scope
from ..ir.names import is_default_call_name
from ..ops import lookup
from ..outputs import write_atomic
from .diagram import Box, Cluster, Diagram, ScopeNode, contents, is_light, is_merge, layout

FAMILY_COLOURS = {
    "conv": "#a6cee3", "pool": "#b2df8a", "norm": "#fff2ae", "activation": "#fdcdac",
    "tensor": "#decbe4", "lecun": "#fbb4ae", "merge": "#ffffff", "custom": "#e5e5e5",
}
FONT = "Helvetica"
INK = "#333333"
FAINT = "#666666"
MERGE_SYMBOLS = {"add": "+", "concat": "C", "mul": "×"}
FORMATS = ("dot", "svg", "png", "pdf")
CHAIN_LR_LIMIT = 8  # networks no longer than this many boxes read left to right
MAX_ROWS = 7
BRIEF_LAYERS = 3  # a collapsed sub-scope with more heavy layers is summarised by count


def render(network: Network, *, depth: int | None = None, rankdir: str | None = None,
           shapes: bool = True) -> graphviz.Digraph:
    """The architecture diagram of a built `Network` (`cnndsl.render` takes a spec too).

    depth: scope levels drawn as clusters (None: the deepest that stays readable; a large
    number: every layer). rankdir: "TB" or "LR" (None: chosen for the network's shape).
    shapes: label edges with tensor shapes.
    """
    if not isinstance(network, Network):
        raise CnnUsageError(f"expected a built Network, got {type(network).__name__}",
                            hint="cnndsl.render takes a spec's path or text too")
    if depth is not None and depth < 0:
        raise CnnUsageError(f"--depth must be 0 or more, got {depth}")
    if rankdir is not None and rankdir not in ("TB", "LR"):
        raise CnnUsageError(f"rankdir must be TB or LR, got {rankdir!r}")
    return _Drawing(layout(network, depth), shapes).draw(rankdir)


def save(diagram: graphviz.Digraph, path: str | Path) -> Path:
    """Write the diagram to `path`: .dot writes the source, .svg/.png/.pdf run `dot`."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise CnnUsageError(f"{path}: cannot tell the diagram format from the extension",
                            hint="use .svg, .png, .pdf or .dot")
    if fmt == "dot":
        return write_atomic(path, diagram.source)
    return write_atomic(path, pipe(diagram, fmt))


def pipe(diagram: graphviz.Digraph, fmt: str) -> bytes:
    """The diagram rendered by the `dot` binary."""
    try:
        return diagram.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise CnnUsageError("graphviz's `dot` program is not installed",
                            hint="install graphviz (`make setup`, or apt-get install "
                                 "graphviz), or write .dot and render it elsewhere") from None
    except graphviz.CalledProcessError as exc:
        stderr = (exc.stderr or b"").decode(errors="replace").strip()
        raise CnnUsageError(f"`dot` failed: {stderr or exc}") from None


# --- figures ---------------------------------------------------------------------------
def node_params(network, n: int) -> int:
    attrs = network.node(n)
    if "params" in attrs["meta"]:
        return attrs["meta"]["params"]
    spec = lookup(attrs["op"])
    ins = [network.node(i)["meta"]["shape"] for i in network.inputs(n)]
    return spec.params(attrs["opts"], ins, attrs["meta"]["shape"]) if ins else 0


def fmt_count(value: int) -> str:
    """Decimal units, three significant digits: 1.22M, 73.7k, 120."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return str(value)


def fmt_shape(shape) -> str:
    return "×".join(str(v) for v in shape)


def _pair(pair) -> str:
    return f"{pair[0]}" if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def describe(op: str, opts: dict) -> str:
    """A layer as a paper writes it: `conv 3×3/2, 128`, `maxpool 3×3/2`, `fc 1000`."""
    spec = lookup(op)
    k = _window(spec, opts)
    if k is not None:
        text = f"{op} {k[0]}×{k[1]}"
        windowed = spec.family != "conv"  # stride defaults to k
        if opts.get("s") not in (None, (1, 1)) and not (windowed and opts["s"] == k):
            text += f"/{_pair(opts['s'])}"
        if opts.get("d") not in (None, (1, 1)):
            text += f" d{_pair(opts['d'])}"
        if opts.get("dw"):
            text += " dw"
        elif opts.get("g", 1) != 1:
            text += f" g{opts['g']}"
        if opts.get("table") is not None:
            text += " table"
        if opts.get("c") is not None:
            text += f", {opts['c']}"
        return text
    value = opts.get(spec.positional) if spec is not None and spec.positional else None
    if op == "upsample":
        return f"upsample ×{value:g}" if opts.get("size") is None else \
            f"upsample to {_pair(opts['size'])}"
    if op == "chunk":
        return f"chunk {opts['i']}/{opts['n']}"
    if op in ("gap", "gmp") and tuple(value) != (1, 1):
        return f"{op} to {value[0]}×{value[1]}"
    if op in ("gap", "gmp"):
        return op
    return op if value is None else f"{op} {value:g}" if isinstance(value, float) \
        else f"{op} {value}"


def _window(spec, opts: dict) -> tuple[int, int] | None:
    """The kernel or window size (HxW) of a sliding-window layer, else None: only a `k`
    declared as a pair is one (lrn's `k` is a float constant, a custom layer's may be
    anything)."""
    option = spec.option("k") if spec is not None else None
    k = opts.get("k")
    if option is None or option.kind != "pair" or not isinstance(k, tuple) or len(k) != 2:
        return None
    return k


class _Drawing:
    def __init__(self, diagram: Diagram, shapes: bool) -> None:
        self.d = diagram
        self.net = diagram.network
        self.shapes = shapes
        self.families: set[str] = set()

    def draw(self, rankdir: str | None) -> graphviz.Digraph:
        dot = graphviz.Digraph(self.net.name)
        direction = rankdir or self._direction()
        dot.attr(rankdir=direction, fontname=FONT, fontsize="14", fontcolor=INK,
                 labelloc="t", label=self._title(), nodesep="0.25", ranksep="0.35",
                 newrank="true", bgcolor="white", pad="0.2")
        dot.attr("node", fontname=FONT, fontsize="11", fontcolor=INK, shape="box",
                 style="rounded,filled", color="#555555", penwidth="0.8", margin="0.08,0.04")
        dot.attr("edge", fontname=FONT, fontsize="9", fontcolor=FAINT, color="#555555",
                 arrowsize="0.6", penwidth="0.9")
        self._children(dot, self.d.root.children, 0)
        for edge in self.d.edges:
            attrs = {"style": "dashed"} if edge.aux else {}
            if self.shapes:
                attrs["label"] = " " + fmt_shape(self.net.node(edge.source)["meta"]["shape"])
            dot.edge(edge.tail, edge.head, **attrs)
        self._legend(dot)
        return dot

    def _direction(self) -> str:
        g = nx.DiGraph((e.tail, e.head) for e in self.d.edges)
        return "LR" if nx.dag_longest_path_length(g) <= CHAIN_LR_LIMIT else "TB"

    def _title(self) -> str:
        meta = self.net.meta
        total = meta.get("params")
        if total is None:
            total = sum(node_params(self.net, n) for n in self.net.main_nodes())
        parts = [self.net.name, f"{fmt_count(total)} params"]
        if "macs" in meta:
            parts.append(f"{fmt_count(meta['macs'])} MACs")
        return "  ·  ".join(parts)

    def _children(self, dot, children: list, level: int) -> None:
        for child in children:
            if isinstance(child, Cluster):
                self._cluster(dot, child, level + 1)
            else:
                self._box(dot, child)

    def _cluster(self, dot, cluster: Cluster, level: int) -> None:
        with dot.subgraph(name=cluster.key) as sub:
            sub.attr(label=scope_title(cluster.scope.title_scope), labeljust="l", fontsize="11",
                     fontcolor=FAINT, style="rounded,dashed" if cluster.aux else
                     "rounded,filled", color="#9a9a9a",
                     fillcolor="#f3f5f8" if level % 2 else "#ffffff", penwidth="0.8")
            self._children(sub, cluster.children, level)

    # --- boxes -----------------------------------------------------------------------
    def _box(self, dot, box: Box) -> None:
        if box.kind == "input":
            dot.node(box.key, f"input\n{fmt_shape(self.net.input_shape)}",
                     fillcolor="#f0f0f0", style="rounded,filled,bold")
        elif box.kind == "output":
            shape = fmt_shape(self.net.node(box.nodes[0])["meta"]["shape"])
            dot.node(box.key, f"{'aux output' if box.aux else 'output'}\n{shape}",
                     fillcolor="#444444" if not box.aux else "#f0f0f0",
                     fontcolor="white" if not box.aux else INK,
                     style="rounded,filled" + (",dashed" if box.aux else ""))
        elif box.kind == "merge":
            self._merge(dot, box)
        elif box.kind == "scope":
            self._scope_box(dot, box)
        else:
            self._layer(dot, box)

    def _merge(self, dot, box: Box) -> None:
        op = self.net.node(box.nodes[0])["op"]
        self.families.add("merge")
        tail = " · ".join(describe(self.net.node(n)["op"], self.net.node(n)["opts"])
                          for n in box.nodes[1:])
        symbol = MERGE_SYMBOLS.get(op, op)
        dot.node(box.key, symbol, shape="circle", width="0.3", height="0.3",
                 fixedsize="true", fontsize="12", fillcolor=FAMILY_COLOURS["merge"],
                 xlabel=tail or None, tooltip=self.net.node(box.nodes[0])["name"],
                 style="filled,bold" if op == "add" else "filled")

    def _layer(self, dot, box: Box) -> None:
        heavy = self._heavy(box.nodes)
        family = self._family(heavy)
        parts = []
        for n in box.nodes:
            text = escape(describe(self.net.node(n)["op"], self.net.node(n)["opts"]))
            parts.append(f"<B>{text}</B>" if n == heavy else text)
        name = scope_title(box.named_by.title_scope) if box.named_by else \
            self.net.node(heavy)["name"].rsplit(".", 1)[-1]
        figures = [escape(name)]
        params = sum(node_params(self.net, n) for n in box.nodes)
        if params:
            figures.append(f"{fmt_count(params)} params")
        label = _table([" · ".join(parts)], " · ".join(figures))
        dot.node(box.key, f"<{label}>", fillcolor=FAMILY_COLOURS.get(family, "#e5e5e5"),
                 tooltip=self.net.node(heavy)["name"],
                 style="rounded,filled" + (",dashed" if box.aux else ""))

    def _scope_box(self, dot, box: Box) -> None:
        first = box.scopes[0]
        title = escape(scope_title(first.title_scope, run=len(box.scopes)))
        if len(box.scopes) > 1:
            title = f"<B>{title}</B> ×{len(box.scopes)}"
        else:
            title = f"<B>{title}</B>"
        rows = self._rows(first)
        params = sum(node_params(self.net, n) for n in box.nodes)
        figures = f"{fmt_count(params)} params" if params else ""
        heavy = [n for n in box.nodes if not is_light(self.net, n)
                 and not is_merge(self.net, n)]
        family = self._family(heavy[0]) if heavy else "merge"
        label = _table([title, *rows], figures)
        dot.node(box.key, f"<{label}>", fillcolor=FAMILY_COLOURS.get(family, "#e5e5e5"),
                 peripheries="2", tooltip=".".join(first.path),
                 style="rounded,filled" + (",dashed" if box.aux else ""))

    def _rows(self, scope: ScopeNode) -> list[str]:
        """What one scope of a collapsed run holds, one line per box at the next level."""
        rows = []
        for box in contents(self.net, self.d.root.scope, scope):
            if box.kind == "scope":
                rows.append(escape(self._brief(box)))
            else:
                rows.append(escape(" · ".join(
                    _row_text(self.net.node(n)["op"], self.net.node(n)["opts"])
                    for n in box.nodes)))
        if len(rows) > MAX_ROWS:
            rows = rows[:MAX_ROWS - 1] + [f"… {len(rows) - MAX_ROWS + 1} more"]
        return [f'<FONT POINT-SIZE="9">{r}</FONT>' for r in rows]

    def _brief(self, box: Box) -> str:
        """A collapsed sub-scope in one line: `branch2: conv 1×1, 96 → conv 3×3, 128`."""
        scope = box.scopes[0]
        sub = scope.title_scope
        name = sub.block if sub.kind == "block" and is_default_call_name(sub.name, sub.block) \
            else sub.name
        if len(box.scopes) > 1:
            return f"{scope_title(sub, run=len(box.scopes))} ×{len(box.scopes)}"
        heavy = [n for n in scope.layers() if not is_light(self.net, n)]
        if len(heavy) > BRIEF_LAYERS:
            return f"{name}: {len(heavy)} layers"
        steps = " → ".join(_row_text(self.net.node(n)["op"], self.net.node(n)["opts"])
                           for n in heavy)
        return f"{name}: {steps}"

    def _heavy(self, nodes: list[int]) -> int:
        for n in nodes:
            if not is_light(self.net, n):
                return n
        return nodes[0]

    def _family(self, n: int) -> str:
        spec = lookup(self.net.node(n)["op"])
        family = spec.family if spec is not None and spec.family in FAMILY_COLOURS \
            else "custom"
        self.families.add(family)
        return family

    def _legend(self, dot) -> None:
        rows = "".join(
            f'<TR><TD BGCOLOR="{FAMILY_COLOURS[f]}" BORDER="1" WIDTH="14"></TD>'
            f'<TD ALIGN="LEFT">{f}</TD></TR>' for f in FAMILY_COLOURS if f in self.families)
        rows += ('<TR><TD BORDER="1" WIDTH="14">▭</TD>'
                 '<TD ALIGN="LEFT">double frame: collapsed block</TD></TR>')
        table = (f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">'
                 f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>legend</B></TD></TR>{rows}</TABLE>')
        dot.node("legend", f"<{table}>", shape="plaintext", style="", fontsize="9")


def _row_text(op: str, opts: dict) -> str:
    return {"add": "+ add", "concat": "concat", "mul": "× gate"}.get(op, describe(op, opts))


def scope_title(scope: Scope | None, run: int = 1) -> str:
    """`layer2: stage(128, 4)`, `bottleneck(256)`, `dense1: dense block`, `aux1`."""
    if scope is None:
        return ""
    if scope.kind == "block":
        named = not is_default_call_name(scope.name, scope.block)
        args = ", ".join(_arg(v) for _, v in scope.args)
        call = f"{scope.block}({args})" if args else scope.block
        return f"{scope.name}: {call}" if named and run == 1 else call
    if scope.kind == "denselayer":
        return "dense layer" if run > 1 else scope.name
    if scope.kind == "dense":
        return f"{scope.name}: dense block"
    if scope.kind == "aux":
        return f"{scope.name} (auxiliary head)"
    return scope.name


def _arg(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _table(rows: list[str], footer: str) -> str:
    cells = "".join(f"<TR><TD>{r}</TD></TR>" for r in rows)
    if footer:
        cells += f'<TR><TD><FONT POINT-SIZE="9" COLOR="{FAINT}">{footer}</FONT></TD></TR>'
    return f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>'

