"""One tensor feeding a merge more than once (`concat< id | id >`): every use is an input.

The IR once was a DiGraph, which keeps one edge of two parallel ones, so these merges lost
an input (`input 8x4x4 / inception< id | id >` said 8 channels, torch gives 16)."""
import pytest

import cnndsl
from cnndsl.backends.graphviz import render

from .torch_helpers import expected_params, instantiate, n_params

torch = pytest.importorskip("torch")

CASES = [  # body, output shape, output as a function of the input
    ("concat< id | id >", (16, 4, 4), lambda x: torch.cat([x, x], 1)),
    ("inception< id | id >", (16, 4, 4), lambda x: torch.cat([x, x], 1)),
    ("add< id | id >", (8, 4, 4), lambda x: x + x),
    ("inception< id | conv k1 8 | id >", (24, 4, 4), None),
]


@pytest.mark.parametrize("body, shape, reference", CASES)
@pytest.mark.parametrize("fuse_bn", [False, True])
def test_shapes_params_and_forward_equal_torch(body, shape, reference, fuse_bn):
    net = cnndsl.build(f"input 8x4x4\n{body}", fuse_bn=fuse_bn)
    assert net.lint() == []
    assert net.node(net.output)["meta"]["shape"] == shape
    model = instantiate(net).eval()
    assert n_params(model) == expected_params(net) == net.meta["params"]
    x = torch.randn(2, 8, 4, 4)
    y = model(x)
    assert tuple(y.shape[1:]) == shape
    if reference is not None:
        torch.testing.assert_close(y, reference(x))
    else:  # the middle branch is a conv; the outer two are x itself
        torch.testing.assert_close(y[:, :8], x)
        torch.testing.assert_close(y[:, 16:], x)


def test_inputs_repeat_a_source_consumers_do_not():
    net = cnndsl.build("input 8x4x4\nconv k1 8 concat< id | id | conv k1 2 >")
    conv = net.by_name("conv1")
    concat = net.output
    assert net.inputs(concat) == [conv, conv, net.by_name("branch3")]
    assert net.consumers(conv) == [net.by_name("branch3"), concat]
    assert net.graph.number_of_edges(conv, concat) == 2


@pytest.mark.parametrize("merge", ["concat", "add"])
def test_folded_bn_keeps_both_edges(merge):
    """fold_batchnorm rewires the bn's readers to its conv: both parallel edges move."""
    text = f"input 8x4x4\nconv k1 8 bn {merge}< id | id > conv k1 4"
    plain, fused = cnndsl.build(text), cnndsl.build(text, fuse_bn=True)
    assert fused.lint() == []
    conv, merged = fused.by_name("conv1"), fused.by_name(f"{merge}1")
    assert fused.inputs(merged) == [conv, conv]
    assert fused.node(fused.output)["meta"]["shape"] == (4, 4, 4)
    a, b = instantiate(plain).eval(), instantiate(fused).eval()
    with torch.no_grad():  # copy the unfolded weights into the folded module's conv
        b.conv1.weight.copy_(a.conv1.weight)
        b.conv1.bias.zero_()
        b.conv2.load_state_dict(a.conv2.state_dict())
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(a(x), b(x))  # a fresh bn is the identity in eval mode


def test_diagram_draws_each_use():
    source = render(cnndsl.build("input 8x4x4\ninception< id | conv k1 8 | id >")).source
    merge = "n2"
    assert source.count(f"input -> {merge}") == 2
    assert source.count(f"n1 -> {merge}") == 1
    assert "24×4×4" in source


def test_summary_counts_every_input():
    data = cnndsl.summary("input 8x4x4\ninception< id | id >").data
    assert data["output"] == [16, 4, 4]
    assert data["memory"]["activations_bytes"] == 4 * (8 + 16) * 4 * 4
