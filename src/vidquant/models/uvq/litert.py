"""UVQ 1.5 as LiteRT (TFLite) files, the form the published INT8 workflow deploys: each network
BatchNorm-folded, converted at its official input shapes by litert-torch with that workflow's
quantization recipe (``vidquant.export.tflite``), plus a manifest; and ``TfliteUVQ``, the three
files called like ``UVQ1p5``.

LiteRT is an optional extra; without it every entry point here is a one-line error.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
from pathlib import Path

from vidquant.errors import VidquantError
from vidquant.export.tflite import TFLITE_RECIPES, export_tflite, recipe_call
from vidquant.models.uvq.config import NET_NAMES
from vidquant.models.uvq.layers import fold_batchnorm
from vidquant.models.uvq.model import FILL_V1, UVQ1p5
from vidquant.models.uvq.quantized import FileUVQ, example_inputs

MANIFEST = "tflite_manifest.json"
# The published dynamic-int8 files (../shared/references/uvq1p5-int8-guide.md), MB.
PUBLISHED_MB = {"content_net": 4.27, "distortion_net": 4.25, "aggregation_net": 0.11}
PUBLISHED_RECIPE = "dynamic-int8"


def export_uvq_tflite(model: UVQ1p5, recipe: str, folder: Path, weights: str = "") -> dict:
    """Write ``folder/<net>.tflite`` for the three networks and ``folder/tflite_manifest.json``;
    return the manifest (recipe, the litert-torch call, per file: bytes, SHA-256, input shapes)."""
    if recipe not in TFLITE_RECIPES:
        raise VidquantError(f"unknown LiteRT recipe {recipe!r}; valid: {', '.join(TFLITE_RECIPES)}")
    folder = Path(folder)
    files = {}
    for net, module in model.networks().items():
        inputs = example_inputs(net)
        result = export_tflite(fold_batchnorm(copy.deepcopy(module)).eval(), inputs, folder / f"{net}.tflite", recipe)
        files[net] = {
            "file": result.path.name,
            "bytes": result.size_bytes,
            "sha256": hashlib.sha256(result.path.read_bytes()).hexdigest(),
            "input_shapes": [list(x.shape) for x in inputs],
        }
    manifest = {
        "recipe": recipe,
        "litert_torch_call": recipe_call(recipe),
        "batchnorm_folded": True,
        "weights": weights,
        "versions": {name: _version(name) for name in ("litert-torch", "ai-edge-litert", "ai-edge-quantizer")},
        "files": files,
        "total_bytes": sum(entry["bytes"] for entry in files.values()),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest, or None when it has none."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise VidquantError(f"{path}: not a readable manifest ({error})") from None


def placeholder_nets(folder: Path) -> list[str]:
    """The networks of a folder's files converted from FILL-v1 placeholder weights (its manifest's
    ``weights``: ``"content_net: FILL-v1, ..."``); none known without a manifest."""
    manifest = read_manifest(folder) or {}
    sources = dict(part.split(": ", 1) for part in manifest.get("weights", "").split(", ") if ": " in part)
    return [net for net in NET_NAMES if sources.get(net) == FILL_V1]


class TfliteUVQ(FileUVQ):
    """The three ``.tflite`` files of a folder (LiteRT interpreter, XNNPACK), called like ``UVQ1p5``."""

    suffix = ".tflite"
    writer = "vidquant uvq export --format tflite"

    def open(self, path: Path, threads: int | None):
        from vidquant.runtime.litert_model import LiteRTModel

        return LiteRTModel(path, threads=threads)

