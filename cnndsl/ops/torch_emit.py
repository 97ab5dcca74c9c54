"""How each built-in layer becomes PyTorch: the `torch` slot of the ops table.

Each rule takes the resolved options, the input shapes and the output shape and returns a
constructor expression as source text. Only numbers and fixed words go into that text, never
a string from a spec. A layer without a module (`chunk`, `shuffle`) has instead an
`extras["torch_inline"]` rule, (opts, argument variables) -> an expression that the
forward writes in place of a module call. A layer that is a bare parameter of the module
around it (`layerscale`, as torchvision registers ConvNeXt's `layer_scale`) has
`extras["torch_parameter"]`: its `torch` rule gives the nn.Parameter, registered under the
layer's name, and its `torch_apply` rule (parameter expression, argument variables) gives
the forward's expression. Layers that torch lacks name a small class (or
function) whose source is in the op's `extras["torch_helpers"]` ({name: source}); the
backend writes each used helper into the generated file once.
"""
from __future__ import annotations

import dataclasses

from .registry import ChannelsLast, Shape, lookup, register_layer


# NOTE: symbolic values
# For parametric block classes (cnndsl/backends/torch_params.py) the options and shapes
# may hold symbolic ints: ints that print as an expression over constructor parameters
# (`4 * c`). The rules below only format values, so they write expressions unchanged; they
# compare printed text where they leave a value out, so `stride=s` stays even where this
# instance's `s` happens to be the default. Floats are converted with `_float`, which keeps
# a symbolic float (a float subclass) and so its expression.


def _float(v) -> float:
    """A number as a float; a float already (a symbolic one too) as it is."""
    return v if isinstance(v, float) else float(v)


def _pair(v) -> str:
    return str(v[0]) if str(v[0]) == str(v[1]) else f"({v[0]}, {v[1]})"


def _kwargs(**values) -> str:
    """`name=value` pairs, leaving out those that equal torch's default (given as None)."""
    return "".join(f", {k}={v}" for k, v in values.items() if v is not None)


def _non_default(value, default):
    """None where `value` is the default: equal, and printed the same (see the NOTE)."""
    return None if value == default and str(value) == str(default) else value


def _conv(opts: dict, ins: list[Shape], out: Shape) -> str:
    common = _kwargs(stride=_non_default(_pair(opts["s"]), "1"),
                     padding=_non_default(_pair(opts["p"]), "0"),
                     dilation=_non_default(_pair(opts["d"]), "1"))
    bias = "" if opts["bias"] else ", bias=False"
    if opts.get("table") is not None:
        rows = tuple(tuple(sorted(set(row))) for row in opts["table"])
        return f"TableConv2d({ins[0][0]}, {rows!r}, {_pair(opts['k'])}{common}{bias})"
    groups = _kwargs(groups=_non_default(opts["g"], 1))
    if opts.get("p_after"):
        # uneven TensorFlow SAME padding (the NOTE in cnndsl/ops/conv.py): F.pad's order
        (top, left), (bottom, right) = opts["p"], opts["p_after"]
        common = _kwargs(stride=_non_default(_pair(opts["s"]), "1"),
                         dilation=_non_default(_pair(opts["d"]), "1"))
        return (f"SamePadConv2d({ins[0][0]}, {opts['c']}, {_pair(opts['k'])}{common}{groups}"
                f"{bias}, pad=({left}, {right}, {top}, {bottom}))")
    return f"nn.Conv2d({ins[0][0]}, {opts['c']}, {_pair(opts['k'])}{common}{groups}{bias})"


def _deconv(opts: dict, ins: list[Shape], out: Shape) -> str:
    extra = _kwargs(stride=_non_default(_pair(opts["s"]), "1"),
                    padding=_non_default(_pair(opts["p"]), "0"),
                    output_padding=_non_default(_pair(opts["op"]), "0"),
                    groups=_non_default(opts["g"], 1),
                    dilation=_non_default(_pair(opts["d"]), "1"))
    bias = "" if opts["bias"] else ", bias=False"
    return f"nn.ConvTranspose2d({ins[0][0]}, {opts['c']}, {_pair(opts['k'])}{extra}{bias})"


def _pool(cls: str):
    def emit(opts: dict, ins: list[Shape], out: Shape) -> str:
        extra = _kwargs(stride=_non_default(_pair(opts["s"]), _pair(opts["k"])),
                        padding=_non_default(_pair(opts["p"]), "0"),
                        ceil_mode=True if opts["ceil"] else None,
                        count_include_pad=False if opts.get("exclude_pad") else None)
        return f"nn.{cls}({_pair(opts['k'])}{extra})"
    return emit


def _norm_kwargs(opts: dict) -> str:
    return _kwargs(eps=_non_default(opts.get("eps", 1e-5), 1e-5),
                   momentum=_non_default(opts.get("momentum", 0.1), 0.1))


def _bn(opts: dict, ins: list[Shape], out: Shape) -> str:
    cls = "BatchNorm2d" if len(ins[0]) == 3 else "BatchNorm1d"
    return f"nn.{cls}({ins[0][0]}{_norm_kwargs(opts)})"


def _ln(opts: dict, ins: list[Shape], out: Shape) -> str:
    per_position = len(ins[0]) == 3 and not isinstance(ins[0], ChannelsLast)
    cls = "ChannelLayerNorm" if per_position else "nn.LayerNorm"
    return f"{cls}({ins[0][0]}{_norm_kwargs(opts)})"


def _simple(expr: str):
    return lambda opts, ins, out: expr


def _activation_table() -> dict:
    return {
        "relu": _simple("nn.ReLU()"), "relu6": _simple("nn.ReLU6()"),
        "elu": _simple("nn.ELU()"), "sigmoid": _simple("nn.Sigmoid()"),
        "tanh": _simple("nn.Tanh()"), "gelu": _simple("nn.GELU()"),
        "silu": _simple("nn.SiLU()"), "softmax": _simple("nn.Softmax(dim=1)"),
        "hardswish": _simple("nn.Hardswish()"), "hardsigmoid": _simple("nn.Hardsigmoid()"),
        "leaky": lambda opts, ins, out: f"nn.LeakyReLU({opts['slope']!r})",
        "prelu": lambda opts, ins, out: f"nn.PReLU({opts['n']})",
    }


def _upsample(opts: dict, ins: list[Shape], out: Shape) -> str:
    mode = "bilinear" if opts["mode"] == "bilinear" else "nearest"
    if opts.get("size") is not None:
        target = f"size={_pair(opts['size'])}"
    else:
        target = f"scale_factor={_float(opts['scale'])!r}"
    corners = ", align_corners=True" if opts.get("align_corners") else ""
    return f"nn.Upsample({target}, mode={mode!r}{corners})"


TABLE_CONV_SOURCE = '''
class TableConv2d(nn.Module):
    """A convolution whose output map j sees only the input maps in row j of a connection
    table (LeNet-5 C3): only the connected kernels are parameters."""

    def __init__(self, in_channels, table, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.shape = (len(table), in_channels, kh, kw)
        flat = [j * in_channels + i for j, row in enumerate(table) for i in row]
        self.register_buffer("index", torch.tensor(flat), persistent=False)
        bound = 1 / max(len(row) for row in table) ** 0.5 / (kh * kw) ** 0.5
        self.weight = nn.Parameter(torch.empty(len(flat), kh, kw).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(len(table))) if bias else None

    def full_weight(self):
        out_ch, in_ch, kh, kw = self.shape
        dense = self.weight.new_zeros(out_ch * in_ch, kh, kw).index_copy(
            0, self.index, self.weight)
        return dense.view(out_ch, in_ch, kh, kw)

    def forward(self, x):
        return F.conv2d(x, self.full_weight(), self.bias, self.stride, self.padding,
                        self.dilation)
'''

SAME_PAD_CONV_SOURCE = '''
class SamePadConv2d(nn.Conv2d):
    """A Conv2d after TensorFlow's SAME padding where it is uneven: `pad` is (left, right,
    top, bottom) as F.pad takes it. Its parameters are a plain Conv2d's."""

    def __init__(self, *args, pad, **kwargs):
        super().__init__(*args, **kwargs)
        self.pad = pad

    def forward(self, x):
        return super().forward(F.pad(x, self.pad))
'''

SUBSAMPLE_SOURCE = '''
class Subsample(nn.Module):
    """LeCun's trainable subsampling: the sum over each window times a learned per-map
    coefficient, plus a learned per-map bias."""

    def __init__(self, channels, kernel_size, stride):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        kh, kw = self.kernel_size
        window_sum = F.avg_pool2d(x, self.kernel_size, self.stride) * (kh * kw)
        return window_sum * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
'''

RBF_SOURCE = '''
class RBF(nn.Module):
    """LeNet-5's Euclidean RBF output units: the squared distance from the input to each
    unit's centre. The centres are fixed (a buffer, not trained): random +-1 codes."""

    def __init__(self, in_features, out_features):
        super().__init__()
        codes = torch.randint(0, 2, (out_features, in_features), dtype=torch.float32)
        self.register_buffer("centres", codes * 2 - 1)

    def forward(self, x):
        return (x.unsqueeze(1) - self.centres).pow(2).sum(dim=2)
'''

SCALE_SOURCE = '''
class Scale(nn.Module):
    """Multiplies its input by a fixed constant (Inception-ResNet's residual scaling)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor
'''

STOCHASTIC_DEPTH_SOURCE = '''
class StochasticDepth(nn.Module):
    """Stochastic depth, as torchvision.ops.StochasticDepth: the identity in eval; in
    training it zeroes each sample ("row") or the whole batch ("batch") with probability
    p and scales what survives by 1 / (1 - p)."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise
'''

PERMUTE_SOURCE = '''
class Permute(nn.Module):
    """Permutes the dimensions of its input, as torchvision.ops.Permute."""

    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)
'''

CHANNEL_LAYER_NORM_SOURCE = '''
class ChannelLayerNorm(nn.LayerNorm):
    """Layer normalisation over the channels at each position of a feature map."""

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)
'''


CHANNEL_SHUFFLE_SOURCE = '''
def channel_shuffle(x, groups: int):
    """ShuffleNet's channel shuffle, as torchvision writes it: channel j*groups + i takes
    channel i*(C/groups) + j."""
    batch, channels, height, width = x.size()
    x = x.view(batch, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch, channels, height, width)
'''


def _layerscale(opts: dict, ins: list[Shape], out: Shape) -> str:
    return f"nn.Parameter(torch.full(({ins[0][0]}, 1, 1), {_float(opts['init'])!r}))"


def _inline_rules() -> dict:
    """{op: (inline rule, helpers)} for the built-in layers without a module."""
    return {
        "chunk": (lambda o, args: f"{args[0]}.chunk({o['n']}, dim=1)[{o['i']}]", {}),
        "shuffle": (lambda o, args: f"channel_shuffle({args[0]}, {o['g']})",
                    {"channel_shuffle": CHANNEL_SHUFFLE_SOURCE}),
    }


def _adaptive(cls: str):
    def emit(opts: dict, ins: list[Shape], out: Shape) -> str:
        h, w = opts["size"]
        return f"nn.{cls}({h if h == w else (h, w)!r})"
    return emit


def _subsample(opts: dict, ins: list[Shape], out: Shape) -> str:
    return f"Subsample({ins[0][0]}, {tuple(opts['k'])!r}, {tuple(opts['s'])!r})"


def _rules() -> dict:
    """{op: (torch rule, helper classes)} for every built-in layer with a module."""
    rules = {
        "conv": (_conv, {"TableConv2d": TABLE_CONV_SOURCE,
                         "SamePadConv2d": SAME_PAD_CONV_SOURCE}),
        "deconv": (_deconv, {}),
        "maxpool": (_pool("MaxPool2d"), {}), "avgpool": (_pool("AvgPool2d"), {}),
        "gap": (_adaptive("AdaptiveAvgPool2d"), {}),
        "gmp": (_adaptive("AdaptiveMaxPool2d"), {}),
        "subsample": (_subsample, {"Subsample": SUBSAMPLE_SOURCE}),
        "bn": (_bn, {}),
        "gn": (lambda o, i, _: f"nn.GroupNorm({o['g']}, {i[0][0]}{_norm_kwargs(o)})", {}),
        "ln": (_ln, {"ChannelLayerNorm": CHANNEL_LAYER_NORM_SOURCE}),
        "inorm": (lambda o, i, _: f"nn.InstanceNorm2d({i[0][0]}{_norm_kwargs(o)}"
                                  f"{', affine=True' if o['affine'] else ''})", {}),
        "lrn": (lambda o, i, _: f"nn.LocalResponseNorm({o['size']}, alpha={o['alpha']!r}, "
                                f"beta={o['beta']!r}, k={o['k']!r})", {}),
        "flatten": (_simple("nn.Flatten()"), {}),
        "fc": (lambda o, i, out: f"nn.Linear({i[0][0]}, {out[0]}"
                                 f"{'' if o['bias'] else ', bias=False'})", {}),
        "dropout": (lambda o, i, _: f"nn.Dropout({o['p']!r}"
                                    f"{', inplace=True' if o.get('inplace') else ''})", {}),
        "upsample": (_upsample, {}),
        "nhwc": (_simple("Permute([0, 2, 3, 1])"), {"Permute": PERMUTE_SOURCE}),
        "nchw": (_simple("Permute([0, 3, 1, 2])"), {"Permute": PERMUTE_SOURCE}),
        "droppath": (lambda o, i, _: f"StochasticDepth({_float(o['p'])!r}, {o['mode']!r})",
                     {"StochasticDepth": STOCHASTIC_DEPTH_SOURCE}),
        "rbf": (lambda o, i, out: f"RBF({i[0][0]}, {out[0]})", {"RBF": RBF_SOURCE}),
        "scale": (lambda o, i, _: f"Scale({_float(o['factor'])!r})", {"Scale": SCALE_SOURCE}),
    }
    rules.update({name: (rule, {}) for name, rule in _activation_table().items()})
    return rules


# What the generated code may do in place (the NOTE in cnndsl/backends/torch_inplace.py):
# activations whose module takes `inplace=True` and whose in-place backward is right (a
# leaky ReLU's only with a positive slope), and layers whose output is a new tensor that
# their backward does not read (never their input or a view of it, also in eval mode).
INPLACE_ACTIVATIONS = {
    "relu": True, "relu6": True, "elu": True, "silu": True, "hardswish": True,
    "leaky": lambda opts: opts["slope"] > 0,
}
FRESH_OUTPUT = ("conv", "deconv", "fc", "bn", "gn", "ln", "inorm", "lrn", "maxpool",
                "avgpool", "gap", "gmp", "upsample", "subsample", "scale", "add", "concat",
                "mul", "layerscale")
# Layers that return their input itself in eval (and in training a new tensor that their
# backward does not read): their output may be overwritten where their input may.
PASSES_THROUGH = ("droppath", "dropout")


def install() -> None:
    """Fill the `torch` slot of the built-in layers (called once, by cnndsl.ops)."""
    for name, (rule, helpers) in _rules().items():
        spec = lookup(name)
        if spec is None or spec.torch is not None:
            continue
        extras = dict(spec.extras)
        if helpers:
            extras["torch_helpers"] = helpers
        register_layer(dataclasses.replace(spec, torch=rule, extras=extras), replace=True)
    spec = lookup("layerscale")
    if spec is not None and spec.torch is None:
        extras = dict(spec.extras, torch_parameter=True,
                      torch_apply=lambda param, args: f"{param} * {args[0]}")
        register_layer(dataclasses.replace(spec, torch=_layerscale, extras=extras),
                       replace=True)
    for name, (rule, helpers) in _inline_rules().items():
        spec = lookup(name)
        if spec is None or "torch_inline" in spec.extras:
            continue
        extras = dict(spec.extras, torch_inline=rule)
        if helpers:
            extras["torch_helpers"] = helpers
        register_layer(dataclasses.replace(spec, extras=extras), replace=True)
    for name in (*INPLACE_ACTIVATIONS, *FRESH_OUTPUT, *PASSES_THROUGH):
        spec = lookup(name)
        if spec is None:
            continue
        extras = dict(spec.extras)
        if name in PASSES_THROUGH:
            extras.setdefault("torch_passes_through", True)
        if name in INPLACE_ACTIVATIONS:
            extras.setdefault("torch_inplace", INPLACE_ACTIVATIONS[name])
        if name in FRESH_OUTPUT:
            extras.setdefault("torch_fresh_output", True)
        register_layer(dataclasses.replace(spec, extras=extras), replace=True)
