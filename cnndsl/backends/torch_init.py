"""Weight initialisation of generated modules, as the reference implementations do it.

# NOTE: initialisation rules
# A spec's `init NAME` line names the implementation whose initialisation the generated
# network class applies at the end of its constructor, so that training from scratch
# starts where torchvision's model starts. Each rule restates torchvision 0.28's loop over
# `self.modules()` for that family; `torch` (no `init` line) keeps PyTorch's defaults, as
# torchvision's AlexNet and ShuffleNetV2 do. The rules touch Conv2d, Linear, BatchNorm2d
# and GroupNorm; other layers keep their defaults (as in torchvision).
"""
from __future__ import annotations

_BN = """        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
"""
_BIAS = """            if m.bias is not None:
                nn.init.zeros_(m.bias)
"""  # a conv or fc written `nobias` (or before a bn) has none
_LINEAR_SMALL = """        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
""" + _BIAS

RULES: dict[str, str] = {
    "resnet": """        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
""" + _BN,
    "vgg": """        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
""" + _BIAS + _BN + _LINEAR_SMALL,
    "densenet": """        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
""" + _BN + """        elif isinstance(m, nn.Linear):
""" + _BIAS,
    "mobilenet": """        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
""" + _BIAS + _BN + _LINEAR_SMALL,
    "mnasnet": """        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
""" + _BIAS + _BN + """        elif isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="sigmoid")
""" + _BIAS,
    "efficientnet": """        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
""" + _BIAS + _BN + """        elif isinstance(m, nn.Linear):
            bound = 1.0 / m.out_features ** 0.5
            nn.init.uniform_(m.weight, -bound, bound)
""" + _BIAS,
    "convnext": """        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
""",
    "regnet": """        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, (2.0 / fan_out) ** 0.5)
""" + _BN + _LINEAR_SMALL,
    "squeezenet": """        if isinstance(m, nn.Conv2d):
            if m is last_conv:
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
            else:
                nn.init.kaiming_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
""",
    "googlenet": """        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
""" + _BN,
    "inception": """        if isinstance(m, (nn.Conv2d, nn.Linear)):
            std = 0.001 if isinstance(m, nn.Linear) and m is not last_linear else 0.1
            nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2, b=2)
""" + _BN,
}

INIT_NAMES = ("torch", *RULES)


def init_function(rule: str) -> tuple[str, str]:
    """(function name, its source) for a rule of RULES."""
    name = f"init_{rule}"
    body = RULES[rule]
    setup = ""
    if rule == "squeezenet":  # torchvision: the classifier's conv is drawn apart
        setup = ("    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]\n"
                 "    last_conv = convs[-1] if convs else None\n")
    if rule == "inception":
        # torchvision: stddev 0.1 unless the module has a `stddev` attribute; the aux
        # head's fc has 0.001 (its aux conv's 0.01 sits on the BasicConv2d wrapper, which
        # the loop does not visit, so that conv gets 0.1). The aux fc is every Linear but
        # the last.
        setup = ("    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]\n"
                 "    last_linear = linears[-1] if linears else None\n")
    text = (f"def {name}(module):\n"
            f"    \"\"\"Initialise as torchvision's {rule} models do (cnndsl init rule).\"\"\"\n"
            f"{setup}"
            f"    for m in module.modules():\n{body}")
    return name, text
