"""Quantized UVQ 1.5 versus FP32 on real videos: size, coverage, feature, score and ranking errors
per network and recipe, PyTorch and ONNX Runtime, with the random-input error beside them.

Each network's own effect is measured by swapping only it into the FP32 pipeline (the other
two stay FP32); the ``uvq1p5`` rows swap all three. Every model sees the same decoded frames,
one frame per call (dynamic-int8 ranges are per frame, as the batch-1 ONNX graphs compute them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from scipy import stats
from tqdm import tqdm

from vidquant.errors import VidquantError
from vidquant.quant import resolve_recipe
from vidquant.models.uvq.config import NET_NAMES, SamplingConfig
from vidquant.models.uvq.model import UVQ1p5
from vidquant.models.uvq.pipeline import normalize_frames, padded, plan_video, sampled_frames
from vidquant.models.uvq.quantized import (
    Calibration,
    OnnxUVQ,
    example_inputs,
    quantize_uvq,
    write_network,
)
from vidquant.models.uvq.plans import network_plan

WHOLE = "uvq1p5"  # rows where all three networks are quantized
Nets = dict[str, Callable[..., torch.Tensor]]


@dataclass
class Features:
    """One model's features of one frame."""

    content: torch.Tensor
    distortion: torch.Tensor


def frame_features(nets: Nets, frame: torch.Tensor) -> Features:
    with torch.inference_mode():
        return Features(nets["content_net"](frame), nets["distortion_net"](frame))


def aggregate(nets: Nets, features: Features) -> float:
    with torch.inference_mode():
        return float(nets["aggregation_net"](features.content, features.distortion).reshape(()))


def clip_frames(path: Path, config: SamplingConfig) -> Iterable[torch.Tensor]:
    """The clip's sampled frames (batch-mode rules, at most ``config.max_seconds``), normalised, one at a time."""
    plan = plan_video(path, 1, False, True, config)
    for frame in padded(sampled_frames(path, plan, config), plan.frames, (config.height, config.width, 3)):
        yield normalize_frames(frame[None])


@dataclass
class ClipFeatures:
    """Per-frame features of one clip under every model (``fp32``, recipe names, ``<recipe> onnx``)."""

    clip: str
    by_model: dict[str, list[Features]] = field(default_factory=dict)


def collect_features(path: Path, models: dict[str, Nets], config: SamplingConfig) -> ClipFeatures:
    result = ClipFeatures(Path(path).name, {name: [] for name in models})
    try:
        for frame in clip_frames(Path(path), config):
            for name, nets in models.items():
                result.by_model[name].append(frame_features(nets, frame))
    except VidquantError as error:
        raise VidquantError(f"{path}: {error}") from None
    return result


# ---- scores of partly quantized pipelines ---------------------------------------------------
def mixed_score(fp32: list[Features], quant: list[Features], quant_nets: Nets, fp32_nets: Nets, swapped: str) -> float:
    """Video score with only ``swapped`` (a network name, or WHOLE) taken from the quantized model."""
    scores = []
    for f, q in zip(fp32, quant):
        content = q.content if swapped in ("content_net", WHOLE) else f.content
        distortion = q.distortion if swapped in ("distortion_net", WHOLE) else f.distortion
        head = quant_nets if swapped in ("aggregation_net", WHOLE) else fp32_nets
        scores.append(aggregate(head, Features(content, distortion)))
    return float(np.mean(np.float32(scores)))


def feature_error(fp32: list[Features], quant: list[Features], net: str, fp32_nets: Nets, quant_nets: Nets) -> tuple[float, float]:
    """(mean |q - f|, mean |q - f| / mean |f|) of a network's output over all frames."""
    pairs = [_outputs(f, q, net, fp32_nets, quant_nets) for f, q in zip(fp32, quant)]
    return _abs_rel(torch.cat([a.reshape(-1) for a, _ in pairs]), torch.cat([b.reshape(-1) for _, b in pairs]))


def _outputs(f: Features, q: Features, net: str, fp32_nets: Nets, quant_nets: Nets) -> tuple[torch.Tensor, torch.Tensor]:
    if net == "content_net":
        return f.content, q.content
    if net == "distortion_net":
        return f.distortion, q.distortion
    return torch.tensor([aggregate(fp32_nets, f)]), torch.tensor([aggregate(quant_nets, f)])


def _abs_rel(reference: torch.Tensor, value: torch.Tensor) -> tuple[float, float]:
    abs_err = float((value - reference).abs().mean())
    return abs_err, abs_err / max(float(reference.abs().mean()), 1e-12)


def random_input_error(net: str, fp32_nets: Nets, quant_nets: Nets) -> tuple[float, float]:
    """Error on seeded random inputs of the official shapes, as the published figures were measured."""
    inputs = example_inputs(net)
    with torch.inference_mode():
        return _abs_rel(fp32_nets[net](*inputs).float(), quant_nets[net](*inputs).float())


# ---- the report ------------------------------------------------------------------------------
@dataclass
class Row:
    """One network (or WHOLE) under one recipe."""

    recipe: str
    network: str
    size_mb: float
    fp32_size_mb: float
    quantized_tensors: int
    total_tensors: int
    safetensors_mb: float
    onnx_mb: float | None
    excluded: list[str]
    feature_abs_err: float | None
    feature_rel_err: float | None
    score_abs_err: float
    score_rel_err: float
    score_rel_err_max: float
    srcc: float
    plcc: float
    random_abs_err: float | None
    random_rel_err: float | None
    onnx_vs_torch_rel_err: float | None = None
    onnx_vs_torch_rel_err_max: float | None = None
    onnx_score_rel_err: float | None = None
    float_input_layers: int = 0  # layers with quantized weights but float inputs under a recipe that quantizes inputs

    @property
    def reduction(self) -> float:
        return 1.0 - self.size_mb / self.fp32_size_mb

    @property
    def coverage(self) -> str:
        share = 100 * self.quantized_tensors / max(self.total_tensors, 1)
        text = f"{self.quantized_tensors}/{self.total_tensors} ({share:.1f} %)"
        return f"{text}, {self.float_input_layers} float in" if self.float_input_layers else text

    def to_dict(self) -> dict:
        return {**asdict(self), "coverage": self.coverage, "reduction": self.reduction}


@dataclass(frozen=True)
class ReportSetup:
    weights_dir: Path | None
    recipes: tuple[str, ...]
    out_dir: Path
    max_seconds: int | None
    onnx: bool = True
    threads: int | None = None
    calibration: dict[str, Calibration] | None = None


def score_errors(reference: Sequence[float], value: Sequence[float]) -> dict[str, float]:
    ref, val = np.asarray(reference, np.float64), np.asarray(value, np.float64)
    rel = np.abs(val - ref) / np.abs(ref)
    return {
        "score_abs_err": float(np.abs(val - ref).mean()),
        "score_rel_err": float(rel.mean()),
        "score_rel_err_max": float(rel.max()),
        "srcc": _correlation(stats.spearmanr, ref, val),
        "plcc": _correlation(stats.pearsonr, ref, val),
    }


def _correlation(function, a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(function(a, b)[0])


def build_models(fp32: UVQ1p5, setup: ReportSetup) -> tuple[dict[str, Nets], dict[str, list]]:
    """FP32, each recipe in PyTorch and (``setup.onnx``) ONNX Runtime; the files written per recipe."""
    models: dict[str, Nets] = {"fp32": fp32.networks()}
    files: dict[str, list] = {}
    for recipe in setup.recipes:
        quantized = quantize_uvq(fp32, recipe, setup.calibration)
        folder = setup.out_dir / recipe
        files[recipe] = [
            write_network(net, fp32.networks()[net], quantized.networks()[net], recipe, folder, setup.onnx)
            for net in NET_NAMES
        ]
        models[recipe] = quantized.networks()
        if setup.onnx:
            models[f"{recipe} onnx"] = OnnxUVQ(folder, threads=setup.threads).networks()
    return models, files


def evaluate(fp32: UVQ1p5, videos: Sequence[Path], setup: ReportSetup, progress: bool = True) -> tuple[list[Row], list[str], list[str]]:
    """Rows per recipe and network, the clips scored, and one error line per clip that failed."""
    models, files = build_models(fp32, setup)
    config = SamplingConfig(batch_frames=1, max_seconds=setup.max_seconds)
    clips, failures = [], []
    for video in tqdm(videos, desc="uvq report", unit="clip", disable=not progress):
        try:
            clips.append(collect_features(Path(video), models, config))
        except VidquantError as error:
            failures.append(str(error))
    if len(clips) < 2:
        raise VidquantError(f"need at least 2 readable clips for correlations, got {len(clips)}")
    rows = [row for recipe in setup.recipes for row in _recipe_rows(recipe, models, files[recipe], clips)]
    return rows, [clip.clip for clip in clips], failures


def _recipe_rows(recipe: str, models: dict[str, Nets], files: list, clips: list[ClipFeatures]) -> list[Row]:
    fp32_nets, quant_nets = models["fp32"], models[recipe]
    reference = [mixed_score(c.by_model["fp32"], c.by_model["fp32"], fp32_nets, fp32_nets, WHOLE) for c in clips]
    rows = []
    for entry in files:
        net = entry.net
        scores = [mixed_score(c.by_model["fp32"], c.by_model[recipe], quant_nets, fp32_nets, net) for c in clips]
        feature = _pooled_feature_error(clips, recipe, net, fp32_nets, quant_nets)
        rows.append(Row(
            recipe, net, entry.report.packed_bytes / 1e6, entry.fp32_bytes / 1e6, entry.report.quantized_tensors,
            entry.report.total_tensors, entry.safetensors_bytes / 1e6, _mb(entry.onnx_bytes),
            list(network_plan(net, recipe).exclude), *feature, **score_errors(reference, scores),
            **dict(zip(("random_abs_err", "random_rel_err"), random_input_error(net, fp32_nets, quant_nets))),
            float_input_layers=_float_input_layers(recipe, entry.report),
        ))
    rows.append(_whole_row(recipe, rows, models, clips, reference))
    return rows


def _float_input_layers(recipe: str, network_report) -> int:
    """Quantized layers left with float inputs, where the recipe quantizes inputs (else 0)."""
    if resolve_recipe(recipe).input is None:
        return 0
    return sum(1 for row in network_report.rows if row.act_bits is None)


def _pooled_feature_error(clips, recipe, net, fp32_nets, quant_nets) -> tuple[float, float]:
    fp32 = [f for c in clips for f in c.by_model["fp32"]]
    quant = [f for c in clips for f in c.by_model[recipe]]
    return feature_error(fp32, quant, net, fp32_nets, quant_nets)


def _whole_row(recipe: str, rows: list[Row], models: dict[str, Nets], clips: list[ClipFeatures], reference: list[float]) -> Row:
    fp32_nets, quant_nets = models["fp32"], models[recipe]
    torch_scores = [mixed_score(c.by_model["fp32"], c.by_model[recipe], quant_nets, fp32_nets, WHOLE) for c in clips]
    row = Row(
        recipe, WHOLE, sum(r.size_mb for r in rows), sum(r.fp32_size_mb for r in rows),
        sum(r.quantized_tensors for r in rows), sum(r.total_tensors for r in rows),
        sum(r.safetensors_mb for r in rows), _sum_or_none([r.onnx_mb for r in rows]),
        [], None, None, **score_errors(reference, torch_scores), random_abs_err=None, random_rel_err=None,
        float_input_layers=sum(r.float_input_layers for r in rows),
    )
    onnx_name = f"{recipe} onnx"
    if onnx_name in models:
        onnx_nets = models[onnx_name]
        onnx_scores = [mixed_score(c.by_model["fp32"], c.by_model[onnx_name], onnx_nets, fp32_nets, WHOLE) for c in clips]
        versus_torch = score_errors(torch_scores, onnx_scores)
        row.onnx_vs_torch_rel_err = versus_torch["score_rel_err"]
        row.onnx_vs_torch_rel_err_max = versus_torch["score_rel_err_max"]
        row.onnx_score_rel_err = score_errors(reference, onnx_scores)["score_rel_err"]
    return row


def _mb(count: int | None) -> float | None:
    return None if count is None else count / 1e6


def _sum_or_none(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(values)  # type: ignore[misc]


# ---- tables ------------------------------------------------------------------------------------
DEFINITIONS = (
    "Sizes are tensor bytes (1 MB = 10^6 B): FP32 = the official checkpoint's float32 tensors, quant = the "
    "packed tensors of the vidquant checkpoint (BatchNorm folded into the convolutions, integer codes packed). "
    "Coverage = quantized weight tensors / all tensors of the folded network; \"N float in\": N of those "
    "layers take float inputs under a recipe that quantizes inputs (the recipe plan's float_inputs). Feature error = mean |q - f| and "
    "mean |q - f| / mean |f| of the network's output over all scored frames (aggregation_net: its per-frame "
    "score). Score errors are per clip (video score), averaged over clips; a network's row swaps only that "
    "network into the FP32 pipeline, the uvq1p5 row swaps all three. SRCC / PLCC: Spearman / Pearson between "
    "FP32 and quantized video scores across clips. Random rel: the feature error on one seeded random input of "
    "the official shape (frames uniform in [-1, 1], aggregation inputs standard normal), as the published "
    "figures were measured. ONNX vs torch: mean relative difference of the ONNX Runtime video scores to the "
    "PyTorch ones of the same recipe."
)

TABLE_HEADER = (
    "recipe", "network", "FP32 MB", "quant MB", "smaller", "coverage", "feat abs", "feat rel",
    "score abs", "score rel", "SRCC", "PLCC", "random rel", "ONNX vs torch",
)


def table_cells(row: Row) -> tuple[str, ...]:
    """One table line; relative errors in percent."""
    return (
        row.recipe, row.network, f"{row.fp32_size_mb:.2f}", f"{row.size_mb:.2f}", f"{100 * row.reduction:.1f} %",
        row.coverage, _num(row.feature_abs_err, ".4g"), _pct(row.feature_rel_err), f"{row.score_abs_err:.4f}",
        _pct(row.score_rel_err), f"{row.srcc:.4f}", f"{row.plcc:.4f}", _pct(row.random_rel_err),
        _pct(row.onnx_vs_torch_rel_err),
    )


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    lines += ["| " + " | ".join(table_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.3f} %"
