"""``BundleDecoder``: decode vidquant codec streams from an exported decoder bundle, without PyTorch.

A bundle (``vidquant codec export-decoder``, layout in docs/deploy.md) holds the INT8 decoder
networks as ONNX graphs per picture size, the per-qp tables the glue between them reads, the
entropy tables and a manifest. This module runs the glue of ``net.frame_coder.FrameCoder``
(``_intra`` / ``_inter``) op for op in float32 numpy, the networks in ONNX Runtime with the
settings the PyTorch encoder's integer arithmetic reproduces, and the entropy decoding in
``vidquant.deploy.entropy``: the output equals the encoder's reconstruction sample for sample.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import onnxruntime as ort

from vidquant.errors import VidquantError, first_line
from vidquant.io.frame import Frame

from . import entropy
from .bitstream import VERSION, Bitstream, CodedFrame, check_stream_decoder
from .frame_checks import check_exhausted, check_frame_qp, check_payload_size, decoding_frame
from .pictures import picture_to_i420
from .steps import IMAGE_STEP_PATTERNS, VIDEO_STEP_PATTERNS, read_step, step_mask

BUNDLE_FORMAT = "vidquant-decoder-bundle/1"
MANIFEST = "manifest.json"
TABLES = "tables.npz"
PICTURE_MULTIPLE = 16
# The CPU features ONNX Runtime's graph optimizations and integer kernels depend on: pre-optimized
# graphs are used only on a machine with the same ones (and the same ONNX Runtime version).
ISA_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8")
_HALF, _ZERO, _ONE = np.float32(0.5), np.float32(0), np.float32(1)


def size_key(height: int, width: int) -> str:
    """The name of a padded picture size in a bundle: ``WxH``."""
    return f"{width}x{height}"


def padded_size(height: int, width: int) -> tuple[int, int]:
    """A picture size padded to the networks' multiple of 16 (what the graphs take)."""
    return -(-height // PICTURE_MULTIPLE) * PICTURE_MULTIPLE, -(-width // PICTURE_MULTIPLE) * PICTURE_MULTIPLE


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def session_options(threads: int, optimize: bool = True) -> ort.SessionOptions:
    """ONNX Runtime options of the decoder: ``threads`` intra-op threads, all graph optimizations
    (the fused integer kernels whose arithmetic the encoder reproduces); ``optimize=False`` for
    a graph optimized already (``optimize_graph``)."""
    if threads < 1:
        raise VidquantError(f"threads must be >= 1, got {threads}")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return options


def machine() -> dict:
    """What a pre-optimized graph is valid for: the ONNX Runtime version, the architecture and
    the ``ISA_FLAGS`` of this CPU (from /proc/cpuinfo; none known elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    flags = set(cpuinfo.read_text().split()) if cpuinfo.is_file() else set()
    return {"onnxruntime": ort.__version__, "arch": platform.machine(), "isa": [f for f in ISA_FLAGS if f in flags],
            "known": bool(flags)}


def optimize_graph(source: Path, target: Path) -> None:
    """Write ``source`` as ONNX Runtime optimizes it on this machine (the graph its sessions run):
    opening it with ``optimize=False`` skips the optimization, most of a session's start time."""
    options = session_options(1)
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


@dataclass
class _Dpb:
    picture: np.ndarray | None = None
    feature: np.ndarray | None = None
    last_qp: int | None = None


class BundleDecoder:
    """Decoder of the streams of one INT8 student, from its bundle folder."""

    def __init__(self, folder: str | Path, threads: int = 1) -> None:
        self.folder = Path(folder)
        path = self.folder / MANIFEST
        if not path.is_file():
            raise VidquantError(f"{self.folder} is not a decoder bundle (no {MANIFEST}); write one with "
                                "vidquant codec export-decoder")
        self.manifest = json.loads(path.read_text())
        if self.manifest.get("format") != BUNDLE_FORMAT:
            raise VidquantError(f"{path}: format {self.manifest.get('format')!r}, this build reads {BUNDLE_FORMAT}")
        if self.manifest["bitstream_version"] != VERSION:
            raise VidquantError(f"{self.folder} decodes bitstream version {self.manifest['bitstream_version']}, "
                                f"this build reads version {VERSION}")
        self._verify(TABLES)
        with np.load(self.folder / TABLES, allow_pickle=False) as tables:
            self.tables = {name: tables[name] for name in tables.files}
        if not np.array_equal(self.tables["gaussian_scales"], entropy.scale_table()):
            raise VidquantError(f"{self.folder}: its Gaussian scale table differs from this build's")
        self.preset = self.manifest["preset"]
        self.decoder = self.manifest["decoder"]
        self.fingerprint = bytes.fromhex(self.manifest["fingerprint"])
        self.image, self.video = self.manifest["image"], self.manifest["video"]
        optimized = self.manifest.get("optimized_for")
        self.pre_optimized = optimized is not None and optimized["known"] and optimized == machine()
        self._options = session_options(threads, optimize=not self.pre_optimized)
        self._sessions: dict[tuple[str, str], ort.InferenceSession] = {}

    def _verify(self, name: str) -> Path:
        """The path of bundle file ``name``, checked against the manifest's sha256."""
        path = self.folder / name
        if name not in self.manifest["files"] or not path.is_file():
            raise VidquantError(f"{self.folder}: bundle file {name} is missing")
        if file_digest(path) != self.manifest["files"][name]:
            raise VidquantError(f"{self.folder}: bundle file {name} is corrupted (sha256 mismatch)")
        return path

    @property
    def sizes(self) -> list[str]:
        """The padded picture sizes (``WxH``) the bundle has graphs for."""
        return list(self.manifest["sizes"])

    # ------------------------------------------------------------------ networks

    def _run(self, size: str, network: str, *inputs: np.ndarray) -> list[np.ndarray]:
        session = self._sessions.get((size, network))
        if session is None:
            graphs = "optimized" if self.pre_optimized else "graphs"
            path = self._verify(self.manifest["sizes"][size][graphs][network])
            try:
                session = ort.InferenceSession(str(path), self._options, providers=["CPUExecutionProvider"])
            except Exception as error:  # ORT raises its own types for bad files
                raise VidquantError(f"{path}: ONNX Runtime cannot load it ({first_line(error)})") from None
            self._sessions[(size, network)] = session
        feeds = {node.name: np.ascontiguousarray(x, dtype=np.float32) for node, x in zip(session.get_inputs(), inputs)}
        return session.run(None, feeds)

    def _row(self, table: str, qp: int) -> np.ndarray:
        return self.tables[table][qp : qp + 1]

    # ------------------------------------------------------------------ streams

    def check(self, stream: Bitstream) -> str:
        """Refuse a stream of another decoder or of a size without graphs; returns its size key."""
        check_stream_decoder(stream, self.preset, self.decoder, self.fingerprint)
        key = size_key(*padded_size(stream.height, stream.width))
        if key not in self.manifest["sizes"]:
            raise VidquantError(f"the stream is {stream.width}x{stream.height} (padded {key}); this bundle has graphs "
                                f"for {', '.join(self.sizes)} (export it with --size {stream.width}x{stream.height})")
        return key

    def decode(self, stream: Bitstream) -> Iterator[np.ndarray]:
        """Padded float32 reconstructions [1, 3, H, W] of every frame of ``stream``."""
        size = self.check(stream)
        dpb = _Dpb()
        for index, frame in enumerate(stream.frames):
            model, table = (self.image, "image_z_probs") if frame.kind == "I" else (self.video, "video_z_probs")
            check_frame_qp(index, frame, model["qp_rows"])
            check_payload_size(index, frame, self.tables[table][frame.qp].astype(np.float64), self._z_shape(model, size),
                               tuple(self.manifest["sizes"][size]["padded"]))
            reader = entropy.PayloadReader(frame.payload, stream.thres)
            with decoding_frame(index):
                dpb = self._intra(size, frame, reader) if frame.kind == "I" else self._inter(size, frame, reader, dpb)
            check_exhausted(index, reader)
            yield dpb.picture

    def decode_file(self, bitstream: str | Path, output: str | Path) -> tuple[int, Bitstream]:
        """Decode a bitstream file to 8-bit I420 .yuv / .y4m; returns (frames, the stream)."""
        from vidquant.io.yuv import open_writer

        stream = Bitstream.read(bitstream)
        self.check(stream)
        writer = open_writer(output, stream.width, stream.height, 8, "30:1")
        with writer:
            for picture in self.decode(stream):
                writer.write(Frame(*picture_to_i420(picture, stream.height, stream.width)))
        return len(stream.frames), stream

    # ------------------------------------------------------------------ one frame (FrameCoder)

    def _z_shape(self, model: dict, size: str) -> tuple[int, int, int, int]:
        height, width = self.manifest["sizes"][size]["padded"]
        return (1, model["hyper"], -(-height // 64), -(-width // 64))

    def _z_hat(self, model: dict, table: str, qp: int, reader: entropy.PayloadReader, size: str) -> np.ndarray:
        # the range coder takes float64 PMFs, stored as the float32 values they are: widened per frame
        return reader.read_z(self.tables[table][qp].astype(np.float64), self._z_shape(model, size))

    def _latent_size(self, size: str) -> tuple[int, int]:
        height, width = self.manifest["sizes"][size]["padded"]
        return height // 16, width // 16

    def _intra(self, size: str, frame: CodedFrame, reader: entropy.PayloadReader) -> _Dpb:
        """``FrameCoder._intra`` with ``DMCI.common_params / step_maps / spatial_prior / synthesise``."""
        qp, lat, groups = frame.qp, self.image["latent"], self.image["groups"]
        z_hat = self._z_hat(self.image, "image_z_probs", qp, reader, size)
        (hyper,) = self._run(size, "image.hyper_dec", z_hat)
        (fused,) = self._run(size, "image.y_prior_fusion", hyper)
        height, width = self._latent_size(size)
        params = fused[:, :, :height, :width]
        q_dec = self._step_map_lut(params[:, 1:2])
        (reduced,) = self._run(size, "image.y_spatial_prior_reduction", params)
        scales, means = params[:, 2 : 2 + lat], params[:, 2 + lat :]
        running = None
        for step, patterns in enumerate(IMAGE_STEP_PATTERNS):
            if step > 0:
                (adapted,) = self._run(size, f"image.y_spatial_prior_adaptor_{step}", np.concatenate((running, reduced), 1))
                (prior,) = self._run(size, "image.y_spatial_prior", adapted)
                scales, means = np.split(prior, 2, axis=1)
            y_hat = read_step(reader, groups, scales, means, step_mask(patterns, lat, height, width))
            running = y_hat if running is None else running + y_hat
        (dec_out,) = self._run(size, "image.dec", running * q_dec, self._row("image_q_scale_dec", qp))
        return _Dpb(picture=np.clip(dec_out, _ZERO, _ONE))

    def _step_map_lut(self, logits: np.ndarray) -> np.ndarray:
        """``image_model.quant_step_map`` (0.5 + 1.5 sigmoid) of the fusion network's output levels,
        tabulated by PyTorch at export: its float32 sigmoid is not numpy's."""
        levels, values = self.tables["image_step_map_levels"], self.tables["image_step_map_values"]
        index = np.clip(np.searchsorted(levels, logits), 0, len(levels) - 1)
        if not np.array_equal(levels[index], logits):
            raise VidquantError(f"{self.folder}: the prior fusion network computed a value outside its output levels "
                                "(the bundle's graphs and tables do not belong together)")
        return values[index]

    def _inter(self, size: str, frame: CodedFrame, reader: entropy.PayloadReader, dpb: _Dpb) -> _Dpb:
        """``FrameCoder._inter`` with ``DMC.reference_feature / context / common_params / spatial_prior / synthesise``."""
        qp, lat, groups = frame.qp, self.video["latent"], self.video["groups"]
        picture, feature = dpb.picture, dpb.feature
        if frame.use_ada_i and feature is not None:
            (picture,) = self._run(size, "video.recon_generation_net", feature, self._row("video_q_recon", dpb.last_qp))
            feature = None
        if feature is not None:
            (reference,) = self._run(size, "video.feature_adaptor_p", feature)
        else:
            (reference,) = self._run(size, "video.feature_adaptor_i", pixel_unshuffle(picture, 8))
        ctx, ctx_t = self._run(size, "video.feature_extractor", reference, self._row("video_q_feature", qp))
        z_hat = self._z_hat(self.video, "video_z_probs", qp, reader, size)
        (hyper,) = self._run(size, "video.hyper_decoder", z_hat)
        (temporal,) = self._run(size, "video.temporal_prior_encoder", ctx_t)
        height, width = self._latent_size(size)
        (params,) = self._run(size, "video.y_prior_fusion", np.concatenate((hyper[:, :, :height, :width], temporal), 1))
        q_map = np.maximum(params[:, :lat], _HALF)
        scales, means = params[:, lat : 2 * lat], params[:, 2 * lat :]
        first = None
        for step, patterns in enumerate(VIDEO_STEP_PATTERNS):
            if step > 0:
                (prior,) = self._run(size, "video.y_spatial_prior", np.concatenate((first, params), 1))
                scales, means = np.split(prior, 2, axis=1)
            y_hat = read_step(reader, groups, scales, means, step_mask(patterns, lat, height, width))
            first = y_hat if first is None else first + y_hat
        (feature,) = self._run(size, "video.decoder", first * q_map, ctx, self._row("video_q_decoder", qp))
        (x_hat,) = self._run(size, "video.recon_generation_net", feature, self._row("video_q_recon", qp))
        return _Dpb(picture=x_hat, feature=feature, last_qp=qp)


def pixel_unshuffle(x: np.ndarray, factor: int) -> np.ndarray:
    """``F.pixel_unshuffle``: [N, C, H, W] -> [N, C * f * f, H / f, W / f] (a permutation)."""
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // factor, factor, w // factor, factor)
    return blocks.transpose(0, 1, 3, 5, 2, 4).reshape(n, c * factor * factor, h // factor, w // factor)
