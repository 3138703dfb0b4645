"""Quantized UVQ 1.5: BatchNorm folded into the convolutions, one recipe per network, and the
files a deployment needs (a vidquant safetensors checkpoint and an ONNX graph per network).

BatchNorm is folded first because every deployment format does so (the published TFLite
sizes are of folded graphs): quantizing the folded weights is what an integer runtime runs,
and the BN statistics no longer cost space. Per-channel weight steps make folding exact up to
rounding of the folded weights.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from vidquant.analysis import report
from vidquant.calibrate.gptq import gptq_sequential
from vidquant.analysis.report import Report
from vidquant.errors import VidquantError
from vidquant.export import export_onnx
from vidquant.models import checkpoint_model, load_quantized_model, set_model_info
from vidquant.quant import QuantPlan, quantize
from vidquant.quant.checkpoint import save_quantized
from vidquant.models.uvq import network_model_info
from vidquant.models.uvq.config import NET_NAMES
from vidquant.models.uvq.layers import fold_batchnorm
from vidquant.models.uvq.model import NETWORKS, UVQ1p5
from vidquant.models.uvq.plans import UVQ_RECIPES, network_plan
from vidquant.runtime import OrtModel

# Official input shapes of each network (frames in [-1, 1]; channel-last features).
OFFICIAL_SHAPES: dict[str, tuple[tuple[int, ...], ...]] = {
    net: cls.example_input_shapes for net, cls in NETWORKS.items()  # type: ignore[attr-defined]
}


# ---- quantizing and saving -----------------------------------------------------------------
# Recipes whose integer weights are rounded with GPTQ when calibration frames are given (int4
# blocks keep round-to-nearest: GPTQ here keeps per-channel grids only).
GPTQ_RECIPES = ("dynamic-int8", "weight-only-int8")


@dataclass(frozen=True)
class Calibration:
    """Inputs one network is calibrated with, and how one of them is run."""

    batches: list
    forward: Callable[[nn.Module, object], object]


def quantize_network(
    net: str, float_net: nn.Module, recipe: str, calibration: Calibration | None = None, plan: QuantPlan | None = None,
) -> nn.Module:
    """A folded, quantized copy of ``float_net`` (weight steps locked from the weights).

    With ``calibration``, GPTQ_RECIPES round their int8 weights with GPTQ plus bias correction
    (``vidquant.calibrate.gptq``) instead of to nearest; the grid (steps) stays min/max. ``plan``
    replaces the network's own plan of ``recipe`` (``plans.PLANS``; for experiments)."""
    plan = plan if plan is not None else network_plan(net, recipe)
    folded = fold_batchnorm(copy.deepcopy(float_net)).eval()
    info = network_model_info(net)
    model = set_model_info(quantize(folded, **plan.quantize_args()), info["name"], **info["kwargs"])
    for module in model.modules():
        quantizer = getattr(module, "weight_quant", None)
        if quantizer is not None and not quantizer.is_initialized:
            quantizer.initialize_from(module.weight.detach())
    if calibration is not None and recipe in GPTQ_RECIPES:
        gptq_sequential(model, calibration.batches, calibration.forward)
    return model


def quantize_uvq(model: UVQ1p5, recipe: str, calibration: dict[str, Calibration] | None = None) -> UVQ1p5:
    """A copy of ``model`` whose three networks are quantized with ``recipe``."""
    quantized = UVQ1p5()
    for net, module in model.networks().items():
        setattr(quantized, net, quantize_network(net, module, recipe, (calibration or {}).get(net)))
    return quantized.eval()


def network_calibration(model: UVQ1p5, frames: torch.Tensor, patches_per_frame: int = 2) -> dict[str, Calibration]:
    """Per-network calibration inputs from (N, 3, 1080, 1920) frames, one call each as scoring does:
    content_net whole frames, distortion_net's trunk ``patches_per_frame`` of each frame's 3x3
    patches (a different pair per frame), aggregation_net the FP32 features of the frames."""
    frame_list = [frame[None] for frame in frames]
    distortion = model.distortion_net
    patches = []
    for index, frame in enumerate(frame_list):
        tiles = distortion.to_patches(frame)
        patches += [tiles[(index * patches_per_frame + k) % len(tiles)][None] for k in range(patches_per_frame)]
    with torch.inference_mode():
        features = [(model.content_net(f), distortion(f)) for f in frame_list]
    return {
        "content_net": Calibration(frame_list, lambda net, x: net(x)),
        "distortion_net": Calibration(patches, lambda net, x: net.features(x)),
        "aggregation_net": Calibration(features, lambda net, x: net(*x)),
    }


def example_inputs(net: str, shapes: dict[str, tuple[tuple[int, ...], ...]] | None = None) -> list[torch.Tensor]:
    """Seeded inputs of a network's official shapes: frames uniform in [-1, 1], features normal."""
    generator = torch.Generator().manual_seed(0)
    shapes = shapes or OFFICIAL_SHAPES
    if net == "aggregation_net":
        return [torch.randn(shape, generator=generator) for shape in shapes[net]]
    return [torch.rand(shape, generator=generator) * 2 - 1 for shape in shapes[net]]


@dataclass
class NetworkFiles:
    """One quantized network on disk and its report."""

    net: str
    report: Report
    safetensors: Path
    onnx: Path | None
    fp32_bytes: int
    notes: list[str] = field(default_factory=list)

    @property
    def safetensors_bytes(self) -> int:
        return self.safetensors.stat().st_size

    @property
    def onnx_bytes(self) -> int | None:
        return self.onnx.stat().st_size if self.onnx is not None else None


def write_network(
    net: str, float_net: nn.Module, quantized: nn.Module, recipe: str, folder: Path, onnx: bool = True,
    metadata: dict | None = None,
) -> NetworkFiles:
    """``folder/<net>.safetensors`` and (``onnx``) ``folder/<net>.onnx`` at the official shapes."""
    folder.mkdir(parents=True, exist_ok=True)
    extra = {"uvq_net": net, "recipe": recipe, "batchnorm_folded": True, **(metadata or {})}
    save_quantized(quantized, folder / f"{net}.safetensors", extra_metadata=extra)
    onnx_path, notes = None, []
    if onnx:
        # Q/DQ for dynamic-int8 too: ONNX Runtime's quantize_dynamic gives convolutions
        # per-tensor weights (ConvInteger), a different model from the per-channel recipe.
        result = export_onnx(quantized, example_inputs(net), folder / f"{net}.onnx", dynamic_path="qdq", compact=True)
        onnx_path, notes = result.path, result.notes
    fp32 = sum(value.numel() * 4 for value in float_net.state_dict().values() if value.is_floating_point())
    return NetworkFiles(net, report(quantized), folder / f"{net}.safetensors", onnx_path, fp32, notes)


def load_quantized_network(path: Path) -> nn.Module:
    """A quantized UVQ network from its safetensors file (the network named in its header)."""
    info = checkpoint_model(path)
    if info is None or info not in [network_model_info(net) for net in NETWORKS]:
        raise VidquantError(f"{path} is not a quantized UVQ network")
    return load_quantized_model(path).eval()


def load_quantized_uvq(folder: Path) -> UVQ1p5:
    """The whole model from ``folder/<net>.safetensors`` as written by ``vidquant uvq quantize``."""
    model = UVQ1p5()
    for net in NET_NAMES:
        path = Path(folder) / f"{net}.safetensors"
        if not path.is_file():
            raise VidquantError(f"{folder}: no {net}.safetensors (write it with `vidquant uvq quantize`)")
        setattr(model, net, load_quantized_network(path))
    return model.eval()


class FileUVQ:
    """The three files ``<net><suffix>`` of a folder run by a runtime, called like ``UVQ1p5``
    (frames -> scores). The files have the official static batch of one, so frames go through
    one at a time. Subclasses name the suffix, the command that writes the files and how one
    file is opened."""

    suffix = ""
    writer = ""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        self.nets: dict[str, Callable[..., torch.Tensor]] = {}
        for net in NET_NAMES:
            path = Path(folder) / f"{net}{self.suffix}"
            if not path.is_file():
                raise VidquantError(f"{folder}: no {net}{self.suffix} (write it with `{self.writer}`)")
            self.nets[net] = self.open(path, threads)

    def open(self, path: Path, threads: int | None) -> Callable[..., torch.Tensor]:
        raise NotImplementedError

    def networks(self) -> dict[str, Callable[..., torch.Tensor]]:
        return dict(self.nets)

    def eval(self) -> "FileUVQ":
        return self

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        return torch.cat([self._one(frame[None]) for frame in frames])

    def _one(self, frame: torch.Tensor) -> torch.Tensor:
        nets = self.nets
        return nets["aggregation_net"](nets["content_net"](frame), nets["distortion_net"](frame))


class OnnxUVQ(FileUVQ):
    """The three ONNX graphs of a folder (ONNX Runtime)."""

    suffix = ".onnx"
    writer = "vidquant uvq quantize"

    def open(self, path: Path, threads: int | None) -> OrtModel:
        return OrtModel(path, threads=threads)
