"""The one sanitiser for identifiers that come from specs."""
import keyword

import pytest
import torch

from cnndsl.ir.names import MODULE_ATTRIBUTES, attribute_name, class_name


def test_module_attribute_list_matches_torch():
    public = {name for name in dir(torch.nn.Module) if not name.startswith("_")}
    assert public <= MODULE_ATTRIBUTES | {"call_super_init"}, public - MODULE_ATTRIBUTES


@pytest.mark.parametrize("raw", ["class", "forward", "__init__", "__import__", "self", "x",
                                 "print", "training", "match", "eval", "0day", "a-b", "", "_"])
def test_attribute_names_are_safe(raw):
    name = attribute_name(raw)
    assert name.isidentifier()
    assert not keyword.iskeyword(name)
    assert not name.startswith("_")
    assert name not in MODULE_ATTRIBUTES
    assert not hasattr(torch.nn.Module, name)


def test_class_names():
    assert class_name("bottleneck") == "Bottleneck"
    assert class_name("inception_a") == "InceptionA"
    assert class_name("ResNeXt50_32x4d") == "ResNeXt50_32x4d"  # written as a class name
    assert class_name("resnext50_32x4d") == "Resnext50_32x4d"  # 5032 would mislead
    assert class_name("inception_v3") == "InceptionV3"
    assert class_name("__import__").isidentifier()


def test_labels_that_shadow_are_renamed_consistently(build_text):
    net = build_text("input 3x8x8\nforward: conv k1 4\nclass: relu\n")
    names = [net.node(n)["name"] for n in net.layers()]
    assert names == ["forward_", "class_"]
