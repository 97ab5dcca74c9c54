"""The PyTorch backend against torch: every network generates, imports and runs, with the
shapes and parameter counts the passes predict, and folded BatchNorm changes nothing."""
from __future__ import annotations

import pytest
import torch

import cnndsl
from cnndsl.backends.torch_source import network_params

from .conftest import SPECS, ZOO, ZOO_SAMPLE
from .torch_helpers import expected_params, instantiate, n_params, randomise_batchnorm




def _networks() -> list:
    paths = [ZOO / f"{name}.cnn" for name in ZOO_SAMPLE] + \
        sorted((SPECS / "valid").glob("*.cnn")) + \
        sorted((SPECS / "torch").glob("*.cnn"))
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in paths
            if cnndsl.read_spec(p).body is not None]


NETWORKS = _networks()


def _build(path, **kwargs):
    """The network, on a 64x64 input where it accepts one: the differential checks hold for
    any input size, and the zoo's 224x224 makes them slow on a CPU."""
    network = cnndsl.build(path, **kwargs)
    if len(network.input_shape) == 3 and network.input_shape[1] > 64:
        try:
            return cnndsl.build(path, input_shape=(network.input_shape[0], 64, 64), **kwargs)
        except cnndsl.CnnError:
            pass
    return network


def _example(network, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, *network.input_shape, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("path", NETWORKS)
def test_generated_module_matches_the_passes(path):
    network = _build(path)
    model = instantiate(network).eval()
    with torch.no_grad():
        out = model(_example(network))
    assert tuple(out.shape[1:]) == network.node(network.output)["meta"]["shape"]
    assert n_params(model) == expected_params(network)
    # The summary counts the main path and the auxiliary heads apart.
    assert n_params(model) == network.meta["params"] + network.meta["aux"]["params"]
    names = {name for name, _ in model.named_modules()} | \
        {name for name, _ in model.named_parameters()}  # a layerscale is a bare parameter
    for n in network.layers():
        attrs = network.node(n)
        if cnndsl.ops.lookup(attrs["op"]).torch is not None:
            assert attrs["name"] in names


@pytest.mark.parametrize("path", NETWORKS)
def test_folded_batchnorm_equals_unfolded(path):
    network = _build(path)
    model = instantiate(network)
    randomise_batchnorm(model)
    model.eval()
    x = _example(network)
    folded = cnndsl.fuse_bn(model)
    with torch.no_grad():
        expected = model(x)
        # Relative to the output's scale: an `init` rule (inception's std 0.1) can make it
        # large, and fp32 rounding then differs by more than a fixed atol.
        scale = max(1.0, expected.abs().max().item())
        torch.testing.assert_close(folded(x), expected, rtol=1e-4, atol=1e-4 * scale)
    predicted = _build(path, fuse_bn=True)
    assert n_params(folded) == expected_params(predicted)
    # The folded architecture that `compile --fuse-bn` writes has the same parameters.
    assert n_params(instantiate(predicted)) == expected_params(predicted)


def test_aux_heads_in_training_mode_only():
    network = cnndsl.build(SPECS / "torch" / "mini_resnet.cnn")
    model = instantiate(network)
    x = _example(network)
    out, aux = model.train()(x)
    assert out.shape == aux.shape == (2, 10)
    assert model.eval()(x).shape == (2, 10)
    total, aux_params, _ = network_params(network)
    assert aux_params == 32 * 10 + 10
    assert n_params(model) == total


def test_aux_heads_are_not_computed_in_eval_mode():
    network = cnndsl.build(SPECS / "torch" / "mini_resnet.cnn")
    model = instantiate(network)
    calls = []
    model.aux1.register_forward_hook(lambda *_: calls.append(1))
    x = _example(network)
    model.eval()(x)
    assert calls == []
    model.train()(x)
    assert calls == [1]
    traced = torch.fx.symbolic_trace(model.eval())  # the eval graph has no aux head
    assert not any("aux1" in str(node.target) for node in traced.graph.nodes)
    torch.testing.assert_close(traced(x), model(x))


def test_fold_rules():
    from cnndsl.passes.fold_batchnorm import fold_plan

    network = cnndsl.build(SPECS / "torch" / "folding.cnn")
    name = lambda n: network.node(n)["name"]  # noqa: E731
    plan = {(name(layer), name(bn), kind) for layer, bn, kind in fold_plan(network)}
    assert plan == {("stem.conv1", "stem.bn1", "after"), ("pre.conv1", "pre.bn1", "before"),
                    ("deconv1", "bn2", "after"), ("conv3", "bn4", "after"),
                    ("fc1", "bn5", "after")}
    folded = cnndsl.build(SPECS / "torch" / "folding.cnn", fuse_bn=True)
    assert not folded.lint()
    ops = [folded.node(n)["op"] for n in folded.layers()]
    assert ops.count("bn") == 2  # before the padded conv, after the residual sum


def test_fuse_bn_refuses_training_mode():
    model = cnndsl.load(SPECS / "torch" / "folding.cnn")
    with pytest.raises(cnndsl.CnnUsageError, match="eval"):
        cnndsl.fuse_bn(model)


def test_load_options():
    model = cnndsl.load(SPECS / "torch" / "mini_resnet.cnn", channels_last=True,
                        params=None, device="cpu").eval()
    x = torch.randn(1, 3, 32, 32).to(memory_format=torch.channels_last)
    assert model(x).shape == (1, 10)
    assert model.stem.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(cnndsl.CnnUsageError, match="mode"):
        cnndsl.load(SPECS / "torch" / "mini_resnet.cnn", compile="fastest")
    compiled = cnndsl.load(SPECS / "torch" / "mini_resnet.cnn", compile="max-autotune")
    assert isinstance(compiled, torch._dynamo.eval_frame.OptimizedModule)


def test_module_paths_read_like_torchvision():
    model = cnndsl.load(ZOO / "resnet50.cnn") if (ZOO / "resnet50.cnn").exists() else None
    if model is None:
        pytest.skip("zoo_specs/resnet50.cnn is not there yet")
    assert isinstance(model.layer3, torch.nn.Sequential) and len(model.layer3) == 6
    assert model.layer3[2].conv2.kernel_size == (3, 3)
    assert isinstance(model.layer2[0].downsample[0], torch.nn.Conv2d)


def test_lecun_layers():
    network = cnndsl.build(SPECS / "torch" / "lecun.cnn")
    model = instantiate(network)
    table = model.C3.conv1
    assert table.weight.numel() == 60 * 25
    # Output map 0 sees input maps 0, 1, 2 only: the others do not change it.
    x = torch.randn(1, 6, 14, 14)
    y = x.clone()
    y[:, 3:] = torch.randn(1, 3, 14, 14)
    assert torch.equal(table(x)[:, 0], table(y)[:, 0])
    assert not torch.equal(table(x)[:, 3], table(y)[:, 3])
    assert [name for name, _ in model.out.named_buffers()] == ["centres"]
    assert n_params(model.S2.subsample1) == 12


def test_torch_compile_matches_eager():
    model = cnndsl.load(SPECS / "torch" / "mini_resnet.cnn", compile=True).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model._orig_mod(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("path", [p for p in NETWORKS if p.values[0].parent == ZOO])
def test_torch_jit_script_compiles_every_zoo_network(path):
    """TorchScript: dense blocks (a ModuleDict, annotated features) and auxiliary heads
    (Optional outputs, a Union return) included; the scripted module computes the same."""
    network = _build(path)
    model = instantiate(network).eval()
    scripted = torch.jit.script(model)
    if network.aux_outputs or path.stem in ("lenet5", "densenet121"):
        x = _example(network)
        with torch.no_grad():
            torch.testing.assert_close(scripted(x), model(x))
            if network.aux_outputs:
                assert len(scripted.train()(x)) == 1 + len(network.aux_outputs)
