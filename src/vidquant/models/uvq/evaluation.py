"""Quantized UVQ 1.5 versus FP32 on real videos: size, coverage, feature, score and ranking errors
per network and recipe, PyTorch, ONNX Runtime and LiteRT, with the random-input error beside them.

Each network's own effect is measured by swapping only it into the FP32 pipeline (the other
two stay FP32); the ``uvq1p5`` rows swap all three. Every model sees the same decoded frames,
one frame per call (dynamic-int8 ranges are per frame, as the batch-1 ONNX graphs compute them).
The clips are decoded once; the models run one after another over all frames, and the runtime
sessions (each holds hundreds of MB of 1080p buffers) are released once their features are in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from scipy import stats
from tqdm import tqdm

from vidquant.errors import VidquantError
from vidquant.quant import resolve_recipe
from vidquant.runtime.memory import release_memory
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
from vidquant.models.uvq.litert import PUBLISHED_MB, PUBLISHED_RECIPE
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


def decoded_frames(path: Path, config: SamplingConfig) -> list[np.ndarray]:
    """The clip's sampled RGB24 frames (batch-mode rules, at most ``config.max_seconds``)."""
    try:
        plan = plan_video(path, 1, False, True, config)
        return list(padded(sampled_frames(path, plan, config), plan.frames, (config.height, config.width, 3)))
    except VidquantError as error:
        raise VidquantError(f"{path}: {error}") from None


def features_of(nets: Nets, frames: Sequence[np.ndarray]) -> list[Features]:
    """One model's features of each frame (normalised one at a time)."""
    return [frame_features(nets, normalize_frames(frame[None])) for frame in frames]


@dataclass
class ClipFeatures:
    """Per-frame features of one clip under every model (``fp32``, recipe names, ``<recipe> onnx``)."""

    clip: str
    by_model: dict[str, list[Features]] = field(default_factory=dict)


def collect_features(path: Path, models: dict[str, Nets], config: SamplingConfig) -> ClipFeatures:
    frames = decoded_frames(Path(path), config)
    return ClipFeatures(Path(path).name, {name: features_of(nets, frames) for name, nets in models.items()})


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
    tflite_mb: float | None = None  # the LiteRT file(s) of litert-torch's recipe of the same name
    tflite_vs_torch_rel_err: float | None = None  # WHOLE rows: LiteRT vs PyTorch video scores, same recipe
    tflite_vs_torch_rel_err_max: float | None = None
    tflite_vs_onnx_rel_err: float | None = None
    tflite_score_rel_err: float | None = None  # LiteRT vs the FP32 PyTorch reference

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
    tflite: bool = False  # also LiteRT files (litert-torch's recipes) of each recipe and of FP32 (the litert extra)


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


@dataclass
class Evaluated:
    """Per-frame features of every model on every clip, the nets the rows still need (PyTorch
    models whole; runtimes only their aggregation net), and the files written per recipe."""

    clips: list[ClipFeatures]
    models: dict[str, Nets] = field(default_factory=dict)
    files: dict[str, list] = field(default_factory=dict)
    tflite: dict[str, dict] = field(default_factory=dict)  # recipe (and FP32_TFLITE) -> manifest

    def run(self, name: str, nets: Nets, frames: list[list[np.ndarray]], keep: bool = True) -> None:
        for clip, clip_frames in zip(self.clips, frames):
            clip.by_model[name] = features_of(nets, clip_frames)
        self.models[name] = dict(nets) if keep else {"aggregation_net": nets["aggregation_net"]}


FP32_TFLITE = "fp32"  # the LiteRT FP32 files' key in Evaluated.tflite and the report


def evaluate(fp32: UVQ1p5, videos: Sequence[Path], setup: ReportSetup, progress: bool = True) -> tuple[list[Row], list[str], list[str]]:
    """Rows per recipe and network, the clips scored, and one error line per clip that failed."""
    evaluated, failures = evaluate_models(fp32, videos, setup, progress)
    return report_rows(setup.recipes, evaluated), [clip.clip for clip in evaluated.clips], failures


def report_rows(recipes: Sequence[str], evaluated: "Evaluated") -> list[Row]:
    return [row for recipe in recipes for row in _recipe_rows(recipe, evaluated)]


def evaluate_models(fp32: UVQ1p5, videos: Sequence[Path], setup: ReportSetup, progress: bool = True) -> tuple[Evaluated, list[str]]:
    """Decode the clips once, then run FP32 and each recipe (PyTorch, ONNX Runtime, LiteRT) over them."""
    config = SamplingConfig(batch_frames=1, max_seconds=setup.max_seconds)
    frames, names, failures = [], [], []
    for video in tqdm(videos, desc="uvq report: decode", unit="clip", disable=not progress):
        try:
            frames.append(decoded_frames(Path(video), config))
            names.append(Path(video).name)
        except VidquantError as error:
            failures.append(str(error))
    if len(frames) < 2:
        raise VidquantError(f"need at least 2 readable clips for correlations, got {len(frames)}")
    evaluated = Evaluated([ClipFeatures(name) for name in names])
    steps = tqdm(total=1 + len(setup.recipes) * (1 + setup.onnx + setup.tflite) + setup.tflite, desc="uvq report",
                 unit="model", disable=not progress)
    if setup.tflite:  # converted first, while the process holds least (the converter takes ~1.5 GB at 1080p)
        for recipe in (FP32_TFLITE, *setup.recipes):
            _convert_tflite(evaluated, fp32, recipe, setup)
    evaluated.run("fp32", fp32.networks(), frames)
    release_memory()
    steps.update()
    if setup.tflite:
        _run_tflite(evaluated, FP32_TFLITE, setup, frames)
        steps.update()
    for recipe in setup.recipes:
        quantized = quantize_uvq(fp32, recipe, setup.calibration)
        folder = setup.out_dir / recipe
        evaluated.files[recipe] = [
            write_network(net, fp32.networks()[net], quantized.networks()[net], recipe, folder, setup.onnx)
            for net in NET_NAMES
        ]
        release_memory()  # each step below starts from the heap the last one freed (see runtime.memory)
        evaluated.run(recipe, quantized.networks(), frames)
        release_memory()
        steps.update()
        if setup.onnx:
            evaluated.run(f"{recipe} onnx", OnnxUVQ(folder, threads=setup.threads).networks(), frames, keep=False)
            release_memory()
            steps.update()
        if setup.tflite:
            _run_tflite(evaluated, recipe, setup, frames)
            steps.update()
    steps.close()
    return evaluated, failures


def _convert_tflite(evaluated: Evaluated, fp32: UVQ1p5, recipe: str, setup: ReportSetup) -> None:
    from vidquant.models.uvq.litert import export_uvq_tflite

    evaluated.tflite[recipe] = export_uvq_tflite(fp32, recipe, setup.out_dir / recipe, getattr(fp32, "weights_label", ""))
    release_memory()  # the converter's


def _run_tflite(evaluated: Evaluated, recipe: str, setup: ReportSetup, frames) -> None:
    from vidquant.models.uvq.litert import TfliteUVQ

    evaluated.run(f"{recipe} tflite", TfliteUVQ(setup.out_dir / recipe, threads=setup.threads).networks(), frames,
                  keep=False)
    release_memory()


def whole_scores(clips: list[ClipFeatures], name: str, models: dict[str, Nets]) -> list[float]:
    """Video scores of the model ``name`` (all three networks its own) per clip."""
    return [mixed_score(c.by_model["fp32"], c.by_model[name], models[name], models["fp32"], WHOLE) for c in clips]


def fp32_tflite_errors(evaluated: Evaluated) -> dict | None:
    """LiteRT FP32 against PyTorch FP32: file sizes and the video-score difference (None when not run)."""
    manifest = evaluated.tflite.get(FP32_TFLITE)
    if manifest is None:
        return None
    reference = whole_scores(evaluated.clips, "fp32", evaluated.models)
    versus = score_errors(reference, whole_scores(evaluated.clips, f"{FP32_TFLITE} tflite", evaluated.models))
    return {
        "tflite_mb": {net: entry["bytes"] / 1e6 for net, entry in manifest["files"].items()},
        "tflite_total_mb": manifest["total_bytes"] / 1e6,
        "tflite_vs_torch_rel_err": versus["score_rel_err"],
        "tflite_vs_torch_rel_err_max": versus["score_rel_err_max"],
    }


def _recipe_rows(recipe: str, evaluated: Evaluated) -> list[Row]:
    models, clips, files = evaluated.models, evaluated.clips, evaluated.files[recipe]
    fp32_nets, quant_nets = models["fp32"], models[recipe]
    manifest = evaluated.tflite.get(recipe)
    reference = whole_scores(clips, "fp32", models)
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
            tflite_mb=manifest["files"][net]["bytes"] / 1e6 if manifest else None,
        ))
    rows.append(_whole_row(recipe, rows, evaluated, reference))
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


def _whole_row(recipe: str, rows: list[Row], evaluated: Evaluated, reference: list[float]) -> Row:
    models, clips = evaluated.models, evaluated.clips
    torch_scores = whole_scores(clips, recipe, models)
    row = Row(
        recipe, WHOLE, sum(r.size_mb for r in rows), sum(r.fp32_size_mb for r in rows),
        sum(r.quantized_tensors for r in rows), sum(r.total_tensors for r in rows),
        sum(r.safetensors_mb for r in rows), _sum_or_none([r.onnx_mb for r in rows]),
        [], None, None, **score_errors(reference, torch_scores), random_abs_err=None, random_rel_err=None,
        float_input_layers=sum(r.float_input_layers for r in rows), tflite_mb=_sum_or_none([r.tflite_mb for r in rows]),
    )
    onnx_scores = whole_scores(clips, f"{recipe} onnx", models) if f"{recipe} onnx" in models else None
    if onnx_scores is not None:
        versus_torch = score_errors(torch_scores, onnx_scores)
        row.onnx_vs_torch_rel_err = versus_torch["score_rel_err"]
        row.onnx_vs_torch_rel_err_max = versus_torch["score_rel_err_max"]
        row.onnx_score_rel_err = score_errors(reference, onnx_scores)["score_rel_err"]
    if f"{recipe} tflite" in models:
        tflite_scores = whole_scores(clips, f"{recipe} tflite", models)
        versus_torch = score_errors(torch_scores, tflite_scores)
        row.tflite_vs_torch_rel_err = versus_torch["score_rel_err"]
        row.tflite_vs_torch_rel_err_max = versus_torch["score_rel_err_max"]
        row.tflite_score_rel_err = score_errors(reference, tflite_scores)["score_rel_err"]
        if onnx_scores is not None:
            row.tflite_vs_onnx_rel_err = score_errors(onnx_scores, tflite_scores)["score_rel_err"]
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
    return _markdown(TABLE_HEADER, [table_cells(row) for row in rows])


def _markdown(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(line) + " |" for line in cells]
    return "\n".join(lines)


TFLITE_HEADER = (
    "recipe", "network", "LiteRT MB", f"published {PUBLISHED_RECIPE} MB", "vs published", "LiteRT vs torch",
    "LiteRT vs ONNX", "LiteRT score rel",
)
TFLITE_DEFINITIONS = (
    "LiteRT: the .tflite files of `vidquant uvq export --format tflite` (litert-torch 0.10 with its recipe of the "
    "same name, weights rounded to nearest by ai-edge-quantizer; BatchNorm folded; XNNPACK), run by ai-edge-litert's "
    "interpreter on the same frames. LiteRT MB = file bytes / 10^6; published = the UVQ 1.5 INT8 guide's dynamic-int8 "
    "files. LiteRT vs torch / vs ONNX: mean (max) relative difference of the LiteRT video scores to the PyTorch / "
    "ONNX Runtime ones of the same recipe; LiteRT score rel: against FP32 PyTorch. The fp32 line: LiteRT FP32 "
    "files against PyTorch FP32."
)


def tflite_cells(rows: Sequence[Row], fp32: dict | None) -> list[tuple[str, ...]]:
    """Lines of the LiteRT table: each recipe's networks and whole model, then LiteRT FP32."""
    lines = []
    for row in rows:
        if row.tflite_mb is None:
            continue
        published = sum(PUBLISHED_MB.values()) if row.network == WHOLE else PUBLISHED_MB[row.network]
        compare = row.recipe == PUBLISHED_RECIPE
        lines.append((
            row.recipe, row.network, f"{row.tflite_mb:.3f}", f"{published:.2f}" if compare else "-",
            f"{100 * (row.tflite_mb / published - 1):+.1f} %" if compare else "-",
            _pct_max(row.tflite_vs_torch_rel_err, row.tflite_vs_torch_rel_err_max), _pct(row.tflite_vs_onnx_rel_err),
            _pct(row.tflite_score_rel_err),
        ))
    if fp32 is not None:
        lines.append(("fp32", WHOLE, f"{fp32['tflite_total_mb']:.3f}", "-", "-",
                      _pct_max(fp32["tflite_vs_torch_rel_err"], fp32["tflite_vs_torch_rel_err_max"]), "-", "-"))
    return lines


def tflite_markdown(rows: Sequence[Row], fp32: dict | None) -> str:
    return _markdown(TFLITE_HEADER, tflite_cells(rows, fp32))


def _pct_max(mean: float | None, largest: float | None) -> str:
    return "-" if mean is None else f"{100 * mean:.3f} % ({100 * largest:.3f} %)"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.3f} %"
