"""Differential tests of the analysis passes against torch: shapes, parameter counts,
receptive fields (the gradient footprint of one output pixel) and saved activations."""
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
nn = torch.nn

import cnndsl  # noqa: E402

from .conftest import SPECS  # noqa: E402

PATHS = [
    ("input 3x32x32\nconv k3 s2 p1 16 bn relu conv k3 p1 32 g4 maxpool k2 gap flatten fc 10",
     lambda: [nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
              nn.Conv2d(16, 32, 3, 1, 1, groups=4), nn.MaxPool2d(2),
              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)]),
    ("input 8x8x8\ndeconv k4 s2 p1 4 bn prelu conv k3 dw 4 gn g2",
     lambda: [nn.ConvTranspose2d(8, 4, 4, 2, 1, bias=False), nn.BatchNorm2d(4), nn.PReLU(),
              nn.Conv2d(4, 4, 3, groups=4), nn.GroupNorm(2, 4)]),
    ("input 3x20x20\nconv k3 d2 p2 6 inorm affine avgpool k3 s2 p1 ceil flatten fc 7 nobias",
     lambda: [nn.Conv2d(3, 6, 3, padding=2, dilation=2), nn.InstanceNorm2d(6, affine=True),
              nn.AvgPool2d(3, 2, 1, ceil_mode=True), nn.Flatten(),
              nn.Linear(6 * 11 * 11, 7, bias=False)]),
    ("input 3x14x14\nconv k3 p1 4 gap 4x4 gmp 3x2 flatten fc 5",
     lambda: [nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(4),
              nn.AdaptiveMaxPool2d((3, 2)), nn.Flatten(), nn.Linear(24, 5)]),
    ("input 3x9x11\nconv k1x7 p=[0,3] 5 conv k3 s2 5 upsample 2",
     lambda: [nn.Conv2d(3, 5, (1, 7), padding=(0, 3)), nn.Conv2d(5, 5, 3, 2),
              nn.Upsample(scale_factor=2)]),
]


@pytest.mark.parametrize("text, modules", PATHS)
def test_shapes_and_params_equal_torch(text, modules):
    net = cnndsl.build(text)
    layers = modules()
    x = torch.zeros(1, *net.input_shape)
    for n, module in zip(list(net.layers()), layers, strict=True):
        x = module(x)
        meta = net.node(n)["meta"]
        assert tuple(x.shape[1:]) == meta["shape"], net.node(n)["name"]
        assert sum(p.numel() for p in module.parameters()) == meta["params"]
    assert net.meta["params"] == sum(p.numel() for m in layers for p in m.parameters())


class Inception(nn.Module):
    """Three aligned branches (1x1, 3x3, 5x5) concatenated, then a strided 3x3."""

    def __init__(self):
        super().__init__()
        self.branches = nn.ModuleList([nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 3, padding=1),
                                       nn.Sequential(nn.Conv2d(1, 1, 3, padding=1),
                                                     nn.Conv2d(1, 1, 3, padding=1))])
        self.head = nn.Conv2d(3, 1, 3, stride=2, padding=1)

    def forward(self, x):
        return self.head(torch.cat([b(x) for b in self.branches], 1))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 1, 3, stride=2, padding=1)
        self.body = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1))

    def forward(self, x):
        x = self.stem(x)
        return self.body(x) + x


FIELDS = [
    ("conv k3 s2 p1 1 conv k3 s2 p1 1", lambda: nn.Sequential(
        nn.Conv2d(1, 1, 3, 2, 1), nn.Conv2d(1, 1, 3, 2, 1))),
    # avgpool, not maxpool: a max sends the gradient to one position of its window
    ("conv k7 s2 p3 1 avgpool k3 s2 p1 conv k3 p1 1", lambda: nn.Sequential(
        nn.Conv2d(1, 1, 7, 2, 3), nn.AvgPool2d(3, 2, 1), nn.Conv2d(1, 1, 3, padding=1))),
    ("conv k3 d2 p2 1 conv k3 d3 p3 1", lambda: nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=2, dilation=2), nn.Conv2d(1, 1, 3, padding=3, dilation=3))),
    ("conv k1x5 p=[0,2] 1 conv k3 s2 1", lambda: nn.Sequential(
        nn.Conv2d(1, 1, (1, 5), padding=(0, 2)), nn.Conv2d(1, 1, 3, 2))),
    ("inception< conv k1 1 | conv k3 p1 1 | conv k3 p1 1 conv k3 p1 1 > conv k3 s2 p1 1",
     Inception),
    ("conv k3 s2 p1 1\nresidual< conv k3 p1 1 conv k3 p1 1 >", Residual),
    # adaptive pooling to a size that divides the map: windows of 64/8 = 8
    ("conv k3 p1 1 gap 8x8 conv k3 p1 1", lambda: nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=1), nn.AdaptiveAvgPool2d(8), nn.Conv2d(1, 1, 3, padding=1))),
]


def gradient_footprint(model, size, pixel):
    """Per axis, the input positions whose gradient at output `pixel` is nonzero."""
    for p in model.parameters():
        nn.init.constant_(p, 0.1)  # positive weights: no cancellation hides a position
    x = torch.ones(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    out = model.double()(x)
    out[0, 0, pixel, pixel].backward()
    reached = x.grad[0, 0] != 0
    rows = torch.nonzero(reached.any(1)).flatten().tolist()
    cols = torch.nonzero(reached.any(0)).flatten().tolist()
    return rows, cols


@pytest.mark.parametrize("text, model", FIELDS)
def test_receptive_field_equals_gradient_footprint(text, model):
    size = 64
    net = cnndsl.build(f"input 1x{size}x{size}\n{text}")
    out_size = net.node(net.output)["meta"]["shape"][1]
    pixel = out_size // 2
    footprint = gradient_footprint(model(), size, pixel)
    for axis, reached in zip(net.node(net.output)["meta"]["rf"], footprint):
        centre = axis.start + pixel * axis.jump
        first, last = centre - axis.size / 2, centre + axis.size / 2 - 1
        assert (reached[0], reached[-1]) == (first, last), text
    assert not [w for w in net.warnings if "aligned" in w.message]


def test_gridding_warning_matches_holes_in_the_gradient():
    text = "conv k3 d2 p2 1 conv k3 d2 p2 1"
    net = cnndsl.build(f"input 1x64x64\n{text}")
    rows, _ = gradient_footprint(nn.Sequential(nn.Conv2d(1, 1, 3, padding=2, dilation=2),
                                               nn.Conv2d(1, 1, 3, padding=2, dilation=2)),
                                 64, 32)
    holes = rows[-1] - rows[0] + 1 - len(rows)
    assert holes == 4
    assert any(f"({holes} input positions" in w.message for w in net.warnings)


def saved_bytes(model, x):
    """Bytes of the distinct tensors autograd saves, leaving out parameters and buffers."""
    owned = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in owned:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
        (out[0] if isinstance(out, tuple) else out).sum()
    return sum(storages.values())


MEMORY = [
    ("input 3x32x32\nconv k3 p1 16 bn relu maxpool k2 conv k3 p1 32 relu gap flatten "
     "dropout 0.5 fc 10",
     lambda: nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                           nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                           nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5),
                           nn.Linear(32, 10))),
    ("input 3x16x16\nconv k3 p1 8 tanh conv k3 s2 p1 8 sigmoid flatten fc 20 gelu fc 4",
     lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Tanh(),
                           nn.Conv2d(8, 8, 3, 2, 1), nn.Sigmoid(), nn.Flatten(),
                           nn.Linear(512, 20), nn.GELU(), nn.Linear(20, 4))),
    ("input 3x14x14\nconv k3 p1 8 relu gap 4x4 conv k1 8 gmp 2x2 flatten fc 4",
     lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                           nn.Conv2d(8, 8, 1), nn.AdaptiveMaxPool2d(2), nn.Flatten(),
                           nn.Linear(32, 4))),
]


@pytest.mark.parametrize("text, model", MEMORY)
def test_saved_activations_match_torch_within_2_percent(text, model):
    batch = 4
    net = cnndsl.build(text)
    module = model().train()
    measured = saved_bytes(module, torch.randn(batch, *net.input_shape, requires_grad=False))
    predicted = batch * net.meta["memory"]["saved_bytes"]
    assert measured == pytest.approx(predicted, rel=0.02)


window = st.tuples(st.sampled_from(["conv", "avgpool"]), st.integers(1, 5),
                   st.integers(1, 2), st.integers(0, 2), st.integers(1, 3))


@settings(max_examples=40, deadline=None)
@given(st.lists(window, min_size=1, max_size=4))
def test_random_paths_match_the_gradient_footprint(steps):
    size = 48
    words, modules = [], []
    for op, k, s, p, d in steps:
        p = min(p, k // 2)
        if op == "conv":
            words.append(f"conv k{k} s{s} p{p} d{d} 1")
            modules.append(nn.Conv2d(1, 1, k, s, p, dilation=d))
        else:
            words.append(f"avgpool k{k} s{s} p{p}")
            modules.append(nn.AvgPool2d(k, s, p))
    try:
        net = cnndsl.build(f"input 1x{size}x{size}\n" + " ".join(words))
    except cnndsl.CnnShapeError:
        return  # the window outgrew the input: nothing to compare
    pixel = net.node(net.output)["meta"]["shape"][1] // 2
    axis = net.node(net.output)["meta"]["rf"][0]
    centre = axis.start + pixel * axis.jump
    first, last = centre - axis.size / 2, centre + axis.size / 2 - 1
    assume(first >= 0 and last <= size - 1)  # a field cut by the border has no fixed extent
    rows, _ = gradient_footprint(nn.Sequential(*modules), size, pixel)
    assert (rows[0], rows[-1]) == (first, last), words


@pytest.mark.parametrize("spec", ["analysis/small.cnn", "analysis/lenet5.cnn"])
def test_saved_activations_of_the_generated_module(spec):
    """The estimate against what cnndsl.load's module saves (aux heads run in training).
    LeNet-5's C3 assembles its masked weight each step: 9,600 bytes whatever the batch."""
    path = SPECS / spec
    batch = 16
    net = cnndsl.build(path)
    measured = saved_bytes(cnndsl.load(path).train(), torch.randn(batch, *net.input_shape))
    assert measured == pytest.approx(batch * net.meta["memory"]["saved_bytes"], rel=0.02)


class Gated(nn.Module):
    """conv, SE gate, strided conv, SE gate, conv; `detach` cuts the gates' gradient."""

    def __init__(self, detach: bool):
        super().__init__()
        self.detach = detach
        self.convs = nn.ModuleList([nn.Conv2d(1, 1, 3, padding=1),
                                    nn.Conv2d(1, 1, 3, 2, 1), nn.Conv2d(1, 1, 3, padding=1)])
        self.gates = nn.ModuleList([nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 1)])

    def gate(self, i, x):
        scale = torch.sigmoid(self.gates[i](x.mean((2, 3), keepdim=True)))
        return x * (scale.detach() if self.detach else scale)

    def forward(self, x):
        x = self.gate(0, self.convs[0](x))
        return self.convs[2](self.gate(1, self.convs[1](x)))


def test_gated_field_is_the_spatial_paths_footprint():
    """Through SE gates the reported field is the footprint of the spatial path (the gates'
    gradient detached); with the gates' gradient the whole input is reached, as the
    global-branch flag says."""
    size = 64
    net = cnndsl.build(f"input 1x{size}x{size}\nconv k3 p1 1\ngate< gap conv k1 1 sigmoid >\n"
                       "conv k3 s2 p1 1\ngate< gap conv k1 1 sigmoid >\nconv k3 p1 1")
    meta = net.node(net.output)["meta"]
    pixel = meta["shape"][1] // 2
    footprint = gradient_footprint(Gated(detach=True), size, pixel)
    for axis, reached in zip(meta["rf"], footprint):
        centre = axis.start + pixel * axis.jump
        assert (reached[0], reached[-1]) == (centre - axis.size / 2, centre + axis.size / 2 - 1)
        assert axis.jump == 2
    assert not net.warnings
    whole = gradient_footprint(Gated(detach=False), size, pixel)
    assert meta["rf_global_branch"] and whole == (list(range(size)), list(range(size)))


DTYPES = {"fp64": torch.float64, "bf16": torch.bfloat16, "fp16": torch.float16}


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("text, model", MEMORY)
def test_saved_activations_match_torch_in_each_dtype(text, model, dtype):
    batch = 4
    net = cnndsl.build(text)
    module = model().train().to(DTYPES[dtype])
    measured = saved_bytes(module, torch.randn(batch, *net.input_shape, dtype=DTYPES[dtype]))
    memory = cnndsl.summary(net, batch=batch, dtype=dtype).data["memory"]
    assert measured == pytest.approx(batch * memory["saved_bytes"], rel=0.02)
    fp32 = cnndsl.summary(net, batch=batch).data["memory"]
    assert memory["params_bytes"] * 4 == fp32["params_bytes"] * DTYPES[dtype].itemsize


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    "rmsprop": lambda p: torch.optim.RMSprop(p),
    "adagrad": lambda p: torch.optim.Adagrad(p),
    "adam": lambda p: torch.optim.Adam(p),
    "adamw": lambda p: torch.optim.AdamW(p),
}


@pytest.mark.parametrize("dtype", ["fp32", "fp64"])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_optimizer_state_matches_torch_optim(optimizer, dtype):
    """training_bytes counts parameters x (2 + m): m copies of them in the optimizer's
    state, as much as torch.optim keeps after a step (scalar step counters aside)."""
    text = MEMORY[0][0]
    module = cnndsl.load(text).train().to({"fp32": torch.float32, "fp64": torch.float64}[dtype])
    step = OPTIMIZERS[optimizer](module.parameters())
    module(torch.randn(2, 3, 32, 32, dtype=next(module.parameters()).dtype)).sum().backward()
    step.step()
    state = sum(t.numel() * t.element_size() for s in step.state.values() for t in s.values()
                if torch.is_tensor(t) and t.dim() > 0)
    param_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    memory = cnndsl.summary(text, batch=2, optimizer=optimizer, dtype=dtype).data["memory"]
    assert memory["params_bytes"] == param_bytes
    saved = 2 * memory["saved_bytes"]
    assert memory["training_bytes"] - saved == 2 * param_bytes + state
