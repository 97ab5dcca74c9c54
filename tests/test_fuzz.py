"""Fuzzing: any text gives a network or a located CnnError, never another exception or a
hang; generated valid specs run in PyTorch with the shapes the compiler inferred.
CI runs a short profile; scripts/fuzz.py runs the same properties for longer."""
import time

import pytest
from hypothesis import HealthCheck, given, settings

import cnndsl

from .fuzz_specs import mutated_spec, valid_spec, word_soup

SHORT = settings(max_examples=120, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SECONDS_PER_SPEC = 30.0  # a hang guard, not a speed test: a hang takes far longer (speed: bench/)


def build_or_located_error(text):
    started = time.perf_counter()
    try:
        network = cnndsl.build(cnndsl.parse(text))  # text, even on one line
    except cnndsl.CnnError as error:
        assert error.span is not None, f"no location: {error}"
        network = None
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS_PER_SPEC, f"took {elapsed:.1f} s"
    return network


@SHORT
@given(valid_spec())
def test_generated_specs_build(text):
    started = time.perf_counter()
    cnndsl.build(text)  # a CnnError here fails the test with its message
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS_PER_SPEC, f"took {elapsed:.1f} s"


@SHORT
@given(mutated_spec())
def test_mutated_specs_fail_cleanly(text):
    build_or_located_error(text)


@SHORT
@given(word_soup())
def test_word_soup_fails_cleanly(text):
    build_or_located_error(text)


def count_macs(model, torch):
    """Hooks that add up the multiply-accumulates of every Conv2d, ConvTranspose2d and Linear
    as they run (the bias left out, as cnndsl counts): returns the running total, a list."""
    total = [0]

    def hook(module, inputs, output):
        batch = output.shape[0]
        if isinstance(module, torch.nn.ConvTranspose2d):
            kh, kw = module.kernel_size
            total[0] += (inputs[0].numel() // batch * module.out_channels // module.groups
                         * kh * kw)
        elif isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            total[0] += output.numel() // batch * module.in_channels // module.groups * kh * kw
        elif isinstance(module, torch.nn.Linear):
            total[0] += output.numel() // batch * module.in_features

    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
            module.register_forward_hook(hook)
    return total


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(valid_spec())
def test_generated_specs_run_in_torch(text):
    """The differential check: the generated module's output shapes, parameter count and
    multiply-accumulates (counted by hooks on the modules that ran) are the compiler's, in
    eval mode (the outputs) and in training mode (the outputs, then the aux heads), training
    mode runs backward too (no in-place write breaks autograd), the module written without
    in-place steps computes the same in eval mode, and its BN-folded form
    (runtime `fuse_bn` and the `fuse_bn=True` build) computes the same function with the
    parameters that build predicts."""
    torch = pytest.importorskip("torch")
    from cnndsl.backends.torch_source import network_class_name, torch_source
    from cnndsl.torch_api import module_class

    from .torch_helpers import expected_params, instantiate, n_params, randomise_batchnorm

    network = cnndsl.build(text)
    shapes = [tuple(network.node(n)["meta"]["shape"]) for n in network.outputs]
    aux_shapes = [tuple(network.node(n)["meta"]["shape"]) for n in network.aux_outputs]
    model = instantiate(network)
    assert n_params(model) == expected_params(network)
    macs = count_macs(model, torch)
    x = torch.randn(2, *network.input_shape, generator=torch.Generator().manual_seed(0))

    model.train()  # batch statistics, dropout, droppath, the aux heads
    outs = as_tuple(model(x.clone().requires_grad_()))
    assert [tuple(o.shape[1:]) for o in outs] == shapes + aux_shapes
    assert macs[0] == network.meta["macs"] + network.meta["aux"]["macs"]
    sum(o.float().sum() for o in outs).backward()

    randomise_batchnorm(model)
    model.eval()
    macs[0] = 0
    with torch.no_grad():
        outs = as_tuple(model(x))
        assert [tuple(o.shape[1:]) for o in outs] == shapes
        assert macs[0] == network.meta["macs"]
        plain = module_class(torch_source(network, inplace=False),
                             network_class_name(network))()
        plain.load_state_dict(model.state_dict())
        plain.eval()
        for got, out in zip(as_tuple(plain(x)), outs, strict=True):  # in-place steps are safe
            torch.testing.assert_close(got, out, rtol=1e-5, atol=1e-6)
        folded = cnndsl.fuse_bn(model)
        for got, out in zip(as_tuple(folded(x)), outs, strict=True):
            scale = max(1.0, out.abs().max().item())
            torch.testing.assert_close(got, out, rtol=1e-4, atol=1e-4 * scale)
    predicted = cnndsl.build(text, fuse_bn=True)
    assert n_params(folded) == expected_params(predicted)
