"""Pretrained weights: checkpoints read safely, loaded by name, renamed by structure; the
zoo by name; network classes that take the spec's params."""
import subprocess
import sys
import warnings

import pytest
import torch

import cnndsl
from cnndsl.zoo import is_zoo_name, zoo_names

SPEC = """network Small
input 3x16x16
param num_classes = 10
param width = 8
block b(c, s=1): residual(proj)< conv k3 s=s p1 c nobias bn relu conv k3 p1 c nobias bn > relu
conv k3 p1 width nobias bn relu
b(width) b(2*width, s=2)
gap flatten fc: fc num_classes
"""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "small.cnn"
    path.write_text(SPEC)
    return path


def same_function(a, b) -> bool:
    x = torch.randn(2, 3, 16, 16)
    return torch.equal(a.eval()(x), b.eval()(x))


def test_checkpoint_wrappers_are_taken_off(spec_file, tmp_path):
    model = cnndsl.load(spec_file)
    state = model.state_dict()
    for wrapped in ({"state_dict": {f"module.{k}": v for k, v in state.items()}},
                    {"model": state, "epoch": 3}, {f"_orig_mod.{k}": v for k, v in state.items()}):
        path = tmp_path / "ckpt.pth"
        torch.save(wrapped, path)
        assert same_function(model, cnndsl.load(spec_file, weights=path))
    assert same_function(model, cnndsl.load(spec_file, weights=state))


class Pickled:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_code_never_runs(spec_file, tmp_path, capsys):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": cnndsl.load(spec_file).state_dict(), "x": Pickled()}, path)
    with pytest.raises(cnndsl.CnnWeightsError, match="weights-only"):
        cnndsl.load(spec_file, weights=path)
    assert "must never run" not in capsys.readouterr().out


def test_a_mismatch_says_what_differs(spec_file):
    state = cnndsl.load(spec_file).state_dict()
    state.pop("fc.weight")
    state["head.weight"] = torch.zeros(1)
    state["conv1.weight"] = torch.zeros(8, 3, 5, 5)
    with pytest.raises(cnndsl.CnnWeightsError) as info:
        cnndsl.load(spec_file, weights=state)
    text = str(info.value)
    assert "1 key missing from the checkpoint: fc.weight" in text
    assert "1 key not in the network: head.weight" in text
    assert "conv1.weight (checkpoint 8x3x5x5, network 8x3x3x3)" in text
    assert "convert-weights" in text


def test_not_strict_loads_what_fits_and_warns(spec_file):
    model = cnndsl.load(spec_file)
    state = model.state_dict()
    state.pop("fc.bias")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = cnndsl.load(spec_file, weights=state, strict=False)
    assert any("fc.bias" in str(w.message) for w in caught)
    assert torch.equal(loaded.conv1.weight, model.conv1.weight)


def test_safetensors(spec_file, tmp_path):
    pytest.importorskip("safetensors")
    from safetensors.torch import save_file

    model = cnndsl.load(spec_file)
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    assert same_function(model, cnndsl.load(spec_file, weights=path))


class Foreign(torch.nn.Module):
    """The same network written by hand with other names (registration order kept)."""

    def __init__(self):
        super().__init__()
        nb = dict(bias=False)
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1, **nb),
                                        torch.nn.BatchNorm2d(8))
        self.a1, self.n1 = torch.nn.Conv2d(8, 8, 3, padding=1, **nb), torch.nn.BatchNorm2d(8)
        self.a2, self.n2 = torch.nn.Conv2d(8, 8, 3, padding=1, **nb), torch.nn.BatchNorm2d(8)
        self.b1 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, **nb)
        self.m1 = torch.nn.BatchNorm2d(16)
        self.b2, self.m2 = torch.nn.Conv2d(16, 16, 3, padding=1, **nb), torch.nn.BatchNorm2d(16)
        self.proj = torch.nn.Conv2d(8, 16, 1, stride=2, **nb)
        self.proj_bn = torch.nn.BatchNorm2d(16)
        self.head = torch.nn.Linear(16, 10)

    def forward(self, x):
        r = torch.relu
        x = r(self.stem(x))
        x = r(self.n2(self.a2(r(self.n1(self.a1(x))))) + x)
        y = self.m2(self.b2(r(self.m1(self.b1(x)))))
        x = r(y + self.proj_bn(self.proj(x)))
        return self.head(x.mean((2, 3)))


def test_convert_weights_by_structure(spec_file, tmp_path):
    foreign = Foreign().eval()
    for m in foreign.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ckpt, out = tmp_path / "foreign.pth", tmp_path / "ours.pth"
    torch.save(foreign.state_dict(), ckpt)
    with pytest.raises(cnndsl.CnnWeightsError):
        cnndsl.load(spec_file, weights=ckpt)
    done = subprocess.run([sys.executable, "-m", "cnndsl", "convert-weights", str(spec_file),
                           str(ckpt), "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    model = cnndsl.load(spec_file, weights=out).eval()
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(model(x), foreign(x))


def test_convert_names_the_first_pair_that_does_not_fit(spec_file):
    model = cnndsl.load(spec_file)
    foreign = Foreign().state_dict()
    foreign["a1.weight"] = torch.zeros(8, 8, 5, 5)
    with pytest.raises(cnndsl.CnnWeightsError, match="does not pair.*conv1.weight|b0|a1.weight"):
        cnndsl.remap_by_structure(model.state_dict(), foreign)


def test_compile_checks_weights(spec_file, tmp_path):
    ckpt = tmp_path / "bad.pth"
    torch.save({"fc.weight": torch.zeros(1)}, ckpt)
    done = subprocess.run([sys.executable, "-m", "cnndsl", "compile", str(spec_file),
                           "--weights", str(ckpt)], capture_output=True, text=True)
    assert done.returncode == 1 and "does not fit" in done.stderr
    assert "Traceback" not in done.stderr


def test_network_class_takes_the_spec_params(spec_file):
    source = cnndsl.compile_source(spec_file)
    assert "def __init__(self, num_classes=10, width=8):" in source
    namespace = {}
    exec(compile(source, "small.py", "exec"), namespace)
    model = namespace["Small"](num_classes=3, width=4)
    expected = cnndsl.load(spec_file, params={"num_classes": 3, "width": 4})
    assert [(k, v.shape) for k, v in model.state_dict().items()] == \
        [(k, v.shape) for k, v in expected.state_dict().items()]
    assert model.eval()(torch.randn(1, 3, 16, 16)).shape == (1, 3)


def test_a_param_the_class_cannot_honour_is_fixed():
    # `depth` changes how many layers there are: the class text differs per value, so the
    # class does not take it (and still takes num_classes).
    spec = "input 3x8x8\nparam depth = 2\nparam num_classes = 5\n" \
           "(conv k3 p1 4 relu) * depth gap flatten fc num_classes\n"
    source = cnndsl.compile_source(spec)
    assert "def __init__(self, num_classes=5):" in source


def test_zoo_by_name_and_the_rule_for_paths(tmp_path, monkeypatch):
    assert is_zoo_name("resnet50") and not is_zoo_name("./resnet50")
    assert not is_zoo_name("resnet50.cnn") and not is_zoo_name("a/b")
    assert "resnet50" in zoo_names() and "resnet_blocks" not in zoo_names()
    monkeypatch.chdir(tmp_path)
    assert cnndsl.build("resnet18").meta["params"] == 11689512
    with pytest.raises(cnndsl.CnnError, match="did you mean `resnet18`"):
        cnndsl.build("resnet81")
    (tmp_path / "resnet18").write_text("input 3x8x8\nconv k1 2\n")
    assert cnndsl.build("./resnet18").meta["params"] == 8


def test_zoo_command_lists_every_network():
    done = subprocess.run([sys.executable, "-m", "cnndsl", "zoo", "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import json

    rows = {r["name"]: r for r in json.loads(done.stdout)["networks"]}
    assert set(rows) == set(zoo_names())
    assert rows["resnet50"]["params"] == 25557032
    assert rows["resnet50"]["input"] == [3, 224, 224]


def _initialised(rule: str, body: str):
    torch.manual_seed(0)
    return cnndsl.load(f"input 64x16x16\ninit {rule}\n{body}\n")


def test_init_rules_match_torchvision_statistics():
    body = "conv k3 p1 256 bn relu gap flatten fc 512"
    resnet = _initialised("resnet", body)
    fan_out = 256 * 9
    assert resnet.conv1.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)
    assert torch.all(resnet.bn1.weight == 1) and torch.all(resnet.bn1.bias == 0)
    vgg = _initialised("vgg", body)
    assert vgg.fc1.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.all(vgg.fc1.bias == 0)
    convnext = _initialised("convnext", body)
    assert convnext.conv1.weight.std().item() == pytest.approx(0.02, rel=0.1)
    effnet = _initialised("efficientnet", body)
    bound = 1 / 512 ** 0.5
    assert effnet.fc1.weight.abs().max().item() <= bound
    assert effnet.fc1.weight.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.05)
    regnet = _initialised("regnet", body)
    assert regnet.conv1.weight.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)
    plain = _initialised("torch", body)
    assert plain.fc1.weight.abs().max().item() <= 1 / 256 ** 0.5  # PyTorch's default


def test_every_init_rule_builds_and_unknown_ones_are_errors():
    from cnndsl.backends.torch_init import RULES
    from cnndsl.ir.lower import INIT_RULES

    assert set(INIT_RULES) == {"torch", *RULES}
    for rule in INIT_RULES:
        _initialised(rule, "conv k3 p1 8 bn relu gap flatten fc 4")
        # layers without a bias, and no Conv2d at all (squeezenet's last conv)
        _initialised(rule, "conv k3 p1 8 nobias relu gap flatten fc 4 nobias fc 2 bn")
        _initialised(rule, "deconv k2 s2 4 relu gap flatten fc 4 bn")
    with pytest.raises(cnndsl.CnnError, match="did you mean `resnet`"):
        cnndsl.build("input 3x8x8\ninit resent\nconv k1 4\n")



def test_a_checkpoint_path_that_is_no_file_says_what_it_is(tmp_path):
    from cnndsl.weights import read_checkpoint

    for path, what in ((tmp_path, "is a folder"), ("/dev/null", "is a device"),
                       (tmp_path / "nope.pth", "no such checkpoint file")):
        with pytest.raises(cnndsl.CnnWeightsError, match=what):
            read_checkpoint(path)
