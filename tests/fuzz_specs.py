"""Hypothesis strategies for .cnn specs: grammar-aware valid specs and mutations of them.
Shared by tests/test_fuzz.py (a short run in CI) and scripts/fuzz.py (a long run).

# NOTE: valid by construction
# The generator tracks the tensor (channels, height, width) through every layer it draws and
# only draws what is valid for it: windows that fit their padded input, groups that divide,
# `chunk`/`shuffle`/`gn` where they divide the channels, branches brought to the shape their
# merge needs (`match`), `@label` branches only from earlier top-level labels, blocks whose
# bodies are valid for any input (`BLOCK_TEMPLATES`, simulated at each call). So every
# generated spec should build; a CnnError on one is a failure of the test, not of the spec.
# Sizes stay small (channels about 1..24, maps at most 32 wide) to keep torch fast.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import strategies as st

WORDS = ("conv", "k3", "p1", "s2", "bn", "relu", "residual<", "inception<", "|", ">", "<",
         "(", ")", "*", "x3", "@a", "a:", "block", "b(c):", "use", "\"x.cnn\"", "=", "[",
         "]", ",", "in", "//", "0", "-1", "1e999", "\t", "\n", "    ", "#", ":", "\x00",
         "\ufeff", "\r", "dense(n=2, k=4)", "fc", "flatten", "gap", "assert", "shape", "==",
         # issue 16: words that were once accepted silently or crashed
         "\u202e", "1e400", "param", "in=", "aux<", "gate<", "concat<", "@b", "b:", "b(4)",
         "use \"\x00\"", "1_6", "\uff11\uff16", "x0", "* 0")


# Labels that would clash with Python or with nn.Module if used raw as attribute names.
LABELS = ("stem", "class", "self", "forward", "__init__", "print", "def", "torch", "nn",
          "training", "x", "_modules")
BRANCH_LABELS = ("left", "right", "mid", "proj_a", "b_2")

MAX_C = 24  # channels beyond this are brought back by a 1x1 conv


@dataclass
class Ctx:
    """What a draw may refer to: earlier top-level labels (name -> shape), blocks, params."""
    labels: dict = field(default_factory=dict)
    blocks: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    branch_labels: int = 0
    in_repeat: int = 0  # inside a repeated group a label would name two things
    made: bool = True  # whether the last branch drawn made a tensor of its own (not `id`)


def window_out(n, k, s, p, d=1, ceil=False):
    """torch's output size of a sliding window (conv, pool)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


def divisors(n):
    return [g for g in range(1, n + 1) if n % g == 0]


def pick(draw, *options):
    return draw(st.sampled_from(options))


# ---------------------------------------------------------------- single layers

def conv_layer(draw, shape):
    c, h, w = shape
    square = draw(st.integers(0, 9)) > 0
    k = (pick(draw, 1, 3, 3, 5),) * 2 if square else pick(draw, (1, 3), (3, 1), (2, 2), (1, 5))
    s = pick(draw, 1, 1, 1, 2, 2, 3)
    d = pick(draw, 1, 1, 1, 2) if max(k) > 1 else 1
    opts = [f"k{k[0]}" if square else f"k{k[0]}x{k[1]}"]
    if draw(st.integers(0, 4)) == 0:  # TensorFlow's SAME, any stride and dilation
        pad = "same"
        out_hw = (-(-h // s), -(-w // s))
        opts.append("p=same")
    else:
        pads = []
        for n, kk in zip((h, w), k):
            reach = d * (kk - 1) + 1
            low = max(0, -(-(reach - n) // 2))
            pads.append(draw(st.integers(low, max(low, (reach - 1) // 2 + (1 if low else 0)))))
        if not square and pads[0] != pads[1]:
            opts.append(pick(draw, f"p{pads[0]}x{pads[1]}", f"p=[{pads[0]},{pads[1]}]"))
        elif max(pads) > 0 or draw(st.booleans()):
            opts.append(f"p{pads[0]}" if pads[0] == pads[1] else f"p{pads[0]}x{pads[1]}")
        pad = pads
        out_hw = tuple(window_out(n, kk, s, pp, d) for n, kk, pp in zip((h, w), k, pads))
    if s != 1 or draw(st.integers(0, 5)) == 0:
        opts.append(pick(draw, f"s{s}", f"s={s}"))
    if d != 1:
        opts.append(pick(draw, f"d{d}", f"d={d}"))
    group = draw(st.integers(0, 5))
    if group == 0:  # depthwise
        co = pick(draw, None, c, 2 * c) if c <= MAX_C // 2 else c
        opts.append("dw")
        if co is not None:
            opts.append(str(co))
        co = co or c
    else:
        co = draw(st.integers(1, 12))
        common = [g for g in divisors(math.gcd(c, co)) if g > 1]
        if group == 1 and common:
            g = pick(draw, *common)
            opts.append(pick(draw, f"g{g}", f"g={g}"))
        opts.append(pick(draw, str(co), str(co), f"c={co}"))
    opts.append(pick(draw, "", "", "", "nobias", "bias"))
    del pad
    return "conv " + " ".join(o for o in opts if o), (co, *out_hw)


def deconv_layer(draw, shape):
    c, h, w = shape
    k = pick(draw, 1, 2, 2, 3, 4)
    s = pick(draw, 1, 2, 2, 3)
    d = pick(draw, 1, 1, 2) if k > 1 else 1
    op = draw(st.integers(0, max(s, d) - 1))
    top = ((min(h, w) - 1) * s + d * (k - 1) + op) // 2
    p = draw(st.integers(0, min(top, (d * (k - 1)) // 2 + 1)))
    opts = [f"k{k}", f"s{s}" if s != 1 else "", f"p{p}" if p else "",
            f"d{d}" if d != 1 else "", f"op{op}" if op else ""]
    if draw(st.integers(0, 4)) == 0:
        co = c
        opts.append("dw")
    else:
        co = draw(st.integers(1, 12))
        common = [g for g in divisors(math.gcd(c, co)) if g > 1]
        if common and draw(st.integers(0, 3)) == 0:
            opts.append(f"g{pick(draw, *common)}")
        opts.append(str(co))
    opts.append(pick(draw, "", "", "nobias"))
    out = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n in (h, w))
    return "deconv " + " ".join(o for o in opts if o), (co, *out)


def pool_layer(draw, shape):
    c, h, w = shape
    kind = pick(draw, "maxpool", "avgpool")
    k = pick(draw, 2, 2, 3, 3)
    s = pick(draw, None, None, 1, 2)
    stride = s or k
    p = draw(st.integers(0, k // 2))
    if min(h, w) + 2 * p < k:
        p = k // 2
    if min(h, w) + 2 * p < k:
        return "id", shape
    ceil = draw(st.integers(0, 3)) == 0
    opts = [kind, f"k{k}", f"s{s}" if s else "", f"p{p}" if p else "", "ceil" if ceil else ""]
    if kind == "avgpool" and draw(st.integers(0, 2)) == 0:
        opts.append("exclude_pad")
    out = tuple(window_out(n, k, stride, p, 1, ceil) for n in (h, w))
    return " ".join(o for o in opts if o), (c, *out)


def adaptive_layer(draw, shape):
    c, h, w = shape
    kind = pick(draw, "gap", "gap", "gmp")
    form = draw(st.integers(0, 3))
    if form == 0:
        return kind, (c, 1, 1)
    oh = draw(st.integers(1, max(1, min(h + 1, 6))))
    ow = draw(st.integers(1, max(1, min(w + 1, 6))))
    if form == 1 and oh == ow:
        return f"{kind} {oh}", (c, oh, oh)
    return f"{kind} {oh}x{ow}", (c, oh, ow)


def upsample_layer(draw, shape):
    c, h, w = shape
    mode = pick(draw, "", "", " mode=nearest", " mode=bilinear", " mode=bilinear align_corners")
    form = draw(st.integers(0, 3))
    if form == 0:
        return "upsample" + mode, (c, 2 * h, 2 * w)
    if form == 1:
        f = pick(draw, 2, 3)
        return f"upsample {f}{mode}", (c, f * h, f * w)
    n = draw(st.integers(1, 12))
    if form == 2:
        return f"upsample size={n}{mode}", (c, n, n)
    m = draw(st.integers(1, 12))
    return f"upsample size=[{n},{m}]{mode}", (c, n, m)


ACTS = ("relu", "relu6", "gelu", "silu", "tanh", "sigmoid", "leaky(0.1)", "leaky 0.2", "elu",
        "id", "hardswish", "hardsigmoid", "prelu", "prelu in", "softmax", "scale 0.5",
        "dropout", "dropout 0.1", "droppath 0.1", "droppath 0.2 mode=batch", "layerscale",
        "layerscale 0.5")
POINTWISE_CL = ("relu", "gelu", "silu", "tanh", "sigmoid", "hardswish", "scale 0.5",
                "dropout 0.1", "droppath 0.1", "id")


def norm_layer(draw, shape):
    c, h, w = shape
    kinds = ["bn", "bn", "bn eps=1e-3", "bn momentum=0.01", "ln", "gn", "lrn size=3"]
    if h * w > 1:  # `inorm` on one position is an error (torch refuses it in training)
        kinds += ["inorm", "inorm affine"]
    kind = pick(draw, *kinds)
    if kind == "gn":
        g = pick(draw, *divisors(c))
        kind = pick(draw, f"gn {g}", f"gn g{g}")
    return kind, shape


def channel_layer(draw, shape):
    c, h, w = shape
    if c % 2 == 0 and draw(st.booleans()):
        n = pick(draw, *[d for d in divisors(c) if d > 1])
        i = draw(st.integers(0, n - 1))
        return (f"chunk {n}" if i == 0 and draw(st.booleans()) else f"chunk {n} i={i}"), \
            (c // n, h, w)
    g = pick(draw, *divisors(c))
    return pick(draw, f"shuffle {g}", f"shuffle g{g}"), shape


def nhwc_region(draw, shape):
    c, h, w = shape
    parts, cur = ["nhwc"], c
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 4))
        if kind == 0:
            parts.append(pick(draw, "ln", "ln eps=1e-6"))
        elif kind == 1:
            cur = draw(st.integers(1, 16))
            parts.append(f"fc {cur}" + pick(draw, "", "", " nobias"))
        elif kind == 2:
            parts.append(pick(draw, *POINTWISE_CL))
        else:
            hidden = draw(st.integers(1, 16))
            parts.append(f"residual< {pick(draw, 'ln ', '')}fc {hidden} "
                         f"{pick(draw, *POINTWISE_CL)} fc {cur} >")
    parts.append("nchw")
    return " ".join(parts), (cur, h, w)


# ---------------------------------------------------------------- composites

def match(draw, shape, target, channels=True):
    """Layers that bring `shape` to `target` (to its height and width only, if not channels)."""
    texts = []
    c, h, w = shape
    tc, th, tw = target
    if (h, w) != (th, tw):
        texts.append(pick(draw, f"gap {th}x{tw}", f"gmp {th}x{tw}", f"upsample size=[{th},{tw}]",
                          f"upsample size=[{th},{tw}] mode=bilinear"))
    if channels and c != tc:
        texts.append(pick(draw, f"conv k1 {tc}", f"conv k3 p1 {tc} nobias bn"))
        c = tc
    return texts, (c, th, tw)


def layers(draw, ctx, shape, depth, min_size=1, max_size=3):
    """A sequence of items: (texts, shape, made something)."""
    texts, made = [], False
    for _ in range(draw(st.integers(min_size, max_size))):
        text, shape, m = item(draw, ctx, shape, depth)
        texts.append(text)
        made |= m
        if shape[0] > MAX_C:
            texts.append(f"conv k1 {draw(st.integers(1, 12))}")
            shape = (int(texts[-1].split()[-1]), *shape[1:])
    return texts, shape, made


def branch(draw, ctx, shape, depth, max_size=2, allow_label=False):
    """One branch of a composite, maybe labelled, maybe starting from an earlier tensor."""
    start = []
    if allow_label and ctx.labels and draw(st.integers(0, 2)) == 0:
        name = pick(draw, *sorted(ctx.labels))
        start, shape = [f"@{name}"], ctx.labels[name]
    texts, shape, made = layers(draw, ctx, shape, depth + 1, 0 if start else 1, max_size)
    ctx.made = made
    if draw(st.integers(0, 6)) == 0 and texts and not ctx.in_repeat:
        ctx.branch_labels += 1
        texts[0] = f"{BRANCH_LABELS[ctx.branch_labels % len(BRANCH_LABELS)]}{ctx.branch_labels}: " \
                   + texts[0]
    return start + texts, shape


def joined(texts):
    return " ".join(texts) if texts else "id"


def residual_item(draw, ctx, shape, depth):
    body, out = branch(draw, ctx, shape, depth)
    kind = draw(st.integers(0, 3))
    tail = pick(draw, "", "", " relu", " gelu")
    if kind == 0:  # plain: the body brought back to the input's shape
        fix, out = match(draw, out, shape)
        return f"residual< {joined(body + fix)} >{tail}", shape, True
    if kind == 1:  # an explicit shortcut
        pre, s_out = layers(draw, ctx, shape, depth + 1, 0, 1)[:2]
        fix, _ = match(draw, s_out, out)
        return f"residual< {joined(body)} | {joined(pre + fix)} >{tail}", out, True
    if kind == 2:  # proj: a 1x1 strided conv must map the input onto the body's output
        ok = all(any((n - 1) // s + 1 == m for s in range(1, max(shape[1:]) + 1))
                 for n, m in zip(shape[1:], out[1:]))
        if not ok:
            s = pick(draw, 1, 2)
            fix, out = match(draw, out, (out[0], -(-shape[1] // s), -(-shape[2] // s)))
            body = body + fix
        return f"residual(proj)< {joined(body)} >{tail}", out, True
    # when=COND: the skip only where the condition holds, which needs the shape kept
    keeps = out == shape
    truth = draw(st.booleans()) and keeps
    made = ctx.made or truth
    cond = condition(draw, ctx, truth, shape)
    return f"residual(when={cond})< {joined(body)} >{tail}", out, made or bool(tail)


def condition(draw, ctx, truth, shape):
    """A condition that evaluates to `truth`: on `in` or on a spec param."""
    c = shape[0]
    if ctx.params and draw(st.booleans()):
        name, value = pick(draw, *sorted(ctx.params.items()))
        return pick(draw, *([f"{name} == {value}", f"{name} >= {value}", f"not {name} != {value}",
                             f"{name} == {value} and in == {c}"] if truth else
                            [f"{name} != {value}", f"{name} >= {value + 1}",
                             f"{name} == {value} and in != {c}",
                             f"{name} <= {value - 1} or in == {c + 1}"]))
    return pick(draw, *([f"in == {c}", f"in >= {c}", f"in <= {c} and {c} >= 1"] if truth
                        else [f"in != {c}", f"in == {c + 1}", f"in >= {c + 1}"]))


def add_item(draw, ctx, shape, depth):
    first, out = branch(draw, ctx, shape, depth)
    branches = [joined(first)]
    for _ in range(draw(st.integers(1, 2))):
        texts, b_out = branch(draw, ctx, shape, depth, allow_label=True)
        fix, _ = match(draw, b_out, out)
        branches.append(joined(texts + fix))
    order = draw(st.permutations(branches))
    return "add< " + " | ".join(order) + " >", out


def concat_item(draw, ctx, shape, depth):
    word = pick(draw, "concat", "inception")
    first, out = branch(draw, ctx, shape, depth)
    made = ctx.made
    branches, c = [joined(first)], out[0]
    for _ in range(draw(st.integers(0, 2))):
        if draw(st.integers(0, 3)) == 0:
            texts, b_out = [], shape
        else:
            texts, b_out = branch(draw, ctx, shape, depth, allow_label=True)
        fix, b_out = match(draw, b_out, out, channels=False)
        branches.append(joined(texts + fix))
        c += b_out[0]
    order = draw(st.permutations(branches))
    return f"{word}< " + " | ".join(order) + " >", (c, *out[1:]), made or len(order) > 1


def gate_item(draw, ctx, shape, depth):
    c, h, w = shape
    kind = draw(st.integers(0, 2))
    squash = pick(draw, "sigmoid", "sigmoid", "hardsigmoid", "tanh")
    if kind == 0:  # squeeze and excitation
        r = max(1, c // pick(draw, 1, 2, 4))
        return f"gate< {pick(draw, 'gap', 'gmp')} conv k1 {r} {pick(draw, 'relu', 'silu')} " \
               f"conv k1 {c} {squash} >", shape
    if kind == 1:  # spatial attention: one channel
        k = pick(draw, 1, 3, 7)
        return f"gate< conv k{k} p{k // 2} 1 {squash} >", shape
    body, out = branch(draw, ctx, shape, depth)
    target = (pick(draw, c, 1), *pick(draw, (h, w), (1, 1)))
    fix, _ = match(draw, out, target)
    return f"gate< {' '.join(body + fix)} {squash} >", shape


def repeat_item(draw, ctx, shape, depth):
    kind = draw(st.integers(0, 2))
    if kind == 0:  # a group brought back to its input's shape, repeated
        ctx.in_repeat += 1
        texts, out, _ = layers(draw, ctx, shape, depth + 1, 1, 2)
        ctx.in_repeat -= 1
        fix, _ = match(draw, out, shape)
        n = draw(st.integers(0, 3))
        count = pick(draw, f" * {n}", f" x{n}") if n else " * 0"
        return f"({' '.join(texts + fix)}){count}", shape, n > 0
    if kind == 1:  # any group, once or not at all
        texts, out, _ = layers(draw, ctx, shape, depth + 1, 1, 2)
        n = draw(st.integers(0, 1))
        return f"({' '.join(texts)}) * {n}", (out if n else shape), n > 0
    n = draw(st.integers(0, 3))  # repeat(n, i)< > with the index in the body
    a = draw(st.integers(1, 4))
    act = pick(draw, "", " relu", " bn relu")
    if draw(st.booleans()):
        return f"repeat({n}, i)< conv k1 {a}*(i+1){act} >", \
            ((a * n, *shape[1:]) if n else shape), n > 0
    c = draw(st.integers(1, 8))
    ctx.branch_labels += 1
    label = pick(draw, "", f'"blk{ctx.branch_labels}_{{i}}": ', f'"r-{ctx.branch_labels}-{{i}}": ')
    return f"repeat({n}, i)< {label}conv k3 p1 {c}{act} >", \
        ((c, *shape[1:]) if n else shape), n > 0


DENSE_BODIES = ("bn relu conv k3 p1 k", "conv k1 k relu", "gn 1 conv k3 p1 k gelu",
                "bn relu conv k1 2*k bn relu conv k3 p1 k nobias", "conv k3 p1 dw conv k1 k")


def dense_item(draw, ctx, shape, depth):
    n, k = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    body = pick(draw, None, *DENSE_BODIES)
    text = f"dense(n={n}, k={k})" + (f"< {body} >" if body else "")
    return text, (shape[0] + n * k, *shape[1:])


# ---------------------------------------------------------------- blocks

# (text, rule): the rule maps (channels, h, w) and the call's arguments to the output; every
# template is valid for any input of at least 1x1, so a block is valid wherever it is called.
def _same(shape, a):
    return shape


def _c_strided(shape, a):
    return (a["c"], -(-shape[1] // a["s"]), -(-shape[2] // a["s"]))


def _proj(shape, a):
    return _c_strided(shape, a)


BLOCK_TEMPLATES = (
    ("conv k3 s=s p1 c nobias bn act", _c_strided, True),
    ("conv k1 c bn act", lambda sh, a: (a["c"], *sh[1:]), True),
    ("conv k3 p1 dw act", _same, False),
    ("residual(when=s == 1 and in == c)< conv k3 s=s p1 c bn act conv k1 c bn >", _c_strided,
     True),
    ("residual(proj)< conv k3 s=s p1 c bn act conv k3 p1 c bn > act", _proj, True),
    ("(conv k1 in*e bn act) if e != 1", lambda sh, a: (sh[0] * a["e"], *sh[1:]), False),
    ("seq< conv k1 c bn act >", lambda sh, a: (a["c"], *sh[1:]), True),
    ("repeat(2, i)< conv k3 p1 c act >", lambda sh, a: (a["c"], *sh[1:]), True),
    ("gate< conv k3 p1 1 sigmoid >", _same, False),
    ("concat< conv k1 c | conv k3 p1 c act >", lambda sh, a: (2 * a["c"], *sh[1:]), False),
    ("act", _same, False),
)
SE_TEMPLATE = ("gate< gap conv k1 max(c//4, 1) relu conv k1 c sigmoid >", _same, True)
BLOCK_ACTS = ("relu", "gelu", "id", "hardswish", "leaky(0.2)", "silu", "relu6")


@dataclass
class Block:
    name: str
    rules: list
    act: str
    default_e: int
    stem: bool = False  # no parameters

    def apply(self, shape, args):
        for rule in self.rules:
            shape = rule(shape, args)
        return shape


def block_def(draw, index):
    name = f"b{index}" if index else pick(draw, "unit", "cba", "stage_1")
    if draw(st.integers(0, 4)) == 0:  # a block without parameters
        c = draw(st.integers(1, 8))
        text = f"block stem{index}: conv k3 p1 {c} bn relu"
        return text, Block(f"stem{index}", [lambda sh, a, c=c: (c, *sh[1:])], "relu", 1, True)
    act, e = pick(draw, *BLOCK_ACTS), pick(draw, 1, 2)
    body, rules, gives_c = [], [], False
    for _ in range(draw(st.integers(1, 3))):
        if gives_c and draw(st.integers(0, 3)) == 0:
            text, rule, gives_c = SE_TEMPLATE
        else:
            text, rule, gives_c = pick(draw, *BLOCK_TEMPLATES)
        body.append(text)
        rules.append(rule)
    if all(t in ("act", BLOCK_TEMPLATES[5][0]) for t in body):  # `act=id`, e=1: no layer
        body.append(BLOCK_TEMPLATES[1][0])
        rules.append(BLOCK_TEMPLATES[1][1])
    head = f"block {name}(c, s=1, act={act}, e={e}):"
    if draw(st.integers(0, 3)) == 0:
        body.insert(0, pick(draw, "default bn eps=1e-3", "default bn momentum=0.01 eps=1e-4"))
    if draw(st.booleans()):
        text = "\n".join([head] + ["    " + b for b in body])
    else:
        text = head + " " + " ".join(b for b in body if not b.startswith("default"))
    return text, Block(name, rules, act, e)


def call_item(draw, ctx, shape, depth):
    block = pick(draw, *ctx.blocks)
    if block.stem:
        return block.name, block.apply(shape, {})
    c = draw(st.integers(1, 12))
    args = {"c": c, "s": pick(draw, 1, 1, 2), "e": pick(draw, block.default_e, 1, 2)}
    parts = [pick(draw, str(c), f"c={c}")]
    if args["s"] != 1 or draw(st.booleans()):
        parts.append(pick(draw, f"s={args['s']}", str(args["s"])) if parts[0] == str(c)
                     else f"s={args['s']}")
    if args["e"] != block.default_e or draw(st.integers(0, 3)) == 0:
        parts.append(f"e={args['e']}")
    if draw(st.integers(0, 2)) == 0:
        parts.append(f"act={pick(draw, *BLOCK_ACTS)}")
    out = block.apply(shape, args)
    text = f"{block.name}({', '.join(parts)})"
    if out[0] <= MAX_C and draw(st.integers(0, 4)) == 0:
        again = block.apply(out, args)
        if again[0] <= MAX_C:
            return f"{text} * 2", again
    return text, out


# ---------------------------------------------------------------- items

def item(draw, ctx, shape, depth=0):
    """One layer or composite for a tensor of `shape`: (text, shape after, made something)."""
    c, h, w = shape
    kinds = ["conv"] * 4 + ["act"] * 2 + ["norm", "channel", "nhwc", "adaptive"]
    if min(h, w) >= 2:
        kinds += ["pool"] * 2
    if max(h, w) <= 8:
        kinds += ["upsample", "deconv"]
    if depth < 2:
        kinds += ["residual"] * 2 + ["add", "concat", "gate", "repeat", "seq", "dense", "cond"]
    if ctx.blocks:
        kinds += ["call"] * 2
    kind = pick(draw, *kinds)
    if kind == "conv":
        text, out = conv_layer(draw, shape)
        tail = pick(draw, "", "", " bn", " bn relu", " relu", " nobias bn")
        if tail == " nobias bn":
            text, tail = (text if text.endswith(("nobias", "bias")) else text + " nobias"), " bn"
        return text + tail, out, True
    if kind == "deconv":
        text, out = deconv_layer(draw, shape)
        return text, out, True
    if kind == "act":
        text = pick(draw, *ACTS)
        return text, shape, text != "id"  # `id` is the same tensor
    simple = {"norm": norm_layer, "channel": channel_layer, "nhwc": nhwc_region,
              "adaptive": adaptive_layer, "pool": pool_layer, "upsample": upsample_layer}
    if kind in simple:  # layers that always make a tensor of their own
        return (*simple[kind](draw, shape), True)
    if kind == "residual":
        return residual_item(draw, ctx, shape, depth)
    if kind == "add":
        return (*add_item(draw, ctx, shape, depth), True)
    if kind == "concat":
        return concat_item(draw, ctx, shape, depth)
    if kind == "gate":
        return (*gate_item(draw, ctx, shape, depth), True)
    if kind == "repeat":
        return repeat_item(draw, ctx, shape, depth)
    if kind == "seq":
        texts, out, made = layers(draw, ctx, shape, depth + 1, 1, 3)
        return f"seq< {' '.join(texts)} >", out, made
    if kind == "dense":
        return (*dense_item(draw, ctx, shape, depth), True)
    if kind == "call":
        return (*call_item(draw, ctx, shape, depth), True)
    # cond: `X if COND` keeps X only where COND holds
    text, out, made = item(draw, ctx, shape, depth + 1)
    truth = draw(st.booleans())
    if ctx.params and draw(st.booleans()):
        name, value = pick(draw, *sorted(ctx.params.items()))
        cond = f"{name} == {value}" if truth else f"{name} != {value}"
    else:
        cond = pick(draw, "1 == 1", "2 >= 1") if truth else pick(draw, "1 == 2", "not 1 == 1")
    return f"({text}) if {cond}", (out if truth else shape), made and truth


ENDS = ("", "", "gap flatten fc {n}", "flatten fc {n} bn", "gap flatten dropout 0.2 fc {n}",
        "gmp flatten fc 8 relu fc {n}", "flatten fc {n} nobias bn relu", "gap flatten fc {n}")


@st.composite
def valid_spec(draw) -> str:
    h = draw(st.sampled_from((4, 8, 16)))
    w = h if draw(st.integers(0, 3)) else draw(st.sampled_from((3, 5, 8, 12)))
    channels = draw(st.integers(1, 4))
    ctx = Ctx()
    lines = [f"network {draw(st.sampled_from(('Net', 'class', 'import', 'N2')))}"]
    for name in draw(st.lists(st.sampled_from(("flag", "width")), unique=True, max_size=2)):
        value = draw(st.integers(0, 2) if name == "flag" else st.integers(1, 8))
        ctx.params[name] = value
        lines.append(f"param {name} = {value}")
    lines.append(f"input {channels}x{h}x{w}")
    for index in range(draw(st.integers(0, 2))):
        text, block = block_def(draw, index)
        lines.append(text)
        ctx.blocks.append(block)
    if draw(st.integers(0, 4)) == 0:
        lines.append(pick(draw, "default bn eps=1e-3", "default bn eps=1e-3 momentum=0.01"))
    shape = (channels, h, w)
    if "width" in ctx.params and draw(st.booleans()):
        lines.append("conv k3 p1 width bn relu")
        shape = (ctx.params["width"], h, w)
    names = list(draw(st.permutations(LABELS)))
    last_label = None
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.integers(0, 5)) == 0 and lines[-1:] and not lines[-1].startswith("aux"):
            # an aux head off the current tensor or an earlier label: trains, returns apart
            start, a_shape = [], shape
            if ctx.labels and draw(st.booleans()):
                name = pick(draw, *sorted(ctx.labels))
                start, a_shape = [f"@{name}"], ctx.labels[name]
            texts, a_shape, made = layers(draw, ctx, a_shape, 1, 0 if start else 1, 2)
            head = pick(draw, "", "gap flatten fc 3", "flatten fc 2")
            if not head and not (made and "conv" in " ".join(texts)):  # a layer, not just `id`
                head = "gap flatten fc 3"
            lines.append("aux< " + joined(start + texts + ([head] if head else [])) + " >")
        texts, shape, made = layers(draw, ctx, shape, 0, 1, 2)
        text = " ".join(texts)
        if draw(st.integers(0, 2)) == 0 and names:
            last_label = names.pop()
            text = f"{last_label}: {text}"
            if made:
                ctx.labels[last_label] = shape
        else:
            last_label = None
        lines.append(text)
    end = draw(st.sampled_from(ENDS)).format(n=draw(st.integers(1, 10)))
    if end:
        last_label = "logits" if draw(st.booleans()) else None
        lines.append(f"logits: {end}" if last_label else end)
        if last_label:
            ctx.labels[last_label] = None
    taps = [n for n in ctx.labels if n != last_label]
    if last_label in ctx.labels and taps and draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(taps), unique=True, min_size=1, max_size=2))
        outs = draw(st.permutations(chosen + [last_label]))
        lines.append("output " + " ".join(f"@{o}" for o in outs))
    return "\n".join(lines) + "\n"


@st.composite
def mutated_spec(draw) -> str:
    """A valid spec with a few edits: a half-written spec from an editor."""
    text = draw(valid_spec())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(("insert", "delete", "duplicate", "truncate")))
        if edit == "insert":
            text = text[:at] + draw(st.sampled_from(WORDS)) + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
        elif edit == "duplicate":
            text = text[:at] + text[at:at + 20] * draw(st.integers(2, 40)) + text[at:]
        else:
            text = text[:at]
    return text


def word_soup() -> st.SearchStrategy[str]:
    """Random sequences of the language's words and junk."""
    return st.lists(st.sampled_from(WORDS) | st.text(max_size=3), max_size=40).map(" ".join)
