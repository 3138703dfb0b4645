"""Whole-sequence encode and decode: frames in, versioned bitstream out, and back.

The encoder keeps its own reconstructions (what the decoder will produce) and the model's
rate estimate per frame, so callers can check exactness and real-vs-estimated rate.
"""

from __future__ import annotations

import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import torch
from tqdm import tqdm

from vidquant.deploy.bitstream import Bitstream, CodedFrame, check_size, check_stream_decoder
from vidquant.deploy.frame_checks import check_exhausted, check_frame_qp, check_payload_size, decoding_frame
from vidquant.errors import VidquantError
from vidquant.quant.fingerprint import describe, fingerprint

from ..net.entropy_models import FrameReader, likelihood_bits, steps_bits
from ..net.layers import hyper_shape
from ..net.frame_coder import EncoderSide, FrameCoder, FramePlan, z_table
from ..net.model import DCVCRT
from .sequence import pad_picture, plan_frame, yuv420_to_tensor
from .yuvfile import Planes


@contextmanager
def single_thread() -> Iterator[None]:
    """Code with one thread: convolution results depend on the thread count, and the decoder
    must recompute the encoder's entropy parameters bit for bit (the official test also uses 1)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def model_fingerprint(codec: DCVCRT) -> int:
    """CRC-32 over every parameter of both models: which float weights a student was calibrated
    from (its calibration record). Streams carry ``vidquant.quant.fingerprint.fingerprint`` instead."""
    crc = 0
    for tensor in codec.state_dict().values():
        crc = zlib.crc32(tensor.detach().contiguous().numpy().tobytes(), crc)
    return crc


@dataclass
class FrameStats:
    kind: str
    qp: int
    bytes: int
    est_bits: float
    seconds: float


@dataclass
class EncodeResult:
    bitstream: Bitstream
    recons: list[torch.Tensor] = field(default_factory=list)  # padded x_hat per frame
    stats: list[FrameStats] = field(default_factory=list)


@dataclass(frozen=True)
class EncodeSettings:
    qp_i: int
    qp_p: int
    intra_period: int = -1
    reset_interval: int = 64
    thres: float | None = 0.12


def _check_qp(codec: DCVCRT, settings: EncodeSettings) -> None:
    rows = codec.image.qp_rows
    for name, qp in (("qp_i", settings.qp_i), ("qp_p", settings.qp_p)):
        if not 0 <= qp < rows:
            raise VidquantError(f"{name} must be in 0..{rows - 1}, got {qp}")


def _estimated_bits(net: torch.nn.Module, side: EncoderSide, qp: int, thres: float | None) -> float:
    z_bits = likelihood_bits(net.bit_estimator_z.likelihood(side.z_hat, qp).numpy())
    return z_bits + steps_bits(side.written(), thres)


@torch.no_grad()
def encode_video(
    codec: DCVCRT, frames: Iterable[Planes], settings: EncodeSettings, progress: bool = False
) -> EncodeResult:
    """Code every frame; returns the bitstream, the reconstructions and per-frame stats."""
    _check_qp(codec, settings)
    with single_thread():
        result = _encode_frames(codec, frames, settings, progress)
    if result is None:
        raise VidquantError("the video has no frames")
    return result


def _encode_frames(codec: DCVCRT, frames: Iterable[Planes], settings: EncodeSettings, progress: bool):
    coder = codec.frame_coder()
    result: EncodeResult | None = None
    for index, planes in enumerate(tqdm(frames, desc="encode", unit="frame", disable=not progress)):
        height, width = planes[0].shape
        if result is None:
            check_size(width, height)  # before coding, not when the stream is written
            stream = Bitstream(codec.preset.name, describe(codec), height, width, settings.thres, fingerprint(codec))
            result = EncodeResult(stream)
        plan = plan_frame(index, settings.qp_i, settings.qp_p, settings.intra_period, settings.reset_interval)
        start = time.perf_counter()
        payload, x_hat, side = coder.compress(plan, pad_picture(yuv420_to_tensor(*planes)), settings.thres)
        result.recons.append(x_hat)
        result.bitstream.frames.append(CodedFrame(plan.kind, plan.qp, plan.use_ada_i, payload))
        net = codec.image if plan.kind == "I" else codec.video
        est = _estimated_bits(net, side, plan.qp, settings.thres)
        result.stats.append(FrameStats(plan.kind, plan.qp, len(payload), est, time.perf_counter() - start))
    return result


def _check_stream_model(codec: DCVCRT, stream: Bitstream) -> None:
    check_stream_decoder(stream, codec.preset.name, describe(codec), fingerprint(codec))


def _padded_size(stream: Bitstream) -> tuple[int, int]:
    return -(-stream.height // 16) * 16, -(-stream.width // 16) * 16


@torch.no_grad()
def decode_video(codec: DCVCRT, stream: Bitstream, progress: bool = False) -> Iterator[torch.Tensor]:
    """Padded reconstructions of every frame, decoded from the bitstream alone."""
    _check_stream_model(codec, stream)
    coder = codec.frame_coder()
    with single_thread():
        for index, frame in enumerate(tqdm(stream.frames, desc="decode", unit="frame", disable=not progress)):
            yield _decode_frame(codec, coder, index, frame, stream.thres, _padded_size(stream))


@dataclass
class RecordingReader:
    """Reads a payload and keeps the symbols it read (z, then the y tensor of each step)."""

    reader: FrameReader
    z_hat: torch.Tensor | None = None
    steps: list[torch.Tensor] = field(default_factory=list)

    def read_z(self, z_probs, shape) -> torch.Tensor:
        self.z_hat = self.reader.read_z(z_probs, shape)
        return self.z_hat

    def read_step(self, step: int, s_w: torch.Tensor) -> torch.Tensor:
        self.steps.append(self.reader.read_step(step, s_w))
        return self.steps[-1]

    def exhausted(self) -> bool:
        return self.reader.exhausted()


@dataclass
class ReplayReader:
    """Hands out the symbols another decoder read, whatever scales this decoder computes."""

    source: RecordingReader

    def read_z(self, z_probs, shape) -> torch.Tensor:
        return self.source.z_hat

    def read_step(self, step: int, s_w: torch.Tensor) -> torch.Tensor:
        return self.source.steps[step]


@torch.no_grad()
def decode_open_loop(encoder_codec: DCVCRT, decoder_codec: DCVCRT, stream: Bitstream) -> Iterator[torch.Tensor]:
    """Measurement only: ``decoder_codec``'s reconstructions of a stream written by another model.

    The stream's symbols are read with ``encoder_codec`` (whose entropy parameters match the
    stream) and replayed into ``decoder_codec``, which computes means and references with its
    own networks: the drift that closed-loop coding (one model on both sides) avoids.
    """
    _check_stream_model(encoder_codec, stream)
    reference, coder = encoder_codec.frame_coder(), decoder_codec.frame_coder()
    with single_thread():
        for index, frame in enumerate(stream.frames):
            recorder = RecordingReader(FrameReader(frame.payload, stream.thres))
            _decode_frame(encoder_codec, reference, index, frame, stream.thres, _padded_size(stream), recorder)
            yield _decode_frame(decoder_codec, coder, index, frame, stream.thres, _padded_size(stream),
                                ReplayReader(recorder))


def _decode_frame(codec: DCVCRT, coder: FrameCoder, index: int, frame: CodedFrame, thres, size,
                  reader=None) -> torch.Tensor:
    net = codec.image if frame.kind == "I" else codec.video
    check_frame_qp(index, frame, net.qp_rows)
    z_shape = hyper_shape(net.cfg.hyper, *size)
    check_payload_size(index, frame, z_table(net.bit_estimator_z, frame.qp), z_shape, size)
    plan = FramePlan(index, frame.kind, frame.qp, frame.use_ada_i)
    reader = reader or FrameReader(frame.payload, thres)
    with decoding_frame(index):
        x_hat = coder.decompress(plan, reader, size)
    if hasattr(reader, "exhausted"):
        check_exhausted(index, reader)
    return x_hat


def differing_samples(a: list[torch.Tensor], b: list[torch.Tensor]) -> int:
    """Number of differing float samples between two lists of reconstructions."""
    if len(a) != len(b):
        return -1
    return int(sum(int((x != y).sum()) for x, y in zip(a, b)))

