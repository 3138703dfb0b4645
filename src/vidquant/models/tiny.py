"""A tiny image-to-image network bundled for the demo and tests (conv, attention, transposed conv).

Its weights come from a fixed seed, so every install builds the same network without downloads.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vidquant.models import register_model
from vidquant.quant.modules import MatMul
from vidquant.quant.plan import QuantPlan
from vidquant.quant.recipes import list_recipes


class TokenAttention(nn.Module):
    """Single-head self-attention over the spatial positions of a feature map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.q, self.k, self.v = (nn.Linear(channels, channels) for _ in range(3))
        self.scores, self.mix = MatMul(), MatMul()
        self.scale = channels**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        q, k, v = self.q(tokens), self.k(tokens), self.v(tokens)
        attn = torch.softmax(self.scores(q, k.transpose(1, 2)) * self.scale, dim=-1)
        return x + self.mix(attn, v).transpose(1, 2).reshape(n, c, h, w)


class TinyConvNet(nn.Module):
    """3 x H x W -> 3 x H x W (H, W multiples of 4): down, attend, up."""

    example_input_shapes = ((1, 3, 32, 32),)

    def __init__(self, width: int = 16, seed: int = 0) -> None:
        super().__init__()
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        self.encoder = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        )
        self.attention = TokenAttention(2 * width)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 3, 4, stride=2, padding=1),
        )
        torch.random.set_rng_state(generator_state)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.attention(self.encoder(x)))


def _every_recipe(**_kwargs: object) -> dict[str, QuantPlan]:
    """The demo network takes every built-in recipe as it is."""
    return {recipe.name: QuantPlan(recipe.name) for recipe in list_recipes()}


@register_model("tiny-convnet", plans=_every_recipe)
def tiny_convnet(width: int = 16, seed: int = 0) -> TinyConvNet:
    return TinyConvNet(width=width, seed=seed)


def example_batches(count: int = 8, size: int = 32, seed: int = 1) -> list[torch.Tensor]:
    """Smooth synthetic images (sums of random low-frequency waves), like natural frames."""
    generator = torch.Generator().manual_seed(seed)
    axis = torch.linspace(0, 1, size)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    batches = []
    for _ in range(count):
        freq = torch.rand(2, 3, 2, 1, 1, generator=generator) * 6
        phase = torch.rand(2, 3, 1, 1, generator=generator) * 6.28
        image = torch.sin(freq[:, :, 0] * xx + freq[:, :, 1] * yy + phase)
        batches.append(image + 0.05 * torch.randn(image.shape, generator=generator))
    return batches
