"""calibrate_ptq on the full ``dcvc-rt`` decoder side (synthetic weights) against a float pass
of the same batches, side by side in one run; prints the ratio.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/calibration_speed.py [--recipe w8a8-lsq] [--batches 3] [--size 64]

Each batch is a random I-P-P chain (size x size) run through the image model and twice through
the video model, as the codec's calibration runs them. The float pass is timed twice (the first
warms up); calibration is timed once (it locks the steps). Run it with another tree's src on PYTHONPATH
to compare versions (the script uses only the public API).
"""

from __future__ import annotations

import argparse
import time

import torch

from vidquant.calibrate import calibrate_ptq
from vidquant.models import create_model
from vidquant.models.codec.net.config import QP_NUM
from vidquant.models.codec.workflow.quantize_decoder import decoder_plan
from vidquant.quant import quantize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="w8a8-lsq", help="layers-scope recipe (default w8a8-lsq)")
    parser.add_argument("--batches", type=int, default=3, help="calibration batches (default 3)")
    parser.add_argument("--size", type=int, default=64, help="frame size (default 64)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    codec = create_model("dcvc-rt", synthetic=True)
    generator = torch.Generator().manual_seed(0)
    batches = [torch.rand(1, 3, 3, args.size, args.size, generator=generator) for _ in range(args.batches)]
    qp = torch.tensor([QP_NUM // 2])

    def chain(model, frames):
        picture = model.image(frames[:, 0], qp)[0].clamp(0.0, 1.0)
        _, feature, _ = model.video(frames[:, 1], qp, picture, None)
        return model.video(frames[:, 2], qp, None, feature)

    def float_pass() -> float:
        start = time.perf_counter()
        with torch.no_grad():
            for batch in batches:
                chain(codec, batch)
        return time.perf_counter() - start

    float_pass()
    float_time = float_pass()
    quantize(codec, **decoder_plan(args.recipe).quantize_args())
    weights = sum(layer.weight.numel() for name, layer in codec.named_modules() if hasattr(layer, "weight_quant"))
    start = time.perf_counter()
    calibrate_ptq(codec, batches, forward=chain)
    calib_time = time.perf_counter() - start
    print(f"dcvc-rt decoder side, {args.recipe}: {weights / 1e6:.1f} M quantized weights, {args.batches} batches of "
          f"{args.size}x{args.size} I-P-P chains")
    print(f"float pass {float_time:.2f} s, calibrate_ptq {calib_time:.2f} s: ratio {calib_time / float_time:.1f}x")


if __name__ == "__main__":
    main()
