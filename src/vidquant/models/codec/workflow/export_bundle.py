"""``vidquant codec export-decoder``: write the decoder bundle of a graph-scope INT8 student.

Each graph is also stored as ONNX Runtime optimizes it on the exporting machine
(``deploy.bundle.optimize_graph``): a decoder on a machine with the same ONNX Runtime version and
CPU features opens those without optimizing them again, which is most of a cold start.

The bundle (read by ``vidquant.deploy.bundle.BundleDecoder``, without PyTorch; layout in
docs/deploy.md) holds what the decoder side of ``FrameCoder`` reads: each decoder network as
the ONNX graph ``swap_decoder_to_onnx`` exports (one per padded picture size), the per-qp rows
the networks take, the z PMFs per qp row, the Gaussian scale table, the image model's step map
(a sigmoid, evaluated here by PyTorch) on the prior fusion network's output levels, and a
manifest naming the student as streams record it (preset, decoder name and fingerprint,
computed before the networks move to ONNX Runtime).
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from vidquant import __version__
from vidquant.deploy import entropy
from vidquant.deploy.bitstream import VERSION
from vidquant.deploy.bundle import (BUNDLE_FORMAT, MANIFEST, TABLES, file_digest, machine, optimize_graph,
                                    padded_size, size_key)
from vidquant.errors import VidquantError
from vidquant.quant.fingerprint import describe, fingerprint, numerics

from ..coding.pipeline import EncodeSettings, encode_video
from ..net.entropy_models import z_probabilities
from ..net.image_model import quant_step_map
from ..net.model import DCVCRT, build_codec, require_weights
from .coding_models import is_graph_scope_student
from .quantize_decoder import calibration_record, load_quantized_codec, swap_decoder_to_onnx

# Per-qp rows the decoder networks take as inputs: bundle table name -> (sub-model, parameter).
QP_TABLES = {"image_q_scale_dec": ("image", "q_scale_dec"), "video_q_decoder": ("video", "q_decoder"),
             "video_q_feature": ("video", "q_feature"), "video_q_recon": ("video", "q_recon")}
STEP_MAP_NETWORK = "image.y_prior_fusion"  # whose output channel 1 the image step map reads


def export_decoder(preset: str, quant: str | Path, folder: str | Path, sizes: list[tuple[int, int]],
                   model_path_i: str | None = None, model_path_p: str | None = None, synthetic: bool = False) -> dict:
    """Write the bundle of student ``quant`` for pictures of ``sizes`` ((width, height) each) to
    ``folder``; returns its manifest."""
    import onnx
    import onnxruntime

    if not is_graph_scope_student(quant):
        raise VidquantError(f"{quant} is a layer-scope student: only graph-scope students (e.g. codec calibrate "
                            "--recipe w8a8-static) compute what ONNX Runtime computes, so only they deploy")
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise VidquantError(f"{folder} exists and is not empty; give a new folder")
    codec = require_weights(build_codec(preset, model_path_i, model_path_p, synthetic))
    student = load_quantized_codec(copy.deepcopy(codec), quant, calibration_record(quant))
    manifest = {
        "format": BUNDLE_FORMAT,
        "preset": student.preset.name,
        "decoder": describe(student),  # as the stream header records them, before the ONNX swap
        "fingerprint": fingerprint(student).hex(),
        "numerics": numerics(student),
        "bitstream_version": VERSION,
        "student": Path(quant).name,
        "exported_by": f"vidquant {__version__}",
        "runtime": {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__, "opset": None,
                    "graph_optimization": "all (ORT_ENABLE_ALL)", "providers": ["CPUExecutionProvider"]},
        "image": _model_info(student, "image"),
        "video": _model_info(student, "video"),
        "optimized_for": machine(),
        "sizes": {},
        "tables": TABLES,
        "files": {},
    }
    tables = _tables(student)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vidquant-bundle-") as scratch:
        swap_decoder_to_onnx(student, Path(scratch))
        for width, height in sizes:
            _export_size(student, folder, manifest, width, height)
    step_map = folder / manifest["sizes"][next(iter(manifest["sizes"]))]["graphs"][STEP_MAP_NETWORK]
    levels = output_levels(onnx.load(str(step_map)))
    with torch.no_grad():
        values = quant_step_map(torch.from_numpy(levels)).numpy()
    tables.update(image_step_map_levels=levels, image_step_map_values=values)
    np.savez(folder / TABLES, **tables)
    manifest["runtime"]["opset"] = _opset(onnx.load(str(step_map)))
    manifest["files"] = {path.relative_to(folder).as_posix(): file_digest(path)
                         for path in sorted(folder.rglob("*")) if path.is_file()}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def _model_info(student: DCVCRT, part: str) -> dict:
    model = getattr(student, part)
    return {"latent": model.cfg.latent, "hyper": model.cfg.hyper, "qp_rows": model.qp_rows, "groups": model.groups}


def _tables(student: DCVCRT) -> dict[str, np.ndarray]:
    """The per-qp input rows, the z PMFs of every qp row and the Gaussian scale table."""
    tables = {name: getattr(getattr(student, part), param).detach().numpy().astype(np.float32)
              for name, (part, param) in QP_TABLES.items()}
    for part in ("image", "video"):
        estimator = getattr(student, part).bit_estimator_z
        rows, channels = estimator.f1.h.shape[:2]
        pmfs = np.stack([z_probabilities(estimator, row, channels) for row in range(rows)])
        tables[f"{part}_z_probs"] = pmfs.astype(np.float32)  # float32 PMFs widened: stored exactly
        if not np.array_equal(tables[f"{part}_z_probs"].astype(np.float64), pmfs):
            raise VidquantError(f"{part}: the z PMFs are not float32 values; the bundle would round them")
    tables["gaussian_scales"] = entropy.scale_table()
    return tables


def _export_size(student: DCVCRT, folder: Path, manifest: dict, width: int, height: int) -> None:
    """Export every decoder network for pictures of ``width`` x ``height``: code an I-frame and two
    P-frames (from the picture, then from the feature) of a random clip through the swapped
    networks, then copy the graphs each network exported for these shapes into the bundle."""
    padded = padded_size(height, width)
    key = size_key(*padded)
    if key in manifest["sizes"]:
        manifest["sizes"][key]["pictures"].append(f"{width}x{height}")
        return
    if width % 2 or height % 2:
        raise VidquantError(f"--size {width}x{height}: I420 needs even width and height")
    rng = np.random.default_rng(0)
    frames = [(rng.integers(0, 256, (height, width), dtype=np.uint8),
               rng.integers(0, 256, (height // 2, width // 2), dtype=np.uint8),
               rng.integers(0, 256, (height // 2, width // 2), dtype=np.uint8)) for _ in range(3)]
    with _recording_shapes(student) as shapes:
        encode_video(student, frames, EncodeSettings(qp_i=32, qp_p=32, reset_interval=0))
    graphs, optimized = {}, {}
    for network, module in _onnx_modules(student).items():
        if len(shapes.get(network, ())) != 1:
            raise VidquantError(f"{network}: called with {len(shapes.get(network, ()))} input shapes for {key}, not one")
        target = Path("graphs") / key / f"{network}.onnx"
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module.sessions[next(iter(shapes[network]))].path, folder / target)
        graphs[network] = target.as_posix()
        fast = Path("optimized") / key / f"{network}.onnx"
        (folder / fast).parent.mkdir(parents=True, exist_ok=True)
        optimize_graph(folder / target, folder / fast)
        optimized[network] = fast.as_posix()
    manifest["sizes"][key] = {"padded": list(padded), "pictures": [f"{width}x{height}"], "graphs": graphs,
                              "optimized": optimized}


def _onnx_modules(student: DCVCRT) -> dict:
    """Decoder network name -> its ``OnnxModule`` (sessions keyed by input shapes)."""
    from vidquant.runtime.onnx_module import OnnxModule

    return {name: module for name, module in student.named_modules() if isinstance(module, OnnxModule)}


@contextmanager
def _recording_shapes(student: DCVCRT) -> Iterator[dict[str, set]]:
    """Network name -> the input-shape keys it is called with inside the ``with`` block (networks
    whose inputs do not depend on the picture size reuse one graph for several sizes)."""
    shapes: dict[str, set] = {}

    def recorder(name: str):
        def record(module, args) -> None:  # returns None: the call goes on unchanged
            shapes.setdefault(name, set()).add(tuple(tuple(x.shape) for x in args))
        return record

    hooks = [module.register_forward_pre_hook(recorder(name)) for name, module in _onnx_modules(student).items()]
    try:
        yield shapes
    finally:
        for hook in hooks:
            hook.remove()


def output_levels(model) -> np.ndarray:
    """The float32 values the graph's (single, per-tensor) DequantizeLinear output can take,
    ascending: ONNX Runtime's (code - zero point) * scale for every code."""
    from onnx import numpy_helper

    graph = model.graph
    producer = next((node for node in graph.node if graph.output[0].name in node.output), None)
    if producer is None or producer.op_type != "DequantizeLinear":
        raise VidquantError(f"{STEP_MAP_NETWORK}: its output is not a DequantizeLinear (not a graph-scope student?)")
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    constants.update({node.output[0]: numpy_helper.to_array(node.attribute[0].t)
                      for node in graph.node if node.op_type == "Constant"})
    scale, zero = (constants[name] for name in producer.input[1:3])
    if scale.size != 1:
        raise VidquantError(f"{STEP_MAP_NETWORK}: per-channel output quantization is not supported by the bundle")
    info = np.iinfo(zero.dtype)
    codes = np.arange(info.min, info.max + 1, dtype=np.int32)
    levels = (codes - np.int32(zero.reshape(()))).astype(np.float32) * np.float32(scale.reshape(()))
    return np.sort(levels)


def _opset(model) -> int:
    return max(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
