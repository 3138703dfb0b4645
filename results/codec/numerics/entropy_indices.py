"""Entropy-index check over every test stream: PyTorch's integer emulation (the encoder) against
ONNX Runtime (the deployed decoder), for graph-scope students.

For each student, sequence and rate point of a DCVC-style test config: encode with the student in
PyTorch (closed loop, as `codec encode --quant` does), then decode the stream with PyTorch and with
ONNX Runtime and count the symbols whose scale index differs (workflow.entropy_check) and the
samples in which ONNX Runtime's decoded frames differ from the encoder's reconstruction.

    PYTHONPATH=src python results/codec/numerics/entropy_indices.py --test_config results/codec/test_config.json \
        --frames 8 --qp 0 12 24 36 --out results/codec/numerics/entropy_indices.json STUDENT.safetensors ...
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import torch

from vidquant.io.dataset import load_dataset_config
from vidquant.deploy.bitstream import Bitstream
from vidquant.models.codec.coding.pipeline import EncodeSettings, decode_video, differing_samples, encode_video
from vidquant.models.codec.coding.yuvfile import read_yuv420
from vidquant.models.codec.workflow.coding_models import ModelSpec, build_models
from vidquant.models.codec.workflow.entropy_check import index_mismatches
from vidquant.runtime.bench import machine_info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("students", nargs="+", type=Path)
    parser.add_argument("--test_config", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--qp", type=int, nargs="+", default=[0, 12, 24, 36])
    parser.add_argument("--reset_interval", type=int, default=32)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_dataset_config(args.test_config)
    flags = machine_info().cpu_flags
    report = {"command": "results/codec/numerics/entropy_indices.py", "frames": args.frames, "qp": args.qp,
              "cpu_flags": {flag: present for flag, present in flags.items() if present}, "students": {}}
    for student in args.students:
        encoder = build_models(ModelSpec("dcvc-rt-small", quant=str(student), backend="torch")).decoder
        onnx = build_models(ModelSpec("dcvc-rt-small", quant=str(student), backend="onnx")).decoder
        rows = []
        for _, seq in config.enabled():
            frames = list(read_yuv420(str(seq.path), seq.width, seq.height, min(args.frames, seq.frames)))
            for qp in args.qp:
                settings = EncodeSettings(qp, qp, seq.intra_period, args.reset_interval, encoder.preset.force_zero_thres)
                encoded = encode_video(encoder, frames, settings)
                stream = Bitstream.from_bytes(encoded.bitstream.to_bytes())
                check = index_mismatches(encoder, onnx, stream)
                decoded = list(decode_video(onnx, stream))
                rows.append({"sequence": seq.name, "qp": qp, **asdict(check),
                             "onnx_differing_samples": differing_samples(encoded.recons, decoded)})
                print(f"{student.name} {seq.name} qp {qp}: {check.symbols} symbols, {check.mismatches} index "
                      f"mismatches, {rows[-1]['onnx_differing_samples']} differing samples", flush=True)
        report["students"][student.name] = {
            "symbols": sum(r["symbols"] for r in rows), "index_mismatches": sum(r["mismatches"] for r in rows),
            "onnx_differing_samples": sum(r["onnx_differing_samples"] for r in rows), "streams": rows}
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
