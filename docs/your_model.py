"""The whole path of docs/your-model.md on a hyperprior codec with compress / decompress and no
forward (tests/byo/foreign_models.py), printing every number the page quotes.

    PYTHONPATH=src:. OMP_NUM_THREADS=1 python docs/your_model.py
"""

from __future__ import annotations

import copy
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import vidquant
from tests.byo.foreign_models import HyperpriorCodec
from vidquant.export import export_onnx
from vidquant.runtime.deployability import deployability_report


def decompress(model, batch):
    """How the decoder side runs: the forward= every vidquant call takes."""
    return model.decompress(*batch)


def main() -> None:
    torch.manual_seed(0)
    codec = HyperpriorCodec().eval()
    with torch.no_grad():  # the "bitstream": rounded latents of 8 pictures
        batches = [list(codec.compress(255 * torch.rand(1, 3, 32, 32))) for _ in range(8)]
    out = Path(tempfile.mkdtemp(prefix="vidquant-your-model-"))

    print("== 1. w8a8-lsq on the decoder side: calibrate, distill, report, save, load")
    student = vidquant.quantize(copy.deepcopy(codec), "w8a8-lsq", include=["g_s.*", "h_s.*"])
    vidquant.calibrate_ptq(student, batches, forward=decompress)
    result = vidquant.distill(student, codec, batches, forward=decompress, epochs=5, lr=1e-2, progress=False)
    print(f"distill: {result.steps} steps, loss {result.initial_loss:.4g} -> {result.final_loss:.4g}, "
          f"skipped {result.skipped_steps}")
    print(vidquant.report(student, batches[0], forward=decompress, reference=codec).format())
    vidquant.save_quantized(student, out / "student.safetensors")
    loaded = vidquant.load_quantized(HyperpriorCodec(), out / "student.safetensors")
    with torch.no_grad():
        same = all(torch.equal(a, b) for a, b in zip(decompress(loaded, batches[1]), decompress(student, batches[1])))
    print(f"loaded model's outputs bit-identical: {same}")
    export_onnx(student, batches[1], out / "lsq.onnx", forward=decompress)
    print(deployability_report(out / "lsq.onnx").format())

    print("\n== 2. w8a8-static: every tensor quantized, integer kernels on ONNX Runtime")
    static = vidquant.quantize(copy.deepcopy(codec), "w8a8-static", include=["g_s", "h_s"],
                               example_inputs={"g_s": [batches[0][0]], "h_s": [batches[0][1]]})
    vidquant.calibrate_ptq(static, batches, forward=decompress)
    report = vidquant.report(static, batches[0], forward=decompress, reference=codec)
    print(f"output SQNR against the float codec: {report.output_sqnr_db:.1f} dB")
    export_onnx(static, batches[1], out / "static.onnx", forward=decompress)
    print(deployability_report(out / "static.onnx").summary())
    session = ort.InferenceSession(str(out / "static.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), batches[1])})
    with torch.no_grad():
        want = decompress(static, batches[1])
    for name, a, b, graph in zip(("picture", "scales"), got, want, (static.g_s, static.h_s)):
        last = next(node for node in graph.graph.nodes if node.op == "output").args[0]
        step = float(graph.get_submodule(last.target).scale)
        print(f"ONNX Runtime vs PyTorch, {name}: max |difference| {np.abs(a - b.numpy()).max() / step:.2f} output steps")

    print("\n== 3. an all-zero latent (an untrained or low-rate model): warning, finite output")
    zero = vidquant.quantize(copy.deepcopy(codec), "w8a8-lsq", include=["g_s.*", "h_s.*"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vidquant.calibrate_ptq(zero, [[torch.zeros_like(y), torch.zeros_like(z)] for y, z in batches], forward=decompress)
    for warning in caught:
        print(f"warning: {warning.message}")
    with torch.no_grad():
        picture, _ = decompress(zero, batches[0])
    print(f"picture finite on real latents: {bool(torch.isfinite(picture).all())}")


if __name__ == "__main__":
    main()
