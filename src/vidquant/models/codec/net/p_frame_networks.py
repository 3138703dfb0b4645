"""The networks a DCVC-RT decoder runs for one P frame, as one module (benchmarks, export).

Decoding a P frame interleaves entropy decoding (constriction, not a network) with these
networks: feature adaptor, temporal context, hyperprior decoder, temporal prior, entropy
parameter fusion, the second spatial-prior step and the reconstruction. ``PFrameDecoderNetworks``
runs all of them once on given latents, so a latency or size comparison covers every
network the decoder runs and nothing else. Registered as ``<preset>-decoder``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from vidquant.models import register_model

from .config import PRESETS
from .video_model import DMC

BENCH_SIZE = (288, 352)  # CIF, the size DCVC-RT speed is usually quoted at
BENCH_QP = 32
# Not run when a P frame is decoded from a stored feature: the analysis transforms, the z rate
# model and the adaptor of a reference *picture* (used only right after an I frame).
NOT_IN_P_DECODE = ("encoder", "hyper_encoder", "q_encoder", "feature_adaptor_i", "bit_estimator_z")


class PFrameDecoderNetworks(nn.Module):
    """(stored reference feature, z_hat, y_hat) -> (x_hat, new reference feature, spatial prior)."""

    def __init__(self, video: DMC, qp: int = BENCH_QP, size: tuple[int, int] = BENCH_SIZE) -> None:
        super().__init__()
        self.video = video
        self.qp = qp
        cfg = video.cfg
        height, width = size
        latent_h, latent_w = height // 16, width // 16
        self.example_input_shapes = (
            (1, cfg.feature, height // 8, width // 8),
            (1, cfg.hyper, -(-latent_h // 4), -(-latent_w // 4)),
            (1, cfg.latent, latent_h, latent_w),
        )

    def forward(self, reference: torch.Tensor, z_hat: torch.Tensor, y_hat: torch.Tensor):
        video = self.video
        feature = video.feature_adaptor_p(reference)
        ctx, ctx_t = video.context(feature, self.qp)
        params = video.common_params(z_hat, ctx_t, (y_hat.shape[-2], y_hat.shape[-1]))
        prior = video.y_spatial_prior(torch.cat((y_hat, params), dim=1))
        new_feature, x_hat = video.synthesise(y_hat, ctx, self.qp)
        return x_hat, new_feature, prior


def build_decoder_networks(preset: str) -> PFrameDecoderNetworks:
    """The P-frame decoder networks of ``preset`` with its packaged weights, else the
    conformance fill (latency does not depend on the weight values)."""
    from .model import build_codec, packaged_weights

    video = build_codec(preset, synthetic=packaged_weights(preset) is None).video
    for name in NOT_IN_P_DECODE:
        setattr(video, name, None)
    return PFrameDecoderNetworks(video).eval()


def _register(preset: str) -> None:
    register_model(f"{preset}-decoder")(lambda: build_decoder_networks(preset))


for _preset in PRESETS:
    _register(_preset)
