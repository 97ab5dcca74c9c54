"""A layer registered from Python is used in specs like a built-in."""
import pytest

import cnndsl
from cnndsl import OpSpec, OptionSpec, ShapeProblem


def _shape(opts, ins):
    c, h, w = ins[0]
    b = opts["b"]
    if h % b or w % b:
        raise ShapeProblem(f"`s2d` block {b} must divide the input size {h}x{w}")
    return (c * b * b, h // b, w // b)


@pytest.fixture
def s2d():
    spec = cnndsl.register_layer(OpSpec(
        name="s2d", family="custom", doc="space to depth",
        options=(OptionSpec("b", "int", 2, compact="k", minimum=1, doc="block size"),),
        positional="b", shape=_shape))
    yield spec
    cnndsl.unregister_layer("s2d")


def test_custom_layer_in_a_spec(s2d):
    net = cnndsl.build("input 3x32x32\ns2d 4 conv k1 16 s2d k2\n")
    assert [net.node(n)["meta"]["shape"] for n in net.layers()] == \
        [(48, 8, 8), (16, 8, 8), (64, 4, 4)]
    assert [net.node(n)["name"] for n in net.layers()] == ["s2d1", "conv1", "s2d2"]


def test_custom_layer_errors_are_located(s2d):
    with pytest.raises(cnndsl.CnnShapeError) as info:
        cnndsl.build("input 3x30x30\nconv k1 8\ns2d 4\n")
    assert (info.value.span.line, info.value.span.col) == (3, 1)
    with pytest.raises(cnndsl.CnnNameError, match="has no option `q`"):
        cnndsl.build("input 3x32x32\ns2d q=2\n")


def test_registration_is_checked():
    with pytest.raises(cnndsl.CnnUsageError, match="already registered"):
        cnndsl.register_layer(OpSpec(name="conv", family="custom"))
    with pytest.raises(cnndsl.CnnUsageError, match="word of the language"):
        cnndsl.register_layer(OpSpec(name="residual", family="custom"))
    with pytest.raises(cnndsl.CnnUsageError, match="identifier"):
        cnndsl.register_layer(OpSpec(name="my-layer", family="custom"))


def test_a_layer_without_a_torch_rule_is_checked_but_not_loaded(s2d):
    spec = "input 3x32x32\nconv k1 4 s2d 4\n"
    assert cnndsl.build(spec).output
    for make in (cnndsl.load, cnndsl.compile_source):
        with pytest.raises(cnndsl.CnnUsageError) as info:
            make(spec)
        assert "`s2d` (`s2d1`, at <string>:2:11) has no PyTorch module" in info.value.message
        assert "torch=" in info.value.hint
