"""The summary backend: a per-layer table or a JSON document from an annotated network.

It reads what the passes wrote (see cnndsl/passes/__init__.py) and decides nothing about
the network. `summary_data` is the JSON schema (SCHEMA_VERSION); `summary_text` renders it.
"""
from __future__ import annotations

import json

from ..ops import lookup
from ..ops.geometry import fmt_pair, fmt_shape

SCHEMA_VERSION = 1
CONVENTIONS = {
    "params": "trainable values of the generated module, sum(p.numel())",
    "macs": "multiply-accumulates of conv, deconv, fc and rbf, bias excluded "
            "(torchvision's GFLOPS are these)",
    "flops": "2 x MACs",
    "connections": "LeCun's: MACs plus one per output with a bias or coefficient",
    "rf": "receptive field in input pixels (size, jump, start), Araujo et al. on merges; "
          "global_branch: a global branch (an SE gate's gap) also feeds the layer, rf is "
          "its spatial path's",
    "bytes": "in the memory dtype (fp32 unless chosen), one example; training = params x "
             "(2 + optimizer state) + batch x tensors saved for backward",
    "units": "decimal: k = 1e3, M = 1e6, G = 1e9",
}


def summary_data(net, depth: int | None = None) -> dict:
    """The summary as plain data (the JSON schema); `depth` folds deeper scopes."""
    out = net.node(net.output)["meta"]
    meta = net.meta
    main = net.main_nodes()
    return {
        "schema": SCHEMA_VERSION,
        "network": net.name,
        "input": list(net.input_shape),
        "output": list(out["shape"]),
        "outputs": [{"name": name, "shape": list(net.node(n)["meta"]["shape"])}
                    for n, name in zip(net.outputs, net.output_names or
                                       [net.node(n)["name"] for n in net.outputs])],
        "params": meta["params"],
        "macs": meta["macs"],
        "flops": meta["flops"],
        "connections": meta["connections"],
        "memory": {k: meta["memory"][k] for k in (
            "params_bytes", "activations_bytes", "saved_bytes", "training_bytes", "batch",
            "optimizer", "dtype")},
        "rf": _rf(out),
        "aux": dict(meta["aux"]),
        "conventions": dict(CONVENTIONS),
        "layers": _fold([_layer(net, n, main) for n in net.layers()], depth,
                        _scope_places(net) if depth is not None else {}),
        "warnings": [_warning(net, w) for w in net.warnings],
    }


def _layer(net, n, main: set) -> dict:
    attrs = net.node(n)
    meta = attrs["meta"]
    spec = lookup(attrs["op"])
    return {
        "name": attrs["name"],
        "op": describe(attrs["op"], attrs["opts"]),
        "module": not spec.internal and "torch_inline" not in spec.extras
        and not spec.extras.get("torch_parameter"),
        "aux": n not in main,
        "file": _file(net, attrs["span"]),
        "line": attrs["span"].line if attrs["span"] is not None else None,
        "shape": list(meta["shape"]),
        "params": meta["params"],
        "macs": meta["macs"],
        "connections": meta["connections"],
        "rf": _rf(meta),
    }


def describe(op: str, opts: dict) -> str:
    """The op with its key options, as a spec would write them: `conv k3 s2 p1 64`."""
    spec = lookup(op)
    words = [op]
    for option in spec.options:
        value = opts.get(option.name)
        if value is None or value == option.default or option.kind == "table" \
                or _implied(option, value, opts):
            continue
        if option.kind == "flag":
            words.append(option.name if value else f"no{option.name}")
        elif option.name == spec.positional:
            words.append(f"{value[0]}x{value[1]}" if option.kind == "pair" else _value(value))
        elif option.compact is not None and not isinstance(value, float):
            words.append(f"{option.compact}{_value(value)}")
        else:
            words.append(f"{option.name}={_value(value)}")
    if opts.get("table") is not None:
        words.append("table")
    if opts.get("p_after"):
        words.append(f"p_after={_value(opts['p_after'])}")  # TensorFlow's uneven SAME
    return " ".join(words)


def _implied(option, value, opts: dict) -> bool:
    """Values a spec would not write: a bias that is on, the stride of a layer whose
    stride defaults to its window (a pool's) when it equals the window, the groups of a
    depthwise conv. A conv's stride defaults to 1, so `deconv k2 s2` keeps its `s2`."""
    name = option.name
    return (name == "bias" and value) \
        or (name == "s" and option.default is None and value == opts.get("k")) \
        or (name == "g" and opts.get("dw"))


def _value(value) -> str:
    if isinstance(value, tuple):
        return str(value[0]) if len(set(value)) == 1 else fmt_pair(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _rf(meta: dict) -> dict:
    """Scalars when both axes agree (square inputs), else [H, W] pairs; the global-branch
    flag (see cnndsl/passes/receptive_field.py)."""
    axes = meta["rf"]
    rf = {key: axes[0][i] if axes[0][i] == axes[1][i] else [axes[0][i], axes[1][i]]
          for i, key in enumerate(("size", "jump", "start"))}
    rf["global_branch"] = bool(meta.get("rf_global_branch"))
    return rf


def _scope_places(net) -> dict[str, tuple[str | None, int]]:
    """{dotted scope name: (file, line)} where each scope was written: a block call's
    line, a label's, a branch's."""
    places: dict[str, tuple[str | None, int]] = {}
    for n in net.layers():
        path = ""
        for scope in net.node(n)["scope"]:
            path = f"{path}.{scope.name}" if path else scope.name
            if path not in places and scope.span is not None:
                places[path] = (_file(net, scope.span), scope.span.line)
    return places


def _fold(layers: list[dict], depth: int | None,
          places: dict[str, tuple[str | None, int]]) -> list[dict]:
    """Rows deeper than `depth` dotted levels merged into their scope's row, which shows
    where the scope was written (the call's line, not its body's)."""
    if depth is None:
        return layers
    if depth == 0:
        return []
    rows: list[dict] = []
    for layer in layers:
        parts = layer["name"].split(".")
        if len(parts) <= depth:
            rows.append(layer)
            continue
        scope = ".".join(parts[:depth])
        if rows and rows[-1]["name"] == scope and rows[-1].get("layers"):
            row = rows[-1]
            row["layers"] += 1
            for key in ("params", "macs", "connections"):
                row[key] += layer[key]
            row["shape"], row["rf"] = layer["shape"], layer["rf"]
        else:
            file, line = places.get(scope, (layer["file"], layer["line"]))
            rows.append(layer | {"name": scope, "op": "", "module": True, "layers": 1,
                                 "file": file, "line": line})
    for row in rows:
        if row.get("layers"):
            row["op"] = f"({row['layers']} layers)"
    return rows


def _warning(net, diag) -> dict:
    span = diag.span
    return {"severity": diag.severity, "file": _file(net, span),
            "line": span.line if span else None, "col": span.col if span else None,
            "message": diag.message}


def _file(net, span) -> str | None:
    """Where a span was written: None in the spec itself, else the `use`d file's path
    relative to the spec's folder (used files are always below it)."""
    if span is None or span.source is net.source:
        return None
    here, there = getattr(net.source, "path", None), span.source.path
    if here is not None and there is not None:
        try:
            return there.resolve().relative_to(here.resolve().parent).as_posix()
        except ValueError:
            pass
    return span.source.name


def summary_json(data: dict) -> str:
    """The document indented, except that each layer is one line: a 100,000-layer summary
    in Python's indenting encoder (pure Python) took seconds, one `json.dumps` a layer
    runs in its C encoder."""
    parts = []
    for key, value in data.items():
        if key == "layers" and value:
            body = "[\n    " + ",\n    ".join(map(json.dumps, value)) + "\n  ]"
        else:
            body = json.dumps(value, indent=2).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def summary_text(data: dict) -> str:
    header = [
        f"{data['network']}: input {fmt_shape(data['input'])}, " + (
            f"output {fmt_shape(data['output'])}" if len(data["outputs"]) < 2 else
            "outputs " + ", ".join(f"{o['name']} {fmt_shape(o['shape'])}"
                                   for o in data["outputs"])),
        *(f"  {key}: {text}" for key, text in data["conventions"].items()),
        "",
    ]
    columns = ("name", "op", "line", "output", "params", "MACs", "rf", "jump")
    rows = [_row(layer) for layer in data["layers"]]
    if not rows:  # --depth 0: the totals alone
        return "\n".join(header + _totals(data)) + "\n"
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    right = {2, 4, 5, 6, 7}

    def line(cells) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    rule = "-" * len(line(columns))
    table = [line(columns), rule, *(line(r) for r in rows), rule]
    return "\n".join(header + table + _totals(data)) + "\n"


def _row(layer: dict) -> list[str]:
    name = layer["name"] + ("" if layer["module"] else " *") + (" (aux)" if layer["aux"] else "")
    rf = layer["rf"]
    where = str(layer["line"] or "")
    if layer.get("file") and where:
        where = f"{layer['file']}:{where}"
    size = _pair(rf["size"]) + (GLOBAL_MARK if rf.get("global_branch") else "")
    return [name, layer["op"], where, fmt_shape(layer["shape"]),
            f"{layer['params']:,}", f"{layer['macs']:,}", size, _pair(rf["jump"])]


GLOBAL_MARK = "+g"


def _pair(value) -> str:
    return fmt_pair(value) if isinstance(value, list) else f"{value:g}"


def _totals(data: dict) -> list[str]:
    mem, rf = data["memory"], data["rf"]
    lines = [
        f"params       {decimal(data['params']):>8}  ({data['params']:,})",
        f"MACs         {decimal(data['macs']):>8}  ({data['macs']:,})",
        f"FLOPs        {decimal(data['flops']):>8}  ({data['flops']:,})",
        f"connections  {decimal(data['connections']):>8}  ({data['connections']:,})",
        f"rf           size {_pair(rf['size'])}, jump {_pair(rf['jump'])}, "
        f"start {_pair(rf['start'])}"
        + (", and a global branch: every pixel also sees the whole input"
           if rf.get("global_branch") else ""),
        f"memory       params {decimal(mem['params_bytes'])}B, activations "
        f"{decimal(mem['activations_bytes'])}B per example, training "
        f"{decimal(mem['training_bytes'])}B (batch {mem['batch']}, {mem['optimizer']}, "
        f"{mem['dtype']})",
    ]
    if data["aux"]["params"] or data["aux"]["macs"]:
        lines.append(f"aux heads    params {decimal(data['aux']['params'])}, "
                     f"MACs {decimal(data['aux']['macs'])} (not in the totals above)")
    if any(layer["rf"].get("global_branch") for layer in data["layers"]):
        lines.append(f"{GLOBAL_MARK} a global branch (an SE gate's gap) also feeds the layer: "
                     "rf and jump are its spatial path's")
    if any(not layer["module"] for layer in data["layers"]):
        lines.append("* no module of its own: a merge (add, concat, mul), an inline "
                     "expression (chunk, shuffle) or a parameter (layerscale)")
    return lines


def decimal(value: float) -> str:
    """3 significant digits in decimal units: 60000 -> 60k, 854196224 -> 854M."""
    for factor, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{unit}"
    return f"{value:g}"
