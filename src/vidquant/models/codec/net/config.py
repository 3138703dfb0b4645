"""Architecture presets of DCVC-RT as data: widths and block counts of DMCI and DMC.

The official configuration (``dcvc-rt``) reproduces the key lists of the conformance pack;
``dcvc-rt-small`` keeps the same topology with narrow layers so it trains on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vidquant.errors import VidquantError

PIXEL_UNSHUFFLED = 192  # 3 planes x 8 x 8 after PU(8)
QP_NUM = 64  # rate points of the image model
QP_SHIFT = (0, 8, 4)  # P-frame qp offsets (SPEC 8.3)
QP_SHIFT_INDEX = (0, 1, 0, 2, 0, 2, 0, 2)  # index into QP_SHIFT by frame index mod 8


@dataclass(frozen=True)
class ImageConfig:
    """DMCI widths: internal width, latent y channels, hyper-latent z channels, block counts."""

    width: int = 368
    latent: int = 256
    hyper: int = 128
    enc_blocks: int = 6
    dec_blocks: int = 12
    prior_blocks: int = 3
    qp_rows: int = QP_NUM

    def __post_init__(self) -> None:
        if self.latent % 4:
            raise VidquantError(f"image latent channels must be a multiple of 4, got {self.latent}")


@dataclass(frozen=True)
class VideoConfig:
    """DMC widths: latent, hyper-latent, feature and reconstruction widths, block counts."""

    latent: int = 128
    hyper: int = 128
    feature: int = 256
    recon: int = 320
    extractor_blocks: tuple[int, int] = (2, 4)
    encoder_blocks: int = 2
    decoder_blocks: int = 3
    prior_blocks: int = 3
    spatial_blocks: int = 2
    recon_blocks: int = 4
    qp_rows: int = QP_NUM + max(QP_SHIFT)

    def __post_init__(self) -> None:
        if self.latent % 2:
            raise VidquantError(f"video latent channels must be even, got {self.latent}")


@dataclass(frozen=True)
class CodecPreset:
    """A named DMCI + DMC pair plus the coding settings of the official test."""

    name: str
    image: ImageConfig = field(default_factory=ImageConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    force_zero_thres: float | None = 0.12
    reset_interval: int = 64


PRESETS: dict[str, CodecPreset] = {
    "dcvc-rt": CodecPreset("dcvc-rt"),
    "dcvc-rt-small": CodecPreset(
        "dcvc-rt-small",
        image=ImageConfig(width=64, latent=64, hyper=48, enc_blocks=2, dec_blocks=3, prior_blocks=2),
        video=VideoConfig(
            latent=48,
            hyper=48,
            feature=64,
            recon=64,
            extractor_blocks=(1, 2),
            encoder_blocks=1,
            decoder_blocks=2,
            prior_blocks=2,
            spatial_blocks=1,
            recon_blocks=2,
        ),
    ),
}


def get_preset(name: str) -> CodecPreset:
    """The preset called ``name``; unknown names fail in one line listing the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise VidquantError(f"unknown codec preset {name!r}; valid: {', '.join(PRESETS)}") from None
