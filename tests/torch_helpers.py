"""Shared helpers of the PyTorch backend tests."""
from __future__ import annotations

import torch

import cnndsl
from cnndsl.backends.torch_source import network_class_name, network_params, torch_source
from cnndsl.torch_api import module_class


def instantiate(network, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return module_class(torch_source(network), network_class_name(network))()


def randomise_batchnorm(model: torch.nn.Module, seed: int = 1) -> None:
    """Running statistics and affine weights far from their initial values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                c = module.num_features
                module.running_mean.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)
                module.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
                module.weight.copy_(torch.rand(c, generator=gen) * 0.8 + 0.6)
                module.bias.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def expected_params(network) -> int:
    return network_params(network)[0]


__all__ = ["cnndsl", "expected_params", "instantiate", "n_params", "randomise_batchnorm"]
