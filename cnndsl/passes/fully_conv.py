"""fully_conv: the `fc` layers that follow a spatial map become convs, for dense evaluation.

# NOTE: fully convolutional networks
# (CS231n, "Converting FC layers to CONV layers".) An `fc` that reads a flattened CxHxW
# map is a conv whose kernel covers the map: `conv kHxW` with the same outputs and bias,
# its weight the fc's viewed as (out, C, H, W) (flatten keeps C outermost, so the orders
# agree). Every `fc` after it reads one vector per position and becomes a `conv k1`. The
# `flatten` goes; what lies between acts per element (activations, dropout, `scale`) or,
# after the first fc, per channel (`bn`, `ln`, `softmax`, merges), so it stays. At the
# input size the fcs were made for, the network computes what it did, as a 1x1 score map;
# a larger input slides the fc network over it with the stride of the map (32 in VGG) and
# gives an H'xW' map of scores, each the fc network applied to one window of the input.
# H and W are those of the map at the size the fcs were made for, the spec's input
# (`trained`); the network converted may be lowered at another size.
# Where there is nothing to slide, the pass says so at the layer that is in the way:
#   a global pool (`gap`, `gmp`) before the flatten: the fc sees the mean of the map,
#     whatever its size (an `avgpool` over the map's size at the spec's input, stride 1,
#     would slide instead);
#   an fc on a flat input (the network's input is a vector);
#   a layer after the flatten that mixes positions (`rbf`, `ln` over a whole flattened
#     map, custom layers), or a network that ends with the flattened map itself.
# A network without any `fc` is already fully convolutional: a usage error says so.
# Module names stay (`classifier.0` is the conv that was the fc), so a trained checkpoint
# loads once each converted weight is reshaped; `network.meta["fully_conv"]` lists them.
"""
from __future__ import annotations

from ..errors import CnnShapeError, CnnUsageError
from ..ops import ChannelsLast, lookup
from ..ops.geometry import fmt_pair, fmt_shape
from .infer_shapes import infer_shapes

# Kinds of converted tensors: a flattened map (a tuple: its C, H, W where the fc was made)
# or one vector of features per position (VECTOR), after the first converted fc.
VECTOR = "vector"
_ELEMENTWISE = ("dropout", "droppath", "add")  # plus the activations but softmax, prelu
_PER_CHANNEL = ("softmax", "prelu", "bn", "ln", "concat", "mul")


def fully_conv(network, *, trained=None, inplace: bool = False, **_opts):
    """A copy of `network` whose fcs after a spatial map are convs (see the NOTE).

    `trained`: the same spec lowered at the input size the fcs were made for (its shapes
    give the kernels); `network` itself by default."""
    net = network.for_pass(inplace)
    trained = trained if trained is not None else network
    trained_shapes = {trained.node(n)["name"]: trained.node(n)["meta"]["shape"]
                      for n in trained.nodes()}
    flat_fcs = [n for n in net.layers() if net.node(n)["op"] == "fc" and not isinstance(
        net.node(net.inputs(n)[0])["meta"]["shape"], ChannelsLast)]
    if not flat_fcs:
        raise CnnUsageError(f"`fully_conv`: {net.name} has no `fc` layer to turn into a conv",
                            hint="build it without fully_conv: a network of convs and pools "
                                 "alone gives a score map on larger inputs as written (if "
                                 "it does not end with `flatten`)")
    kinds: dict[int, object] = {}
    flattens: dict[int, int] = {}  # a converted tensor's node -> the flatten it came from
    converted: list[str] = []
    bypassed: list[int] = []  # the flattens: their readers read their input instead
    for n in list(net.nodes()):
        attrs = net.node(n)
        if attrs["op"] == "input":
            continue
        ins = net.inputs(n)
        in_kinds = [kinds.get(i) for i in ins]
        if attrs["op"] == "flatten" and in_kinds[0] is None:
            shape = trained_shapes.get(net.node(ins[0])["name"])
            if shape is None or len(shape) == 1:
                continue  # a flatten of a flat vector: nothing to do
            if isinstance(shape, ChannelsLast):
                raise CnnShapeError("`fully_conv` cannot convert an fc after a channels-last "
                                    "map", attrs["span"], "put `nchw` before the `flatten`")
            kinds[n], flattens[n] = tuple(shape), n
            bypassed.append(n)
            bypassed.extend(_slide_adaptive_pools(net, trained, n))
            continue
        if not any(k is not None for k in in_kinds):
            continue
        kind = _merged_kind(net, n, in_kinds)
        origin = flattens[next(i for i in ins if i in kinds)]
        if attrs["op"] == "fc":
            if kind != VECTOR:
                _require_window(trained, net.node(origin)["name"])
            _to_conv(net, n, kind, origin, trained.input_shape)
            converted.append(attrs["name"])
            kind = VECTOR
        elif attrs["op"] == "flatten":  # of a flat vector: the identity, not on a map
            bypassed.append(n)
        elif not _carries(attrs, kind):
            _cannot_carry(net, n, kind)
        kinds[n], flattens[n] = kind, origin
    if not converted:
        attrs = net.node(flat_fcs[0])
        raise CnnShapeError(
            "`fully_conv`: this fc reads a flat vector, not a flattened spatial map, so "
            "there is no map to slide it over", attrs["span"],
            "fully_conv converts the fc layers that follow `flatten` of a CxHxW map")
    for end in (*net.outputs, *net.aux_outputs):
        if isinstance(kinds.get(end), tuple):
            raise CnnShapeError(
                "`fully_conv`: no `fc` follows this `flatten`, so the network would return "
                "the map itself", net.node(flattens[end])["span"],
                "convert networks whose `fc` layers read the flattened map")
    for n in bypassed:
        _bypass(net, n)
    net.meta["fully_conv"] = converted
    return infer_shapes(net, inplace=True)


def _require_window(trained, flatten: str) -> None:
    """The map that the flatten named `flatten` reads is not globally pooled."""
    pool = _global_pool_before(trained, trained.by_name(flatten))
    if pool is not None:
        op = trained.node(pool)
        raise CnnShapeError(
            f"`fully_conv`: `{op['op']}` pools the whole map to 1x1 before the fc, so there "
            "is no window to slide: the fc sees one vector at any input size",
            op["span"], f"for a score map, pool over the map's size with stride 1 (`avgpool "
                        f"k{_kernel_text(_map_before(trained, pool))} s1`) instead, or build "
                        "without fully_conv")


def _slide_adaptive_pools(net, trained, flatten: int) -> list[int]:
    """The adaptive pool to a size (`gap 7x7`, torchvision's VGG and AlexNet) that the
    flatten reads through pointwise layers, made to slide: one that is the identity at the
    trained size goes (returned, to bypass), one that pools by a whole factor becomes that
    window, `avgpool k2`; any other has windows of different sizes and is an error."""
    n, _ = _window_before(net, flatten)
    attrs = net.node(n) if n is not None else {}
    if attrs.get("op") not in ("gap", "gmp") or tuple(attrs["opts"]["size"]) == (1, 1):
        return []
    size = tuple(attrs["opts"]["size"])
    hw = _map_before(trained, trained.by_name(attrs["name"]))
    if hw == size:
        return [n]
    if any(a % b for a, b in zip(hw, size)):
        raise CnnShapeError(
            f"`fully_conv`: `{attrs['op']} {fmt_pair(size)}` pools the {fmt_pair(hw)} map "
            "into windows of different sizes, which cannot slide over a larger input",
            attrs["span"], "pool with a fixed window (`avgpool k2`) or build without fully_conv")
    k = tuple(a // b for a, b in zip(hw, size))
    op = "avgpool" if attrs["op"] == "gap" else "maxpool"
    opts = lookup(op).defaults()
    opts.update(k=k, s=k)
    attrs["op"], attrs["opts"] = op, opts
    return []


def _window_before(net, flatten: int) -> tuple[int | None, object]:
    """The first layer with a spatial receptive-field rule that the flatten reads through
    pointwise one-input layers, and its rule ("global" or the windows); (None, None) if
    there is none."""
    n = net.inputs(flatten)[0]
    while net.node(n)["op"] != "input":
        attrs = net.node(n)
        spec = lookup(attrs["op"])
        ins = [net.node(i)["meta"]["shape"] for i in net.inputs(n)]
        rule = spec.rf(attrs["opts"], ins) if spec.rf is not None else None
        if rule is not None:
            return n, rule
        if len(ins) != 1:
            return None, None
        n = net.inputs(n)[0]
    return None, None


def _global_pool_before(net, flatten: int) -> int | None:
    """The `gap`/`gmp` whose output the flatten reads through pointwise layers, if any."""
    n, rule = _window_before(net, flatten)
    return n if rule == "global" else None


def _map_before(net, n: int) -> tuple[int, int]:
    return tuple(net.node(net.inputs(n)[0])["meta"]["shape"][1:])


def _merged_kind(net, n: int, in_kinds: list):
    """The kind of a layer's output from its inputs': they must agree (see the NOTE)."""
    attrs = net.node(n)
    if any(k is None for k in in_kinds):
        raise CnnShapeError(f"`fully_conv`: `{attrs['op']}` merges a converted fc path with "
                            "a tensor that is not converted", attrs["span"],
                            "merge only paths that come from the same flattened map")
    first = in_kinds[0]
    if all(k == first for k in in_kinds):
        return first
    if attrs["op"] == "concat" and all(isinstance(k, tuple) for k in in_kinds) and \
            len({k[1:] for k in in_kinds}) == 1:  # flatten(cat(a, b)) == cat(flatten(a), ...)
        return (sum(k[0] for k in in_kinds), *first[1:])
    raise CnnShapeError(f"`fully_conv`: `{attrs['op']}` merges tensors of different kinds "
                        f"({', '.join(_kind_text(k) for k in in_kinds)})", attrs["span"])


def _kind_text(kind) -> str:
    return "a vector per position" if kind == VECTOR else f"a flattened {fmt_shape(kind)} map"


def _carries(attrs: dict, kind) -> bool:
    """Whether the layer acts the same on the converted tensor as on the flat one."""
    op = attrs["op"]
    spec = lookup(op)
    pointwise = op in _ELEMENTWISE or (spec.family == "activation"
                                       and op not in ("softmax", "prelu"))
    if op == "prelu" and attrs["opts"]["n"] == 1:
        pointwise = True
    if kind == VECTOR:
        return pointwise or op in _PER_CHANNEL
    return pointwise or op == "concat"


def _cannot_carry(net, n: int, kind) -> None:
    attrs = net.node(n)
    what = ("between the flatten and the first fc acts on the whole flattened map, not on "
            "each element" if kind != VECTOR else
            "after the converted fc does not act at each position on its own")
    raise CnnShapeError(f"`fully_conv` cannot convert the network: `{attrs['op']}` {what}, so "
                        "it cannot run over a score map", attrs["span"],
                        "fully_conv converts fc heads of fc, activation, dropout and "
                        "normalisation layers")


def _to_conv(net, n: int, kind, origin: int, trained_input) -> None:
    """The fc `n` becomes `conv kHxW` (after the flattened map) or `conv k1`."""
    attrs = net.node(n)
    fc = attrs["opts"]
    if kind == VECTOR:
        k = (1, 1)
    else:
        k = tuple(kind[1:])
        source = net.node(net.inputs(origin)[0])
        here = source["meta"]["shape"]
        if any(a < b for a, b in zip(here[1:], k)):
            raise CnnShapeError(
                f"`fully_conv`: this fc was made for a {fmt_shape(kind)} map, but the input "
                f"{fmt_shape(net.input_shape)} gives {fmt_shape(here)} here", attrs["span"],
                f"use an input at least as large as {fmt_shape(trained_input)}, the one "
                "the fc was made for")
    conv = lookup("conv").defaults()
    conv.update(k=k, c=fc["c"], bias=fc["bias"])
    attrs["op"], attrs["opts"] = "conv", conv


def _bypass(net, n: int) -> None:
    """Remove `n` (a flatten, an identity pool): its readers read its input (outputs and
    asserts follow)."""
    import dataclasses

    g = net.graph
    source = net.inputs(n)[0]
    for _, reader, index in list(g.out_edges(n, data="index")):
        g.add_edge(source, reader, index=index)
    g.remove_node(n)
    if net.output == n:
        net.output = source
    net.aux_outputs = [source if a == n else a for a in net.aux_outputs]
    net.extra_outputs = [source if a == n else a for a in net.extra_outputs]
    net.contracts = [dataclasses.replace(c, node=source) if c.node == n else c
                     for c in net.contracts]


def _kernel_text(hw: tuple[int, int]) -> str:
    return str(hw[0]) if hw[0] == hw[1] else fmt_pair(hw)


def convert_like(network, like):
    """`network` (another lowering of the same spec: the torch backend's probes, with
    symbolic params) converted as `like`, a fully convolutional network, was: its layers
    named like `like`'s converted ones become those convs (their own output counts kept),
    and its flattens that `like` lost go. Shapes are inferred again."""
    converted = set(like.meta.get("fully_conv", ()))
    kept = {like.node(n)["name"] for n in like.nodes()}
    net = network.copy()
    for n in list(net.nodes()):
        attrs = net.node(n)
        if attrs["name"] in converted and attrs["op"] == "fc":
            conv = lookup("conv").defaults()
            conv.update(k=like.node(like.by_name(attrs["name"]))["opts"]["k"],
                        c=attrs["opts"]["c"], bias=attrs["opts"]["bias"])
            attrs["op"], attrs["opts"] = "conv", conv
        elif attrs["op"] in ("flatten", "gap", "gmp") and attrs["name"] not in kept:
            _bypass(net, n)
        elif attrs["op"] in ("gap", "gmp") and \
                like.node(like.by_name(attrs["name"]))["op"] != attrs["op"]:
            twin = like.node(like.by_name(attrs["name"]))  # an adaptive pool made to slide
            attrs["op"], attrs["opts"] = twin["op"], dict(twin["opts"])
    net.meta["fully_conv"] = sorted(converted)
    return infer_shapes(net, inplace=True)
