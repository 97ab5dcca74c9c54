"""Names that become attribute names in generated PyTorch code.

# NOTE: one sanitiser
# Every identifier that comes from a spec (labels, block names, parameter names) passes
# through `attribute_name` or `class_name` before it is used in the IR or in generated code,
# so the summary, the diagram and the module agree on names and nothing from a spec can
# shadow Python or nn.Module internals.
"""
from __future__ import annotations

import builtins
import keyword
import re

# Public attributes of torch.nn.Module (checked against torch in tests/test_names.py);
# a child module with one of these names would shadow the method.
MODULE_ATTRIBUTES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu
cuda double dump_patches eval extra_repr float forward get_buffer get_extra_state
get_parameter get_submodule half ipu load_state_dict modules mtia named_buffers
named_children named_modules named_parameters parameters register_backward_hook
register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook
register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
register_parameter register_state_dict_post_hook register_state_dict_pre_hook
requires_grad_ set_extra_state set_submodule share_memory smart_apply state_dict to
to_empty train training type xpu zero_grad
""".split())

# Names Python gives a meaning: keywords, soft keywords and builtins.
PYTHON_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))


def attribute_name(name: str) -> str:
    """A safe attribute name for `name`: an identifier, not reserved, not private."""
    clean = re.sub(r"\W", "_", name)
    clean = clean.lstrip("_") or "layer"
    if clean[0].isdigit():
        clean = "n" + clean
    if clean in PYTHON_RESERVED or clean in MODULE_ATTRIBUTES or clean in ("self", "x", "torch",
                                                                           "nn", "F"):
        clean += "_"
    return clean


def class_name(name: str) -> str:
    """A class name for a block or network: CamelCase from snake case (`bottleneck` ->
    `Bottleneck`, `inception_a` -> `InceptionA`), a name with capitals kept as written
    (`ResNeXt50_32x4d`), and an underscore kept between two digits (`resnext50_32x4d` ->
    `Resnext50_32x4d`), where joining would run two numbers together."""
    clean = attribute_name(name)
    if any(ch.isupper() for ch in clean):
        camel = clean[:1].upper() + clean[1:]
    else:
        camel = ""
        for part in (p for p in re.split(r"_+", clean) if p):
            if camel and camel[-1].isdigit() and part[0].isdigit():
                camel += "_"
            camel += part[:1].upper() + part[1:]
    camel = camel or "Block"
    if camel in PYTHON_RESERVED:
        camel += "Block"
    return camel


def count_separator(stem: str) -> str:
    """What goes between a default name's stem and its count: nothing (`conv1`, `se2`),
    or `_` after a digit (`relu6_1`, `b2_1`; the NOTE on default names in lower.py)."""
    return "_" if stem[-1:].isdigit() else ""


def call_stem(block: str) -> tuple[str, str]:
    """(stem, separator) of the names of a block's unlabelled calls: `se` gives se1, se2;
    `b2` gives b2_1."""
    stem = attribute_name(block)
    return stem, count_separator(stem)


def is_default_call_name(name: str, block: str) -> bool:
    """Whether `name` is what an unlabelled call of `block` is called (`se2`; `3` in a
    `seq< >`), as against a label."""
    stem, sep = call_stem(block)
    rest = name[len(stem) + len(sep):] if name.startswith(stem + sep) else name
    return rest.isdigit()
