"""Checks of one coded frame, shared by the PyTorch decoder (``coding.pipeline``) and the bundle
decoder (``deploy.bundle``): a corrupted or forged stream is one line naming the frame, before
anything picture-sized is allocated and after its last symbol. Imports no torch.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np

from vidquant.errors import VidquantError, first_line

from .bitstream import CodedFrame
from .entropy import PROB_FLOOR, PayloadReader


def check_frame_qp(index: int, frame: CodedFrame, rows: int) -> None:
    """A qp beyond the model's rows (``rows``: of the I or P model, as ``frame.kind`` says)."""
    if frame.qp >= rows:
        raise VidquantError(f"frame {index}: qp {frame.qp} outside 0..{rows - 1} (corrupted frame table)")


def min_z_bits(z_probs: np.ndarray, shape: tuple[int, ...]) -> float:
    """A floor on the bits of any z of ``shape`` under ``z_probs`` ([channels, 256]): every
    position of channel c costs at least -log2 of its most probable symbol's probability."""
    per_position = float(-np.log2(np.clip(z_probs.max(axis=1), PROB_FLOOR, 1.0)).sum())
    return per_position * shape[2] * shape[3]


def check_payload_size(index: int, frame: CodedFrame, z_probs: np.ndarray, z_shape: tuple[int, ...],
                       size: tuple[int, int]) -> None:
    """Refuse, before any picture-sized allocation, a payload too short for the padded picture
    ``size`` (height, width) the header claims: its z alone needs at least ``min_z_bits`` (half of
    it is required, so only forged or corrupted streams are refused; a valid one is several times
    larger)."""
    needed = int(min_z_bits(z_probs, z_shape) / 16)
    if len(frame.payload) < needed:
        raise VidquantError(f"frame {index}: payload of {len(frame.payload)} bytes is too short for a "
                            f"{size[1]}x{size[0]} picture (at least {needed} bytes; corrupted or forged header)")


@contextmanager
def decoding_frame(index: int) -> Iterator[None]:
    """A payload that does not decode raises one line naming the frame, never a traceback."""
    try:
        yield
    except VidquantError:
        raise
    except Exception as error:
        raise VidquantError(f"frame {index}: cannot decode payload ({first_line(error)})") from None


def check_exhausted(index: int, reader: PayloadReader) -> None:
    """Refuse a payload with data left after the frame's last symbol."""
    if not reader.exhausted():
        raise VidquantError(f"frame {index}: payload has data left after the frame's last symbol "
                            "(corrupted stream, or a header that states the wrong picture size)")
