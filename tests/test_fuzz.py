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


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(valid_spec())
def test_generated_specs_run_in_torch(text):
    """The differential check: the generated module's output shape and parameter count are
    the compiler's, and its BN-folded form (runtime `fuse_bn` and the `fuse_bn=True` build)
    computes the same function with the parameters that build predicts."""
    torch = pytest.importorskip("torch")
    from .torch_helpers import expected_params, instantiate, n_params, randomise_batchnorm

    network = cnndsl.build(text)
    model = instantiate(network)
    assert n_params(model) == expected_params(network)
    randomise_batchnorm(model)
    model.eval()
    x = torch.randn(2, *network.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(x)
        assert tuple(out.shape[1:]) == tuple(network.node(network.output)["meta"]["shape"])
        folded = cnndsl.fuse_bn(model)
        scale = max(1.0, out.abs().max().item())
        torch.testing.assert_close(folded(x), out, rtol=1e-4, atol=1e-4 * scale)
    predicted = cnndsl.build(text, fuse_bn=True)
    assert n_params(folded) == expected_params(predicted)
