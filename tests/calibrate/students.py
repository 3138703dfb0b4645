"""A small teacher with heavy-tailed (Laplace) weights and inputs, like a trained network's."""

import torch
import torch.nn as nn


def laplace_teacher(width: int = 32, seed: int = 0) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, 3, 3, padding=1),
    )
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Conv2d):
                layer.weight.copy_(_laplace(layer.weight.shape, generator) / layer.weight[0].numel() ** 0.5)
                layer.bias.zero_()
    return model.eval()


def laplace_batches(count: int = 8, seed: int = 1) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [_laplace((4, 3, 16, 16), generator) for _ in range(count)]


def _laplace(shape, generator: torch.Generator) -> torch.Tensor:
    uniform = torch.rand(shape, generator=generator) - 0.5
    return -torch.sign(uniform) * torch.log1p(-2 * uniform.abs())
