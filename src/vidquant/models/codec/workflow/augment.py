"""Colour augmentation of training and calibration chains ([..., 3, H, W] YUV in [0, 1])."""

from __future__ import annotations

import math

import numpy as np
import torch

from vidquant.errors import VidquantError

COLOUR_LOG_GAIN = (math.log(0.7), math.log(3.0))  # saturation gains drawn log-uniformly from 0.7..3


def shift_colours(pictures: torch.Tensor, angle: float, gain: float) -> torch.Tensor:
    """Rotate the chroma vector (U, V) about grey by ``angle`` and scale it by ``gain``.

    The clips the small model learns from are nearly grey (container ship, a face, a park):
    without this, it never sees saturated colours and decodes a red book as dark blue. Luma is
    kept, so the pictures stay natural apart from their hue; values leaving [0, 1] are clipped."""
    u, v = pictures[..., 1, :, :] - 0.5, pictures[..., 2, :, :] - 0.5
    cos, sin = gain * math.cos(angle), gain * math.sin(angle)
    chroma = torch.stack((cos * u - sin * v, sin * u + cos * v), dim=-3) + 0.5
    return torch.cat((pictures[..., :1, :, :], chroma.clamp(0.0, 1.0)), dim=-3)


def check_colour_share(share: float) -> None:
    """The share of augmented chains is a probability; one message for training and calibration."""
    if not 0.0 <= share <= 1.0:
        raise VidquantError(f"colour_aug must be between 0 and 1, got {share}")


def maybe_shift_colours(chain: torch.Tensor, share: float, rng: np.random.Generator) -> torch.Tensor:
    """With probability ``share``, one random hue rotation and saturation gain for the whole chain.

    Draws nothing from ``rng`` when ``share`` is 0, so runs without augmentation keep their crops."""
    if share <= 0 or rng.random() >= share:
        return chain
    return shift_colours(chain, rng.uniform(0.0, 2.0 * math.pi), math.exp(rng.uniform(*COLOUR_LOG_GAIN)))
