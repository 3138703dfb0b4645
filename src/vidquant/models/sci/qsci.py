"""Q-SCI variants as data, and the one function that builds any of them from FP weights.

A variant is a bit width plus which Q-SCI additions it switches on: q/k shifts, FEM shortcuts,
VRM shortcuts; it is quantized with the network's ``QuantPlan`` of its recipe (``plans.qsci_plan``:
shortcut convs stay 8-bit, recipe ``qsci-w8``, whatever the backbone's width).
Kinds: ``direct`` (no additions), the cumulative ablation steps ``shift`` and ``shift-fem``,
and ``qsci`` (all three; at 8 bits only the shift, as the paper). ``fp`` is the float network.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.io.checkpoint import read_safetensors, read_safetensors_metadata
from vidquant.models import checkpoint_model, load_quantized_model, set_model_info
from vidquant.quant import QuantPlan, quantize, quantizers
from vidquant.quant.checkpoint import FORMAT_NAME, save_quantized
from vidquant.models.sci import sci_model_info
from vidquant.models.sci.checkpoint import load_model, read_metadata
from vidquant.models.sci.config import PRESETS, SCIConfig
from vidquant.models.sci.network import EfficientSCI
from vidquant.models.sci.plans import qsci_plan
from vidquant.models.sci.train import TrainSettings, train

BITS = (8, 4, 3, 2)
# (qk_shift, fem_shortcut, vrm_shortcut) per kind; "qsci" at 8 bits is the shift only.
KINDS: dict[str, tuple[bool, bool, bool]] = {
    "direct": (False, False, False),
    "shift": (True, False, False),
    "shift-fem": (True, True, False),
    "qsci": (True, True, True),
}
# Fresh shortcut convs start this much smaller than torch's default init, so the loaded FP
# network is little changed at step 0 (exact zeros would give a zero LSQ step size).
SHORTCUT_INIT_SCALE = 0.1
# Adam moves every parameter by about lr per step whatever its size; LSQ weight steps of
# near-zero channels are ~1e-5, so at lr 1e-4 they turn negative within a few steps. QAT here
# keeps the backbone's weight steps at their MSE start and floors every learned step.
STEP_FLOOR = 1e-8


@dataclass(frozen=True)
class Variant:
    """One row of the Q-SCI tables: ``bits`` None is full precision."""

    kind: str
    bits: Optional[int]
    qk_shift: bool = False
    fem_shortcut: bool = False
    vrm_shortcut: bool = False

    @property
    def name(self) -> str:
        return "fp" if self.bits is None else f"{self.kind}-w{self.bits}"

    @property
    def recipe(self) -> Optional[str]:
        return None if self.bits is None else f"qsci-w{self.bits}"

    @property
    def switches(self) -> dict[str, bool]:
        return {"qk_shift": self.qk_shift, "fem_shortcut": self.fem_shortcut, "vrm_shortcut": self.vrm_shortcut}

    def plan(self, config: SCIConfig) -> Optional[QuantPlan]:
        """How a network of ``config`` with this variant's switches is quantized (None: FP)."""
        return None if self.recipe is None else qsci_plan(self.recipe, with_switches(config, self))


FP = Variant("fp", None)


def get_variant(kind: str, bits: Optional[int]) -> Variant:
    """The variant ``kind`` at ``bits`` (``fp`` ignores bits)."""
    if kind == "fp":
        return FP
    if kind not in KINDS:
        raise VidquantError(f"unknown Q-SCI variant {kind!r}; valid: fp, {', '.join(KINDS)}")
    if bits not in BITS:
        raise VidquantError(f"Q-SCI bit width must be one of {BITS}, got {bits}")
    shift, fem, vrm = KINDS[kind]
    if kind == "qsci" and bits == 8:
        fem = vrm = False
    return Variant(kind, bits, shift, fem, vrm)


def bits_of_recipe(recipe: str) -> int:
    """8 for ``qsci-w8`` etc.; other recipes are not Q-SCI variants."""
    prefix = "qsci-w"
    if not recipe.startswith(prefix) or not recipe[len(prefix):].isdigit():
        raise VidquantError(f"Q-SCI training takes a recipe qsci-w8/w4/w3/w2, got {recipe!r}")
    return int(recipe[len(prefix):])


def load_fp_weights(model: EfficientSCI, path: str | Path) -> EfficientSCI:
    """Load FP EfficientSCI weights into a network that may have extra Q-SCI parameters.

    Only shortcut and shift parameters may be missing; shifts stay zero, shortcuts are shrunk.
    """
    missing, unexpected = model.load_state_dict(read_safetensors(path)[0], strict=False)
    foreign = [key for key in missing if ".shortcut" not in key and "_shift." not in key]
    if foreign or unexpected:
        raise VidquantError(f"{path} does not fit the network: missing {foreign[:5]}, unexpected {unexpected[:5]}")
    with torch.no_grad():
        for key in missing:
            if ".shortcut" in key:
                model.get_parameter(key).mul_(SHORTCUT_INIT_SCALE)
    return model


def quantize_variant(model: EfficientSCI, variant: Variant) -> EfficientSCI:
    """Quantize ``model`` (built with the variant's switches) in place; FP leaves it float."""
    plan = variant.plan(model.config)
    if plan is not None:
        quantize(model, **plan.quantize_args())
    info = sci_model_info(model.config)
    return set_model_info(model, info["name"], **info["kwargs"])


def with_switches(config: SCIConfig, variant: Variant) -> SCIConfig:
    return dataclasses.replace(config, **variant.switches)


def build_variant(variant: Variant, fp_weights: str | Path) -> EfficientSCI:
    """Float net with the variant's switches -> FP weights -> quantized with its recipe."""
    config, _ = read_metadata(fp_weights)
    model = load_fp_weights(EfficientSCI(with_switches(config, variant)), fp_weights)
    return quantize_variant(model, variant)


def _floor_step(quantizer: nn.Module, _inputs: tuple = ()) -> None:
    with torch.no_grad():
        quantizer.scale.clamp_(min=STEP_FLOOR)


def floor_steps(model: nn.Module) -> nn.Module:
    """Floor every learned step (the last optimizer step comes after the last forward)."""
    for _, quantizer in quantizers(model):
        if isinstance(getattr(quantizer, "scale", None), nn.Parameter):
            _floor_step(quantizer)
    return model


def steps_for_qat(model: nn.Module) -> nn.Module:
    """Freeze backbone weight steps (shortcut ones stay learned) and floor all learned steps."""
    for name, quantizer in quantizers(model):
        if not isinstance(getattr(quantizer, "scale", None), nn.Parameter):
            continue
        if quantizer.role == "weight" and ".shortcut" not in name:
            quantizer.scale.requires_grad_(False)
        quantizer.register_forward_pre_hook(_floor_step)
    return model


def qat_prepare(variant: Variant, fp_weights: str | Path, keep: dict[str, Any]) -> Callable[[nn.Module], nn.Module]:
    """A ``train(prepare=...)`` hook: FP weights in, quantized; the model is left in ``keep``."""

    def prepare(model: nn.Module) -> nn.Module:
        keep["model"] = steps_for_qat(quantize_variant(load_fp_weights(model, fp_weights), variant))
        return keep["model"]

    return prepare


def is_quantized_checkpoint(path: str | Path) -> bool:
    return read_safetensors_metadata(path).get("format") == FORMAT_NAME


def load_any(path: str | Path) -> EfficientSCI:
    """An FP ``model.safetensors`` or a quantized checkpoint written by ``qat_train``."""
    if not Path(path).is_file():
        raise VidquantError(f"checkpoint not found: {path}")
    if not is_quantized_checkpoint(path):
        return load_model(path)
    info = checkpoint_model(path)
    if info is None or info["name"] not in PRESETS:
        raise VidquantError(f"{path} is a quantized checkpoint of no SCI network")
    return load_quantized_model(path)


QUANTIZED = "model-quantized.safetensors"


def qat_train(settings: TrainSettings, variant: Variant, fp_weights: str | Path, progress: bool = True) -> Path:
    """QAT of ``variant`` from FP weights through the resumable train loop; writes and returns
    ``out/model-quantized.safetensors`` (integer codes, readable by ``load_any``)."""
    if variant.recipe is None:
        raise VidquantError("QAT needs a quantized variant (a qsci-w* recipe)")
    keep: dict[str, Any] = {}
    settings = dataclasses.replace(settings, init=None,
                                   config_overrides={**settings.config_overrides, **variant.switches})
    result = train(settings, prepare=qat_prepare(variant, fp_weights, keep), progress=progress)
    path = Path(settings.out) / QUANTIZED
    save_quantized(floor_steps(keep["model"]), path, extra_metadata={"steps": result.steps, "variant": variant.name})
    return path
