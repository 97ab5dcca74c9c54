"""Structure recovery for the PyTorch importer: repeated module classes become blocks.

torch_import's SpecWriter writes every module instance; this module decides which instances
are written as calls of a `block` instead (see NOTE: folding), and writes the blocks.

NOTE: folding
A module class (not a container: nn.Sequential, nn.ModuleList, nn.ModuleDict) with two or
more instances that each read one tensor from outside (their input) and hand one tensor on
(their output) is a candidate. Each instance's body is written on its own, with its own
aliases (`t0` is its input), and cut into tokens: text, and *slots*, the numbers of layer
options and channels (`s2`, `g32`, `64`, `eps=0.001`) and of the arguments of calls of
blocks folded before it. Instances whose token texts agree outside the slots share a block
(a class whose instances differ in structure, a first Bottleneck with a downsample, gives
one block per variant); a slot that is the same in all of them is written as it is, one
that varies becomes a block parameter (or `in`, or a multiple of another parameter).
Inner classes are folded first, so that an outer block's body calls them.
"""
from __future__ import annotations

import inspect
import keyword
import re
from collections import Counter
from dataclasses import dataclass, field

from torch import nn

CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
# options a layer text may leave out, at their defaults (conv, deconv)
OPTION_DEFAULTS = {"s": 1, "p": 0, "d": 1, "g": 1}
KEYWORD_DEFAULTS = {"eps": 1e-5, "momentum": 0.1}
DEFAULTED = "\x01"  # marks an option normalize_layer added: dropped again at its default
OPTION_LIKE = re.compile(r"^((k|s|p|d|g|op)\d+(x\d+)?|x\d+)$")


# --------------------------------------------------------------------------- tokens

@dataclass
class Slot:
    """A number in a body: `kind` is "opt" (s2 -> s=EXPR), "kw" (eps=X), "pos" (64) or
    "arg" (a call's argument); `key` is the option letter, keyword or parameter name."""
    kind: str
    key: str
    value: float | int
    text: str
    optional: bool = False  # an option normalize_layer added, an argument with a default
    default: object = None  # the default of that argument

    def shape(self):
        return (self.kind, self.key)


@dataclass
class Call:
    block: Block
    args: list[Slot]

    def shape(self):
        return ("call", self.block.name)


NUM = r"-?(?:\d+\.\d*(?:e[-+]?\d+)?|\d+e[-+]?\d+|\d+)"
TOKEN = re.compile(
    rf"""(?P<call>\x00(?P<idx>\d+)\x00)
    |(?P<quoted>"[^"]*")
    |(?P<list>\[[^\]]*\])
    |(?P<ref>@\w+)
    |(?P<kw>(?P<kwkey>[A-Za-z_]\w*)=(?P<kwval>{NUM})(?![\w.]))
    |(?P<opt>(?P<dflt>\x01)?\b(?P<letter>k|s|p|d|g|op)(?P<optval>\d+)\b(?!x))
    |(?P<word>[A-Za-z_]\w*)
    |(?P<num>(?<![\w.]){NUM}(?![\w.]))
    |(?P<other>.)""", re.X | re.S)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def normalize_layer(text: str) -> str:
    """`conv k3 s2 64` -> `conv k3 s2 p0 d1 g1 64`: every instance of a block states the
    same options in the same order, so that they line up; options at their default are
    dropped again on writing."""
    words = text.split(" ")
    if words[0] not in ("conv", "deconv"):
        return text
    options = {}
    rest = []
    for w in words[1:]:
        m = re.match(r"^(s|p|d|g)(?:\d+$|=)", w)
        if m and m.group(1) not in options:
            options[m.group(1)] = w
        else:
            rest.append(w)
    kernel = [w for w in rest[:1] if w.startswith("k")]
    rest = rest[len(kernel):]
    canonical = [options.get(o, f"{DEFAULTED}{o}{v}") for o, v in OPTION_DEFAULTS.items()]
    return " ".join([words[0]] + kernel + canonical + rest)


def tokens(text: str, calls: list) -> list:
    out: list = []
    for m in TOKEN.finditer(text):
        if m["call"]:
            block, values = calls[int(m["idx"])]
            args = [Slot("arg", p.name, v, _fmt(v), p.default is not None, p.default)
                    for p, v in zip(block.params, values)]
            out.append(Call(block, args))
        elif m["kw"]:
            out.append(m["kwkey"] + "=")
            out.append(Slot("kw", m["kwkey"], _number(m["kwval"]), m["kwval"]))
        elif m["opt"]:
            out.append(Slot("opt", m["letter"], int(m["optval"]), m[0].lstrip(DEFAULTED),
                            bool(m["dflt"])))
        elif m["num"]:
            out.append(Slot("pos", "", _number(m["num"]), m["num"]))
        else:
            out.append(m[0])
    return out


def shape_of(toks: list) -> tuple:
    return tuple(t if isinstance(t, str) else t.shape() for t in toks)


def slots_of(toks: list) -> list[Slot]:
    out = []
    for t in toks:
        if isinstance(t, Slot):
            out.append(t)
        elif isinstance(t, Call):
            out.extend(t.args)
    return out


def _fmt(v) -> str:
    return repr(v) if isinstance(v, float) else str(v)


# --------------------------------------------------------------------------- blocks

@dataclass
class Param:
    name: str
    default: object = None  # None: required


@dataclass
class Block:
    name: str
    params: list[Param] = field(default_factory=list)
    body: list = field(default_factory=list)      # tokens of the first instance
    exprs: list = field(default_factory=list)     # per slot: None (literal) or an expression
    args: dict = field(default_factory=dict)      # instance path -> parameter values
    count: int = 0


def snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name.strip("_"))
    s = re.sub(r"\W+", "_", s).lower().strip("_")
    return s or "block"


def usable_name(name: str, taken: set[str]) -> bool:
    from ..ops import RESERVED, layer_names

    return bool(re.match(r"^[A-Za-z][A-Za-z0-9_]*$", name)) and not OPTION_LIKE.match(name) \
        and not keyword.iskeyword(name) and name not in RESERVED and name not in layer_names() \
        and name not in taken


def unique_name(base: str, taken: set[str]) -> str:
    if not usable_name(base, set()):  # a layer's name, a keyword, ...
        base = base + "_block"
    name, i = base, 2
    while not usable_name(name, taken):
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def signature_names(cls) -> list[str]:
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return []
    return [p.name for p in list(sig.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def unify(name: str, cls, instances: list, taken: set[str]) -> Block:
    """One block for instances whose token texts have the same shape.

    `instances`: (path, module, tokens, in_channels) in the model's order."""
    block = Block(name)
    block.body = instances[0][2]
    columns = list(zip(*(slots_of(toks) for _, _, toks, _ in instances)))
    ins = tuple(c for _, _, _, c in instances)
    names = signature_names(cls) + [n for n, v in vars(instances[0][1]).items()
                                    if isinstance(v, bool) and not n.startswith("_")]
    attrs = {n: tuple(getattr(m, n, None) for _, m, _, _ in instances) for n in names}
    # only plain values name parameters (ConvNeXt's `layer_scale` is a tensor)
    attrs = {n: v for n, v in attrs.items()
             if all(isinstance(a, (bool, int, float, tuple, type(None))) for a in v)}
    params: dict[str, Param] = {}
    values: dict[str, tuple] = {}
    kinds: dict[str, str] = {}  # parameter -> an option letter, or "channels"
    exprs = []
    used = set()
    for col in columns:
        vec = tuple(s.value for s in col)
        slot = col[0]
        if len(set(vec)) == 1:
            exprs.append(None)
            continue
        kind = slot.key if slot.kind == "opt" else "channels"
        # a depthwise conv's groups are its channels
        related = (kind, "channels") if kind == "g" else (kind,)
        expr = _relate(vec, {n: v for n, v in values.items() if kinds[n] in related})
        if expr is None and kind == "p":  # the padding that keeps the size: (k-1)//2
            expr = next((f"({n}-1)//2" for n, v in values.items() if kinds[n] == "k"
                         and all(isinstance(a, int) and p == (a - 1) // 2 for p, a in zip(vec, v))),
                        None)
        if expr is None and vec == ins:
            # NOTE: `in` in a layer or a call inside the body is the channels of the input
            # *there*; a parameter's default `in` is the block's input channels.
            pname = _param_name(Slot("pos", "", 0, ""), vec, attrs, used | {"c"}) \
                if "inp" in used or not usable_name("inp", used) else "inp"
            params[pname] = Param(pname, "in")
            values[pname], kinds[pname] = vec, kind
            used.add(pname)
            expr = pname
        if expr is None:
            pname = _param_name(slot, vec, attrs, used)
            default = None
            if slot.kind in ("opt", "kw") or slot.kind == "arg" and slot.optional:
                default = Counter(vec).most_common(1)[0][0]
                preferred = OPTION_DEFAULTS.get(slot.key) if slot.kind == "opt" else slot.default
                if preferred in vec:
                    default = preferred
            params[pname] = Param(pname, default)
            values[pname], kinds[pname] = vec, kind
            used.add(pname)
            expr = pname
        exprs.append(expr)
    # required parameters first, then those with defaults (in the order they appear)
    ordered = [p for p in params.values() if p.default is None] + \
              [p for p in params.values() if p.default is not None]
    block.params = ordered
    block.exprs = exprs
    for i, (path, _, _, _) in enumerate(instances):
        block.args[path] = [values[p.name][i] for p in ordered]
    block.count = len(instances)
    return block


def _relate(vec: tuple, values: dict[str, tuple]) -> str | None:
    for pname, pv in values.items():
        if vec == pv:
            return pname
    for pname, pv in values.items():
        if all(isinstance(v, int) for v in vec + pv) and all(p > 0 for p in pv):
            if all(v % p == 0 for v, p in zip(vec, pv)):
                ks = {v // p for v, p in zip(vec, pv)}
                if len(ks) == 1 and (k := ks.pop()) > 1:
                    return f"{k}*{pname}"
            if all(v > 0 and p % v == 0 for v, p in zip(vec, pv)):
                ks = {p // v for v, p in zip(vec, pv)}
                if len(ks) == 1 and (k := ks.pop()) > 1:
                    return f"{pname}//{k}"
    return None


FALLBACK = {"pos": "c", "s": "s", "g": "g", "k": "k", "p": "p", "d": "d", "op": "op"}


def _param_name(slot: Slot, vec: tuple, attrs: dict, used: set[str]) -> str:
    for n, av in attrs.items():
        if av == vec and n not in used and usable_name(n, used | {"in"}):
            return n
    base = slot.key if slot.kind in ("kw", "arg") else FALLBACK.get(slot.key or "pos", "c")
    base = "skip" if slot.kind == "kw" and base == "when" else base
    if slot.kind == "arg" and not slot.optional:  # a callee's channels: ours are `c`, ...
        base = "c"
    if slot.kind == "pos":  # channels, or a probability (`droppath 0.1`)
        base = "p" if any(isinstance(v, float) for v in vec) else "c"
    name, i = base, 2
    while name in used or not usable_name(name, used):
        name, i = f"{base}{i}" if base not in ("s", "g", "k", "p", "d") else f"{base}_{i}", i + 1
    return name


# --------------------------------------------------------------------------- writing

def render(toks: list, exprs: list | None = None) -> str:
    """The text of a body: slots as literals, or as the expressions of a block."""
    out: list[str] = []
    i = 0
    for t in toks:
        if isinstance(t, str):
            out.append(t)
            continue
        if isinstance(t, Call):
            args = []
            for p, s in zip(t.block.params, t.args):
                e = exprs[i] if exprs else None
                i += 1
                args.append((p, s, e))
            out.append(call_text(t.block, args))
            continue
        e = exprs[i] if exprs else None
        i += 1
        out.append(slot_text(t, e))
    text = re.sub(r"(?<=\S)  +", " ", "".join(out))  # options dropped at their default
    text = re.sub(r"(?<=[\w\]]) +\)", ")", text)
    text = text.replace("residual(when=1)<", "residual<")
    return re.sub(r" +$", "", text, flags=re.M)


def slot_text(s: Slot, expr: str | None) -> str:
    if s.kind == "opt":
        if expr is not None:
            return f"{s.key}={expr}"
        return "" if s.optional and OPTION_DEFAULTS.get(s.key) == s.value else s.text
    if s.kind == "kw" and s.key == "when" and expr is not None:
        return f"{expr} == 1"
    if expr is not None:
        return expr
    return s.text


def call_text(block: Block, args: list) -> str:
    """`bottleneck(64, stride=2)`: required arguments by position, the others by name
    where they differ from the default."""
    parts = []
    for p, s, e in args:
        if p.default == "in":
            continue
        if p.default is None:
            parts.append(e if e is not None else s.text)
        elif e is not None:
            parts.append(f"{p.name}={e}")
        elif s.value != p.default:
            parts.append(f"{p.name}={s.text}")
    return f"{block.name}({', '.join(parts)})" if parts else block.name


def header(block: Block) -> str:
    params = [p.name if p.default is None else f"{p.name}={_fmt(p.default)}" for p in block.params]
    return f"block {block.name}({', '.join(params)})" if params else f"block {block.name}"


# --------------------------------------------------------------------------- folding

@dataclass
class Instance:
    path: tuple
    module: nn.Module
    nodes: list        # the writer's items inside the module, in order
    input: object      # the one tensor it reads from outside
    output: object     # the one tensor it hands on
    block: Block | None = None
    text: str = ""     # what it is written as where it is no block's call (a dense block)


class Folder:
    """Finds the foldable instances of `writer`'s items and folds them, inner classes
    first (see NOTE: folding); the writer then writes folded instances as calls."""

    def __init__(self, writer, items: list, model: nn.Module):
        self.w = writer
        self.items = items
        self.model = model
        self.blocks: list[Block] = []
        self.taken: set[str] = set()

    def fold(self) -> None:
        self.find_dense_blocks()
        candidates = {p: i for p, i in self.candidates().items()
                      if not any(p[:len(d)] == d for d in self.w.folded)}
        # NOTE: classes `Inverted`, `Inverted2`, ... (cnndsl's own generated modules, one
        # class per variant) are one family; variants split again by their text below.
        by_class: dict[tuple, list[Instance]] = {}
        for inst in candidates.values():
            cls = type(inst.module)
            family = (cls.__module__, re.sub(r"\d+$", "", cls.__name__))
            by_class.setdefault(family, []).append(inst)
        for family in self.order(by_class):
            insts = by_class[family]
            if len(insts) >= 2:
                self.fold_class(type(insts[0].module), insts)

    def members(self) -> dict[tuple, list[int]]:
        """module path -> the indices of its items"""
        members: dict[tuple, list[int]] = {}
        for i, n in enumerate(self.items):
            scope = tuple(self.w.scope(n))
            for d in range(1, len(scope) + 1):
                members.setdefault(scope[:d], []).append(i)
        return members

    def find_dense_blocks(self) -> None:
        """torchvision's DenseNet block: layers `denselayer1`, ... that each start by
        concatenating the block's input and the outputs of the layers before, and a
        concatenation of all of them at the end: `dense(n=6, k=32)`, with the layer's body
        where it is not DenseNet-B's (docs/language.md)."""
        for path, idx in self.members().items():
            if idx != list(range(idx[0], idx[-1] + 1)):
                continue
            nodes = [self.items[i] for i in idx]
            text = self.dense_text(path, nodes)
            if text is not None:
                self.w.folded[path] = Instance(path, None, nodes, nodes[-1].args[0][0], nodes[-1],
                                               text=text)

    def dense_text(self, path: tuple, nodes: list) -> str | None:
        from ..errors import CnnImportError

        w = self.w
        last = nodes[-1]
        if w.text(last) != "concat" or tuple(w.scope(last)) != path:
            return None
        layers: dict[str, list] = {}
        for n in nodes[:-1]:
            scope = tuple(w.scope(n))
            if len(scope) <= len(path):
                return None
            layers.setdefault(scope[len(path)], []).append(n)
        outs = list(last.args[0])
        if list(layers) != [f"denselayer{i + 1}" for i in range(len(layers))] or \
                len(outs) != len(layers) + 1 or outs[0] in nodes:
            return None
        bodies, growth = set(), set()
        for i, (name, body) in enumerate(layers.items()):
            first = body[0]
            if w.text(first) != "concat" or list(first.args[0]) != outs[:i + 1] or \
                    body[-1] is not outs[i + 1] or len(body) < 2:
                return None
            try:
                lines, end = w.write_body(body[1:], list(path) + [name], first)
            except CnnImportError:
                return None
            if end is not body[-1]:
                return None
            bodies.add(" ".join(render(tokens(dedent(lines, len(path) + 1), w.calls)).split()))
            growth.add(int(body[-1].meta["tensor_meta"].shape[1]))
        if len(bodies) != 1 or len(growth) != 1:
            return None
        body, k = bodies.pop(), growth.pop()
        head = f"dense(n={len(layers)}, k={k})"
        builtin = (f"(norm1: bn) (relu1: relu) (conv1: conv k1 {4 * k} nobias) (norm2: bn) "
                   f"(relu2: relu) (conv2: conv k3 p1 {k} nobias)")
        return head if body == builtin else f"{head}< {body} >"

    def candidates(self) -> dict[tuple, Instance]:
        w = self.w
        members = self.members()
        spanning: set[tuple] = set()  # modules holding part of a gate whose product is outside
        for g, (_, region) in w.gates.items():
            gs = tuple(w.scope(g))
            for r in region:
                rs = tuple(w.scope(r))
                spanning.update(rs[:d] for d in range(1, len(rs) + 1) if gs[:d] != rs[:d])
        out = {}
        for path, idx in members.items():
            try:
                module = self.model.get_submodule(".".join(path))
            except AttributeError:
                continue
            if isinstance(module, CONTAINERS) and type(module) in CONTAINERS or path in spanning:
                continue
            if idx != list(range(idx[0], idx[-1] + 1)):
                continue
            nodes = [self.items[i] for i in idx]
            inst = self.instance(path, module, nodes)
            if inst is not None:
                out[path] = inst
        return out

    def instance(self, path, module, nodes) -> Instance | None:
        from .torch_import import is_tensor

        w = self.w
        every = set(nodes)
        for n in nodes:
            if n in w.gates:
                every.update(w.gates[n][1])
        reads = {a for m in every for a in w.tensor_args(m)} - every
        outs = [m for m in nodes if any(u not in every and (u.op == "output" or is_tensor(u))
                                        for u in w.users[m])]
        outs += [m for m in every - set(nodes) if any(u not in every for u in w.users[m])]
        if len(reads) != 1 or len(outs) != 1 or outs[0] is not nodes[-1]:
            return None
        return Instance(path, module, nodes, reads.pop(), outs[0])

    @staticmethod
    def order(by_class: dict) -> list[tuple]:
        """Classes whose instances hold instances of others come after those."""
        inner: dict[tuple, set[tuple]] = {c: set() for c in by_class}
        paths = [(inst.path, c) for c, insts in by_class.items() for inst in insts]
        for p, c in paths:
            for q, d in paths:
                if len(q) > len(p) and q[:len(p)] == p and d is not c:
                    inner[c].add(d)
        done: list[tuple] = []
        while len(done) < len(inner):
            ready = [c for c in inner if c not in done and inner[c] <= set(done)]
            done.extend(ready or [next(c for c in inner if c not in done)])
        return done

    def fold_class(self, cls, insts: list[Instance]) -> None:
        from ..errors import CnnImportError

        variants: dict[tuple, list] = {}
        groups: list = []
        written = []
        for inst in insts:
            try:
                lines, last = self.w.write_body(inst.nodes, list(inst.path), inst.input)
            except CnnImportError:
                continue
            if last is not inst.output:
                continue
            shapes_differ = (inst.input.meta["tensor_meta"].shape
                             != inst.output.meta["tensor_meta"].shape)
            written.append((inst, *residual_form(dedent(lines, len(inst.path)), shapes_differ)))
        kinds = {kind for _, _, kind in written}
        masked = {mask(text) for _, text, kind in written if kind == "identity"}
        for inst, text, kind in written:
            # NOTE: a residual with its projection only where the shapes differ is torchvision's
            # downsample, so the instances without one read alike; a variant with no skip at
            # all is the same body under residual(when=...) (MobileNetV2's use_res_connect).
            if kind == "identity" and "proj" in kinds:
                text = "residual(proj)<" + text[len("residual<"):]
            elif kind == "identity" and kinds & {"plain"}:
                text = "residual(when=1)<" + text[len("residual<"):]
            elif kind == "plain" and "identity" in kinds and \
                    mask(f"residual< {' '.join(chunks(text))} >") in masked:
                text = f"residual(when=0)< {' '.join(chunks(text))} >"
            toks = tokens(text, self.w.calls)
            channels = inst.input.meta["tensor_meta"].shape[1]
            variants.setdefault(shape_of(toks), []).append((inst, toks, int(channels)))
        groups = sorted(variants.values(), key=len, reverse=True)
        if not groups or len(groups[0]) < 2:
            return
        # NOTE: a variant of one instance is a block too where another variant is: the
        # instances then read alike (and a seq of calls stays a seq).
        base = snake(re.sub(r"\d+$", "", cls.__name__))
        first_labels = None
        for group in groups:
            labels = {t for t, nxt in zip(group[0][1], group[0][1][1:])
                      if isinstance(t, str) and nxt == ":"}
            name = base
            if first_labels is not None:
                extra = sorted(labels - first_labels)
                named = f"{base}_{extra[0]}" if extra else base
                name = named if usable_name(named, self.taken) else base
            name = unique_name(name, self.taken)
            first_labels = labels if first_labels is None else first_labels
            block = unify(name, cls, [(i.path, i.module, t, c) for i, t, c in group], self.taken)
            self.blocks.append(block)
            for inst, _, _ in group:
                inst.block = block
                self.w.folded[inst.path] = inst

    def block_texts(self) -> list[str]:
        from .torch_import import LINE_WIDTH, compact, numbered_as_seq, seq_items, wrap

        out = []
        names = {b.name for b in self.blocks}
        for block in self.blocks:
            body = render(block.body, block.exprs).split("\n")
            body = [numbered_as_seq(line, names) for line in compact(body, names)]
            whole = seq_items(" ".join(line.strip() for line in body), names)
            if whole is not None:  # an nn.Sequential subclass: its block is a seq
                body = wrap(whole, 0)
            for _ in range(2):  # a long group on a wrapped line is wrapped in turn
                body = [part for line in body for part in
                        (wrap(line.strip(), len(line) - len(line.lstrip()))
                         if len(line) > LINE_WIDTH else [line])]
            head = header(block)
            if len(body) == 1 and len(head) + len(body[0]) + 2 < LINE_WIDTH:
                out.append(f"{head}: {body[0].strip()}")
            else:
                out.append(head + ":")
                out.extend("    " + line for line in body)
        return out


# --------------------------------------------------------------------------- residuals

PROJECTION = re.compile(r'^\(downsample: concat< @t0 > '
                        r'\("0": conv k1 \x01?s\d+ \x01?p0 \x01?d1 \x01?g1 \d+ nobias\) '
                        r'\("1": bn\)\)$')


def chunks(text: str) -> list[str]:
    """The top-level items of a body written one per line, each on one line."""
    out: list[str] = []
    for line in text.split("\n"):
        if line.startswith(" ") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line.strip())
    return out


def residual_form(text: str, shapes_differ: bool) -> tuple[str, str]:
    """`(t0: id) BODY add< id | @t0 >` -> `residual< BODY >`, and with torchvision's
    projection (`(tK: id) (downsample: concat< @t0 > ("0": conv k1 ...) ("1": bn))
    add< @tK | id >`, where the shapes differ) `residual(proj)< BODY >`: the readable forms.
    Returns the text and its kind: "plain", "identity" or "proj"."""
    items = chunks(text)
    if not items or items[0] != "(t0: id)":
        return text, "plain"
    for j in range(1, len(items)):
        if items[j] in ("add< id | @t0 >", "add< @t0 | id >"):
            body = items[1:j]
            if body and not any("@t0" in b for b in body):
                return " ".join([f"residual< {' '.join(body)} >"] + items[j + 1:]), "identity"
            break
        m = re.match(r"^\((t\d+): id\)$", items[j])
        if m and j + 2 < len(items) and PROJECTION.match(items[j + 1]) and \
                items[j + 2] == f"add< @{m[1]} | id >" and shapes_differ:
            body = items[1:j]
            if body and not any("@t0" in b or f"@{m[1]}" in b for b in body):
                return " ".join([f"residual(proj)< {' '.join(body)} >"] + items[j + 3:]), "proj"
            break
    return text, "plain"


def mask(text: str) -> str:
    return re.sub(r"\d+", "#", text.replace(DEFAULTED, ""))


def dedent(lines: list[str], depth: int) -> str:
    cut = "    " * depth
    return "\n".join(line[len(cut):] if line.startswith(cut) else line.lstrip() for line in lines)
