"""Parametric block classes (cnndsl/backends/torch_params.py): one class per block, its
constructor taking the block's parameters, and always the same modules as the concrete
emission (one class per distinct instantiation, numbers only)."""
from __future__ import annotations

import ast
import random

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnndsl
from cnndsl.backends.torch_source import TorchSource
from cnndsl.backends.torch_symbolic import Sym, SymFloat
from cnndsl.backends.torch_source import network_class_name
from cnndsl.ir.names import class_name
from cnndsl.torch_api import module_class

from .conftest import ROOT, ZOO, ZOO_SAMPLE


def concrete_source(network) -> str:
    return TorchSource(network, parametric=False).render()


def leaves(source: str, name: str, device: str = "meta") -> list[tuple[str, str, str]]:
    """(path, type, configuration) of every module without children."""
    with torch.device(device):
        model = module_class(source, name)()
    return [(path, type(m).__name__, m.extra_repr()) for path, m in model.named_modules()
            if not list(m.children())]


def assert_same_modules(network) -> None:
    name = class_name(network.name)
    parametric = cnndsl.torch_api.torch_source(network)
    assert leaves(parametric, name) == leaves(concrete_source(network), name)


def classes(source: str) -> dict[str, str]:
    """{class name: its constructor's parameters after `self`} of a generated file."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            init = next(f for f in node.body if isinstance(f, ast.FunctionDef))
            found[node.name] = ast.unparse(init.args).removeprefix("self").lstrip(", ")
    return found


def test_symbolic_ints_print_what_they_are_worth():
    values = {"a": 7, "b": -3, "c": 12}
    syms = [Sym(n, v) for n, v in values.items()]
    rng = random.Random(0)
    apply = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
             "//": lambda a, b: a // b}
    for _ in range(5000):
        x = rng.choice(syms)
        for _ in range(3):
            other, op = rng.choice(syms + [rng.randint(-5, 9)]), rng.choice(list(apply))
            left, right = (x, other) if rng.random() < 0.5 else (other, x)
            if op != "//" or int(right) != 0:
                x = apply[op](left, right)
        if isinstance(x, Sym):
            assert eval(str(x), {}, dict(values)) == int(x), str(x)
    c, width, g = Sym("c", 64), Sym("width", 64), Sym("g", 1)
    assert f"{c * width // 64 * g}" == "c * width // 64 * g"
    assert str(Sym("in_channels", 64) + Sym("k", 32) + Sym("k", 32)) == "in_channels + 2 * k"
    assert str((c - 1) // 2) == "(c - 1) // 2" and str(c // (g + 1)) == "c // (g + 1)"
    assert type(c - c) is int and str(c / 2) == "c / 2" and float(c / 2) == 32.0
    assert str(2 * (c // 2) // 2 + c // 2) == "2 * (c // 2)"  # exact divisions divide
    assert str((2 * c + 4) // 2) == "c + 2" and str((2 * c + 3) // 2) == "(2 * c + 3) // 2"


def test_symbolic_floats_print_an_expression_python_evaluates_to_the_same_float():
    values = {"p": 0.2, "q": -1.5e-3, "n": 7, "m": -3}
    syms = [SymFloat("p", 0.2), SymFloat("q", -1.5e-3), Sym("n", 7), Sym("m", -3)]
    rng = random.Random(1)
    apply = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
             "/": lambda a, b: a / b, "//": lambda a, b: a // b}
    checked = 0
    for _ in range(5000):
        x = rng.choice(syms)
        for _ in range(3):
            other = rng.choice(syms + [rng.randint(-5, 9), rng.choice([0.1, -2.5, 3.0])])
            op = rng.choice(list(apply))
            left, right = (x, other) if rng.random() < 0.5 else (other, x)
            if op not in ("/", "//") or right != 0:
                x = apply[op](left, right)
        if isinstance(x, SymFloat):
            checked += 1
            assert eval(str(x), {}, dict(values)) == float(x), str(x)  # bit for bit
    assert checked > 1000
    p, first, total = SymFloat("p", 0.2), Sym("first", 3), Sym("total", 16)
    assert str(p * (first + 1) / total) == "p * (first + 1) / total"
    assert str(-(p - 1.0)) == "-(p - 1.0)" and str(1 - p / 2) == "1 - p / 2"


def test_resnet50_has_one_bottleneck_and_one_stage():
    source = cnndsl.compile_source(ZOO / "resnet50.cnn")
    found = classes(source)
    bottlenecks = [n for n in found if n.startswith("Bottleneck")]
    stages = [n for n in found if n.startswith("Stage")]
    assert bottlenecks == ["Bottleneck"] and stages == ["Stage"]
    assert found["Bottleneck"] == "in_channels, c, s=1, g=1, width=64"
    assert found["Stage"] == "in_channels, c, n, s=2, g=1, width=64"
    assert "*[Bottleneck(4 * c, c, 1, g, width) for _ in range(n - 1)]" in source
    assert "self.layer1 = Stage(64, 64, 3, s=1)" in source
    assert "self.layer2 = Stage(256, 128, 4)" in source
    assert "self.downsample = nn.Sequential(\n" in source  # torchvision's downsample.0/.1
    assert ") if s != 1 or in_channels != 4 * c else None" in source
    assert ("downsample = self.downsample(x) if self.downsample is not None else x\n"
            "        out += downsample\n") in source


def test_efficientnet_b0_has_one_class_per_block():
    """Conditions, floats and layer arguments are symbolic (torch_conditions.py)."""
    source = cnndsl.compile_source(ZOO / "efficientnet_b0.cnn")
    found = classes(source)
    assert [n for n in found if n.startswith("Mbconv")] == ["Mbconv"]
    assert [n for n in found if n.startswith("Se")] == ["Se"]
    assert found["Se"] == "in_channels, c, squeeze, act=nn.SiLU"
    assert "        self.use_residual = s == 1 and cin == c\n" in source
    assert "        if e != cin:\n            layers.append(Cna(in_channels, e, k=1))\n" in source
    assert "        self.block = nn.Sequential(*layers)\n" in source
    assert "StochasticDepth(sd, 'row') if self.use_residual else None" in source
    assert "        if self.use_residual:\n            block = self.stochastic_depth(block)\n" \
        in source
    assert "self.activation = act(inplace=True)" in source
    assert "Se(e, e, max(1, cin // 4))" in source and "def divisible(" in source


@pytest.mark.parametrize("stem, blocks", [
    ("mobilenet_v3_large", ("Bneck", "SqueezeExcitation")), ("mobilenet_v2", ("Inverted",)),
    ("convnext_tiny", ("Cnblock",)), ("mnasnet1_0", ("Inverted",))])
def test_conditional_blocks_have_one_class(stem, blocks):
    found = classes(cnndsl.compile_source(ZOO / f"{stem}.cnn"))
    for block in blocks:
        assert [n for n in found if n.rstrip("0123456789") == block] == [block]


def unused_parameters(source: str) -> dict[str, list[str]]:
    """{class: the constructor parameters its body never reads} of a generated file."""
    unused = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        init = next((f for f in node.body if isinstance(f, ast.FunctionDef)
                     and f.name == "__init__"), None)
        if init is None:
            continue
        read = {n.id for n in ast.walk(init) if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Load)}
        names = [a.arg for a in init.args.args[1:] + init.args.kwonlyargs]
        if [a for a in names if a not in read]:
            unused[node.name] = [a for a in names if a not in read]
    return unused


@pytest.mark.parametrize("stem", ["efficientnet_b0", "efficientnet_v2_s", "mobilenet_v2",
                                  "mobilenet_v3_large", "mnasnet1_0", "regnet_y_400mf",
                                  "convnext_tiny", "shufflenet_v2_x1_0", "resnet50"])
def test_no_constructor_takes_a_parameter_it_does_not_read(stem):
    assert unused_parameters(cnndsl.compile_source(ZOO / f"{stem}.cnn")) == {}


def test_a_class_that_keeps_literals_takes_no_parameters_and_its_calls_pass_none():
    text = "input 4x8x8\nblock b(c, t): conv k1 c=ceil(c * t / 3)\nb(4, 2) b(4, 3)\n"
    source = cnndsl.compile_source(text)
    assert unused_parameters(source) == {}
    assert "class B(nn.Module):\n    def __init__(self, in_channels):" in source
    assert "B(4)" in source and "B2(3)" in source
    assert_same_modules(cnndsl.build(text))


@pytest.mark.parametrize("path", [ZOO / f"{name}.cnn" for name in ZOO_SAMPLE],
                         ids=lambda p: p.stem)
def test_zoo_modules_equal_the_concrete_emission(path):
    assert_same_modules(cnndsl.build(path))


DIFFERING = """
input 3x16x16
block unit(c, s=1):
    conv k3 s=s p1 c
block pair(c, n):
    unit(c) unit(c * 2) * n
block mixed(c):
    residual(proj)< conv k3 p1 c bn relu conv k3 p1 c bn > relu
a: unit(8) bn relu            # bias off: the bn after the block cancels it
b: unit(8) relu               # bias on
c: pair(4, 0)
d: pair(4, 2)
e: mixed(16)                  # 8 -> 16: a projection
f: mixed(16)                  # 16 -> 16: none
g: mixed(in)
   gap flatten fc 3
"""


def test_instances_that_differ_in_structure_get_their_own_classes():
    network = cnndsl.build(DIFFERING)
    assert_same_modules(network)
    source = cnndsl.compile_source(DIFFERING)
    torch.manual_seed(0)
    model = module_class(source, class_name(network.name))().eval()
    torch.manual_seed(0)
    concrete = module_class(concrete_source(network), class_name(network.name))().eval()
    concrete.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), concrete(x))
    first, second = model.a.unit1, model.b.unit1
    assert first.conv1.bias is None and second.conv1.bias is not None
    assert type(first) is not type(second)


HOSTILE_PARAMS = """
input 3x8x8
block odd(in_channels, Scale, self, len, Odd):
    conv k1 in_channels + Scale + self + len + Odd relu
block Odd(x):
    odd(x, 1, 1, 1, 1)
Odd(4)
Odd(5)
"""


def test_parameter_names_are_sanitised():
    source = cnndsl.compile_source(HOSTILE_PARAMS)
    found = classes(source)
    assert found["Odd"] == "in_channels, in_channels_, scale, self_, len_, odd"
    assert_same_modules(cnndsl.build(HOSTILE_PARAMS))
    model = cnndsl.load(HOSTILE_PARAMS)
    assert model(torch.zeros(1, 3, 8, 8)).shape == (1, 9, 8, 8)


@pytest.mark.parametrize("stem", ["resnet18", "densenet121"])
def test_fused_networks_keep_parametric_classes(stem):
    """`--fuse-bn` folds the probes too: the same classes, without their folded bns."""
    plain = cnndsl.compile_source(ZOO / f"{stem}.cnn")
    fused = cnndsl.compile_source(ZOO / f"{stem}.cnn", fuse_bn=True)
    assert "def __init__(self, in_channels" in fused
    assert len(fused.splitlines()) < len(plain.splitlines())
    network = cnndsl.build(ZOO / f"{stem}.cnn", fuse_bn=True)
    model = module_class(fused, network_class_name(network))().eval()
    assert sum(p.numel() for p in model.parameters()) == network.meta["params"]
    names = {name for name, _ in model.named_modules()}
    assert {network.node(n)["name"] for n in network.layers()
            if cnndsl.ops.lookup(network.node(n)["op"]).torch is not None} <= names


# --- random blocks ------------------------------------------------------------------------
EXPRS = ("c", "c * 2", "c + 1", "in", "in // 2 + 1", "c * m // 2 + 1", "max(c, 3)")


@st.composite
def block_spec(draw) -> str:
    """Blocks whose structure depends on their arguments, called with varied arguments."""
    lines = ["input 4x8x8", "block leaf(c, m=2, s=1):"]
    body = []
    for _ in range(draw(st.integers(1, 3))):
        expr = draw(st.sampled_from(EXPRS))
        kind = draw(st.sampled_from(("conv", "res", "inc")))
        if kind == "conv":
            body.append(f"conv k3 s=s p1 c=({expr}) {draw(st.sampled_from(('', 'bn relu')))}")
        elif kind == "res":
            body.append(f"residual(proj)< conv k3 s=s p1 c=({expr}) bn > relu")
        else:
            body.append(f"inception< conv k1 c=({expr}) | conv k3 p1 c=({expr}) bn >")
    lines += ["    " + b for b in body]
    lines += ["block group(c, n, m=2):", "    leaf(c, m, s=2) leaf(c * m) * (n - 1)"]
    for _ in range(draw(st.integers(1, 4))):
        c, n, m = draw(st.integers(1, 6)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
        lines.append(draw(st.sampled_from((f"group({c}, {n}, m={m})", f"leaf({c}, {m})",
                                           f"leaf({c}) bn"))))
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(block_spec())
def test_random_blocks_give_the_concrete_modules(text):
    try:
        network = cnndsl.build(text)
    except cnndsl.CnnError:
        return  # e.g. a shape that a stride cannot reach
    assert_same_modules(network)
    source = cnndsl.compile_source(text)
    model = module_class(source, class_name(network.name))().eval()
    with torch.no_grad():
        out = model(torch.zeros(1, *network.input_shape))
    assert tuple(out.shape[1:]) == tuple(network.node(network.output)["meta"]["shape"])


# --- conditional blocks (cnndsl/backends/torch_conditions.py) -------------------------------
CONDITIONS = ("t != 1", "s == 1 and in == c", "c == in or t == 2", "not (s != 1)", "t >= 2")


@st.composite
def conditional_spec(draw) -> str:
    """Blocks with conditional items, conditional residuals, float and layer arguments,
    called with arguments for which the conditions hold and fail."""
    first, second = draw(st.sampled_from(CONDITIONS)), draw(st.sampled_from(CONDITIONS))
    items = [f"conv k1 in*t bn act if {first}", "conv k3 s=s p1 in*t dw bn act",
             f"(gate: gate< gap conv k1 4 relu conv k1 in*t sigmoid >) if {second}",
             "conv k1 c bn"]
    if draw(st.booleans()):
        items.insert(1, f"seq< conv k1 in*t relu if {second} > if {first}")
    drop = draw(st.sampled_from(("(sd: droppath p) if s == 1 and in == c", "droppath p")))
    when = draw(st.sampled_from(("s == 1 and in == c", "in == c")))
    lines = ["input 8x8x8", "block unit(c, t, s=1, p=0.0, act=relu):",
             f"    residual(when={when})< (body: seq< {' '.join(items)} >) {drop} >"]
    lines.append("block stage(c, n, t, p=0.1):")
    lines.append("    seq< repeat(n, i)< unit(c, t, 2 if i == 0 else 1, p * i / n, "
                 "act=hardswish if i == 1 else relu) > >")
    for _ in range(draw(st.integers(1, 3))):
        c, t = draw(st.sampled_from((4, 8, 16))), draw(st.integers(1, 3))
        s, p = draw(st.integers(1, 2)), draw(st.sampled_from(("0.0", "0.25")))
        act = draw(st.sampled_from(("relu", "silu", "id")))
        lines.append(draw(st.sampled_from((f"unit({c}, {t}, {s}, {p}, act={act})",
                                           f"stage({c}, {draw(st.integers(1, 3))}, {t})"))))
    return "\n".join(lines) + "\ngap flatten fc 3\n"


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(conditional_spec())
def test_conditional_blocks_give_the_concrete_modules_and_function(text):
    try:
        network = cnndsl.build(text)
    except cnndsl.CnnError:
        return
    assert_same_modules(network)
    source = cnndsl.compile_source(text)
    model = assert_same_function(network, source)
    assert unused_parameters(source) == {}
    torch.jit.script(model)  # a constant flag: only the branch it takes is compiled


def test_instances_where_a_condition_holds_and_fails_share_a_class():
    text = """
input 8x8x8
block unit(c, t, s=1):
    residual(when=s == 1 and in == c)< (body: seq< (conv k1 in*t bn relu) if t != 1
                                                  conv k3 s=s p1 dw bn relu
                                                  conv k1 c bn >) >
unit(8, 1) unit(16, 6, s=2) unit(16, 6) unit(16, 1)
gap flatten fc 3
"""
    network = cnndsl.build(text)
    source = cnndsl.compile_source(text)
    assert [n for n in classes(source) if n.startswith("Unit")] == ["Unit"]
    assert "        if t != 1:\n            layers.append(nn.Conv2d(in_channels, " \
        "in_channels * t, 1, bias=False))\n" in source
    model = assert_same_function(network, source)
    assert torch.jit.script(model) is not None


# --- dense blocks (cnndsl/backends/torch_dense.py) ----------------------------------------
def assert_same_function(network, source: str) -> torch.nn.Module:
    """The module computes what the concrete emission computes, with the same weights."""
    name = class_name(network.name)
    torch.manual_seed(0)
    model = module_class(source, name)().eval()
    concrete = module_class(concrete_source(network), name)().eval()
    concrete.load_state_dict(model.state_dict())
    x = torch.randn(2, *network.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), concrete(x))
    return model


def test_densenet_has_one_dense_layer_class():
    source = cnndsl.compile_source(ZOO / "densenet121.cnn")
    found = classes(source)
    assert len(found) <= 6, list(found)
    assert [n for n in found if n.startswith("DenseLayer")] == ["DenseLayer"]
    assert found["DenseLayer"] == "in_channels, k"
    assert found["DenseBlock"] == "in_channels, n, k"
    assert 'self.add_module(f"denselayer{i + 1}", DenseLayer(in_channels + i * k, k))' in source
    assert ("def forward(self, features: list[torch.Tensor]):\n"
            "        x = torch.cat(features, dim=1)") in source
    # a running channel count, as a hand-written DenseNet keeps (torch_running.py)
    assert ("        channels = c0\n"
            "        self.denseblock1 = DenseBlock(channels, n1, k)\n"
            "        channels += n1 * k\n"
            "        self.transition1 = Transition(channels)\n"
            "        channels //= 2\n"
            "        self.denseblock2 = DenseBlock(channels, n2, k)\n") in source
    assert "        channels += n4 * k\n        self.norm5 = nn.BatchNorm2d(channels)\n" in source
    assert "((" not in source.split("class Densenet(")[1]


def test_shufflenet_stages_share_one_class():
    """Its units' channels `in // 2 + c // 2` simplify to `2 * (c // 2)` (an exact
    division), so a stage's repeated units are one comprehension, and one Stage class."""
    source = cnndsl.compile_source(ZOO / "shufflenet_v2_x1_0.cnn")
    assert [n for n in classes(source) if n.startswith("Stage")] == ["Stage"]
    assert "*[Basic(2 * (c // 2), c) for _ in range(n - 1)]" in source


def test_googlenet_aux_heads_share_one_class():
    """Label containers alike but for their input channels share a class (the NOTE on
    label classes in torch_params.py): torchvision's InceptionAux(in_channels, ...)."""
    source = cnndsl.compile_source(ZOO / "googlenet.cnn")
    found = classes(source)
    assert [n for n in found if n.startswith("Aux")] == ["Aux"]
    assert found["Aux"] == "in_channels, num_classes"
    assert "self.aux1 = Aux(512, num_classes)" in source
    assert "self.aux2 = Aux(528, num_classes)" in source
    assert "self.conv = Basic(in_channels, 128)" in source
    assert "return torch.cat([branch1, branch2, branch3, branch4], dim=1)" in source


def test_generated_densenet_traces_with_fx():
    network = cnndsl.build(ZOO / "densenet121.cnn")
    source = cnndsl.compile_source(ZOO / "densenet121.cnn")
    model = module_class(source, class_name(network.name))().eval()
    traced = torch.fx.symbolic_trace(model)
    targets = {n.target for n in traced.graph.nodes if n.op == "call_module"}
    assert "features.denseblock4.denselayer16.conv2" in targets
    assert sum(n.target is torch.cat for n in traced.graph.nodes) == 58 + 4  # layers, blocks
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x))


CUSTOM_DENSE = """
input 3x16x16
conv k3 p1 16
dense(n=3, k=8)< bn relu conv k3 p1 k >
gap flatten fc 2
"""
DENSE_IN_BLOCK = """
input 3x16x16
block db(c, n, g):
    conv k3 p1 c
    d: dense(n=n + 1, k=2 * g)< conv k1 in // 2 relu residual(proj)< conv k3 p1 k bn > >
db(8, 1, 2)
db(8, 2, 2)
gap flatten fc 2
"""


@pytest.mark.parametrize("text", [CUSTOM_DENSE, DENSE_IN_BLOCK], ids=["network", "block"])
def test_dense_blocks_share_one_layer_class(text):
    network = cnndsl.build(text)
    assert_same_modules(network)
    source = cnndsl.compile_source(text)
    found = classes(source)
    assert found["DenseLayer"] == "in_channels, k" and found["DenseBlock"] == "in_channels, n, k"
    assert not any(n.startswith("Denselayer") for n in found)
    torch.fx.symbolic_trace(assert_same_function(network, source))
    if text is CUSTOM_DENSE:
        assert "self.dense1 = DenseBlock(16, 3, 8)" in source
    else:
        assert "self.d = DenseBlock(c, n + 1, 2 * g)" in source


DENSE_FALLBACKS = {
    "label": "stem: conv k3 p1 16\ndense(n=2, k=4)< concat< @stem | conv k3 p1 k > >",
    "growth": "conv k3 p1 16\ndense(n=3, k=4)< conv k1 in >",  # grows with its input
    "aux": "conv k3 p1 16\ndense(n=2, k=4)< aux< gap flatten fc 3 > conv k3 p1 k >",
    # layers 1, 2 give one class (a `Unit` call in it), layer 3 another: all taken back
    # (`ceil` is not written as a call: 20, 20, 40 are literals)
    "differ": "block unit(c):\n    bn relu conv k3 p1 c\nconv k3 p1 16\n"
              "dense(n=3, k=4)< conv k1 ceil(in / 22) * 20 unit(k) >",
}


@pytest.mark.parametrize("body", DENSE_FALLBACKS.values(), ids=DENSE_FALLBACKS.keys())
def test_dense_blocks_that_do_not_fit_are_written_out(body):
    text = f"input 3x16x16\n{body}\ngap flatten fc 2\n"
    network = cnndsl.build(text)
    assert_same_modules(network)
    source = cnndsl.compile_source(text)
    assert "DenseBlock" not in source and "Denselayer2" in source
    assert_same_function(network, source)


def test_generated_parametric_code_is_ruff_clean(tmp_path):
    import subprocess

    for text, name in ((DIFFERING, "differing"), (HOSTILE_PARAMS, "hostile"),
                       (CUSTOM_DENSE, "dense"), (DENSE_IN_BLOCK, "dense_block"),
                       (ZOO / "densenet121.cnn", "densenet121"),
                       (ZOO / "efficientnet_b0.cnn", "efficientnet_b0"),
                       (ZOO / "mobilenet_v3_large.cnn", "mobilenet_v3_large")):
        (tmp_path / f"{name}.py").write_text(cnndsl.compile_source(text))
    ruff = ROOT / ".venv" / "bin" / "ruff"
    done = subprocess.run([str(ruff), "check", "--config", str(ROOT / "pyproject.toml"),
                           str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_a_named_child_gives_its_name_to_the_variable():
    from cnndsl.torch_api import compile_source

    source = compile_source("input 8x8x8\ninception< conv k1 4 relu | conv k3 p1 4 relu >")
    assert "branch1 = self.branch1(x)" in source


NAMED_CALLS = """
network Named
input 3x16x16
block se(c): gate< gap conv k1 c//2 relu conv k1 c sigmoid >
block b2(c): conv k3 p1 c bn relu
block unit(c, s=1): residual(proj)< conv k3 s=s p1 c bn relu conv k3 p1 c bn > relu
block stage(c, n, s=2): unit(c, s) unit(c) * (n-1)
block numbered(c, n): seq< unit(c, 2) unit(c) * (n-1) >
conv k3 p1 8 se(8) se(8) b2(8) b2(8)
layer1: stage(8, 3, s=1)
layer2: stage(16, 2)
layer3: numbered(16, 3)
gap flatten fc 10
"""


def test_unlabelled_calls_are_named_after_their_block():
    """se1, se2; b2_1, b2_2 (a digit before the count takes `_`); a `seq< >` numbers."""
    network = cnndsl.build(NAMED_CALLS)
    names = {network.node(n)["name"] for n in network.layers()}
    assert {"se1.conv1", "se2.conv1", "b2_1.conv1", "b2_2.conv1", "layer1.unit1.conv1",
            "layer1.unit3.conv1", "layer2.unit2.add1", "layer3.0.downsample.0",
            "layer3.2.conv2"} <= names
    assert not any(part.isdigit() for name in names for part in name.split(".")
                   if not name.startswith("layer3.") and "downsample." not in name)
    source = cnndsl.compile_source(NAMED_CALLS)
    assert "getattr(" not in source and "add_module('" not in source
    assert "self.se1 = Se(8, 8)" in source and "self.b2_2 = B2(8, 8)" in source
    found = classes(source)
    # One stage class for both counts: the named copies are added in a loop.
    assert found["Stage"] == "in_channels, c, n, s=2" and "Stage2" not in found
    assert 'for i in range(2, n + 1):\n            self.add_module(f"unit{i}"' in source
    assert found["Numbered"] == "in_channels, c, n"
    assert_same_modules(network)
    model = module_class(source, "Named")().eval()
    built = cnndsl.load(NAMED_CALLS).eval()
    assert list(model.state_dict()) == list(built.state_dict())
    assert type(model.layer1).__mro__[1] is torch.nn.Sequential
    built.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), built(x))
        torch.testing.assert_close(torch.jit.script(model)(x), model(x))
    assert sum(p.numel() for p in model.parameters()) == network.meta["params"]


def test_a_name_made_from_a_block_never_hides_python():
    """Calls of `block class` and `block torch_` are `class_1` and `torch_1`; the forward's
    variables are not `class` (a syntax error) nor `torch` (which would hide torch.cat)."""
    spec = ("input 3x8x8\nblock class(c): conv k1 c relu\nblock torch_(c): conv k1 c\n"
            "conv k1 4 residual< class(4) > residual< torch_(4) > concat< id | conv k1 4 >\n")
    source = cnndsl.compile_source(spec)
    assert "class_2 = self.class_1(x)" in source and "torch_2 = self.torch_1(" in source
    model = cnndsl.load(spec).eval()
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 8, 8, 8)


@pytest.mark.parametrize("spec, kept", [
    # the block's class is written for t != 1: the network class must not take t
    ("param t = 6\nblock b(c, t): conv k1 c if t != 1 conv k1 c\nb(8, t)\n", ""),
    ("param t = 6\nparam n = 10\nconv k1 t conv k1 4 if t != 1\ngap flatten fc n\n", "n=10"),
    ("param t = 6\nconv k1 max(t, 4) gap flatten fc t\n", ""),
    ("param t = 6\nparam w = 2 * t\nconv k1 w gap flatten fc t\n", ""),
    ("param a = 1\nconv k1 4 if a == 1\n", ""),
    ("param a = 1\n(conv k1 4) * (2 - a)\n", ""),
    ("param n = 10\nconv k1 4 gap flatten fc n\nassert params == 66 if n == 10\n", "n=10"),
])
def test_a_network_param_decided_by_its_value_is_fixed(spec, kept):
    """A param that a condition or a function read is fixed in the network class (its
    text is right at that value only); one that only flows into numbers stays."""
    text = "input 3x8x8\n" + spec
    network = cnndsl.build(text)
    source = cnndsl.compile_source(text)
    name = class_name(network.name)
    assert classes(source)[name] == kept
    model = module_class(source, name)()
    assert sum(p.numel() for p in model.parameters()) == network.meta["params"]


def test_a_projection_after_a_region_not_taken_is_written():
    """A phantom projection standing for a phantom region's output (both for the text)."""
    spec = ("input 4x8x8\nblock b(c):\n    residual(when=c == 1)< bn >\n"
            "    residual(proj)< conv k3 p1 c >\nseq< b(6) b(6) >\n")
    network = cnndsl.build(spec)
    assert_same_modules(network)
    model = module_class(cnndsl.compile_source(spec), class_name(network.name))().eval()
    built = cnndsl.load(spec).eval()
    built.load_state_dict(model.state_dict())
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), built(x))
