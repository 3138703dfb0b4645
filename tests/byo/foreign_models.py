"""Three models written the way users write theirs (not with vidquant in mind), for the
bring-your-own-model path: a hyperprior codec with transposed convolutions and compress /
decompress but no forward, a DCVC-style conditional decoder, a U-Net whose attention uses ``@``."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class HyperpriorCodec(nn.Module):
    """Analysis / synthesis transforms and a hyperprior, as in Ballé et al. 2018; no forward."""

    def __init__(self, n: int = 16, m: int = 24) -> None:
        super().__init__()
        self.g_a = nn.Sequential(nn.Conv2d(3, n, 5, 2, 2), nn.ReLU(), nn.Conv2d(n, m, 5, 2, 2))
        self.h_a = nn.Sequential(nn.Conv2d(m, n, 3, 1, 1), nn.ReLU(), nn.Conv2d(n, n, 5, 2, 2))
        self.h_s = nn.Sequential(nn.ConvTranspose2d(n, n, 5, 2, 2, output_padding=1), nn.ReLU(),
                                 nn.Conv2d(n, m, 3, 1, 1), nn.Softplus())
        self.g_s = nn.Sequential(nn.ConvTranspose2d(m, n, 5, 2, 2, output_padding=1), nn.ReLU(),
                                 nn.ConvTranspose2d(n, 3, 5, 2, 2, output_padding=1))

    def compress(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The rounded latents (what an entropy coder would write)."""
        y = self.g_a(x)
        return torch.round(y), torch.round(self.h_a(y))

    def decompress(self, y_hat: torch.Tensor, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The picture and the scales the entropy decoder would use."""
        return self.g_s(y_hat), self.h_s(z_hat)


class ConditionalDecoder(nn.Module):
    """DCVC-style: the latent and a reference feature make the picture and the next feature."""

    def __init__(self, latent: int = 24, feature: int = 16) -> None:
        super().__init__()
        self.context = nn.Sequential(nn.Conv2d(feature, feature, 3, 1, 1), nn.LeakyReLU(0.1))
        self.context_down = nn.Conv2d(feature, feature, 3, 4, 1)
        self.up = nn.Sequential(nn.Conv2d(latent + feature, feature * 16, 1), nn.PixelShuffle(4))
        self.fuse = nn.Conv2d(2 * feature, feature, 3, 1, 1)
        self.depthwise = nn.Conv2d(feature, feature, 3, 1, 1, groups=feature)
        self.gate = nn.Conv2d(feature, feature, 1)
        self.head = nn.Conv2d(feature, 3, 3, 1, 1)

    def forward(self, y_hat: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        context = self.context(reference)
        x = self.up(torch.cat([y_hat, self.context_down(context)], dim=1))
        x = self.fuse(torch.cat([x, context], dim=1))
        feature = x + self.depthwise(x) * torch.sigmoid(self.gate(x))
        return self.head(feature), feature


class AttentionUNet(nn.Module):
    """A small U-Net: strided convolution down, single-head self-attention at the bottom written
    with ``@``, transposed convolution up, skip connection."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.inc = nn.Conv2d(3, channels, 3, 1, 1)
        self.down = nn.Conv2d(channels, 2 * channels, 3, 2, 1)
        self.qkv = nn.Conv2d(2 * channels, 6 * channels, 1)
        self.proj = nn.Linear(2 * channels, 2 * channels)
        self.up = nn.ConvTranspose2d(2 * channels, channels, 2, 2)
        self.out = nn.Conv2d(2 * channels, 3, 3, 1, 1)
        self.scale = (2 * channels) ** -0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = F.relu(self.inc(x))
        h = F.relu(self.down(skip))
        b, c, height, width = h.shape
        q, k, v = self.qkv(h).flatten(2).transpose(1, 2).chunk(3, dim=-1)
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        h = h + self.proj(attn @ v).transpose(1, 2).reshape(b, c, height, width)
        return self.out(torch.cat([F.relu(self.up(h)), skip], dim=1))
