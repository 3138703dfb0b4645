"""Decoder-side quantization of DCVC-RT: a recipe applied to exactly the modules the decoder runs.

What the decoder runs is data (``DECODER_MODULES``: glob patterns per sub-model); the encoder's
analysis transforms (``enc``, ``hyper_enc`` / ``encoder``, ``hyper_encoder``) match none of
them and stay float32. ``decoder_plan(recipe)`` is the ``QuantPlan`` of a recipe (the decoder
globs, the picture layers' 8-bit weights, the recurrent path's frozen ranges); the registered
models ``dcvc-rt`` / ``dcvc-rt-small`` declare it for ``CODEC_RECIPES``. The encoder runs the
same quantized modules when it computes entropy parameters and the reference reconstruction
(``FrameCoder`` is shared), so coding is closed loop.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.models import set_model_info
from vidquant.quant import QuantPlan, outermost_matches, quant_layers, quantize
from vidquant.quant.checkpoint import load_quantized, read_header, storage_plan
from vidquant.quant.recipes import RecipeLike, resolve_recipe

from ..net.config import QP_NUM
from ..net.model import DCVCRT

# The recipes the codec's decoder is calibrated and tested with (docs/codec-int8.md).
CODEC_RECIPES: tuple[str, ...] = ("int8-lsq-w", "w8a8-lsq", "w4a8-lsq", "w8a8-static")

# Glob patterns over module names inside codec.image (DMCI) and codec.video (DMC).
DECODER_MODULES: dict[str, tuple[str, ...]] = {
    "image": (
        "hyper_dec.*",  # hyperprior decoder
        "y_prior_fusion.*",  # entropy parameters from the hyperprior
        "y_spatial_prior_reduction",
        "y_spatial_prior_adaptor_*",  # spatial-prior fusion
        "y_spatial_prior.*",
        "dec.*",  # synthesis
    ),
    "video": (
        "feature_adaptor_i.*",  # feature adaptor (reference picture or stored feature)
        "feature_adaptor_p",
        "feature_extractor.*",  # temporal context
        "temporal_prior_encoder.*",
        "hyper_decoder.*",
        "y_prior_fusion.*",
        "y_spatial_prior.*",
        "decoder.*",  # reconstruction
        "recon_generation_net.*",
    ),
}

# The analysis transforms: never quantized (the encoder stays float32).
ENCODER_MODULES: dict[str, tuple[str, ...]] = {
    "image": ("enc.*", "hyper_enc.*"),
    "video": ("encoder.*", "hyper_encoder.*"),
}


# Globs over the modules that read the reference feature, the state the P-frame loop carries from
# frame to frame (through the feature adaptor into the temporal-context extractor). Their input
# ranges need data from long chains: see workflow.calibrate.widen_recurrent_ranges (the plan's
# ``frozen_ranges``).
RECURRENT_PATH: tuple[str, ...] = ("video.feature_adaptor_p", "video.feature_extractor.*")


# The layers whose outputs are the decoded picture itself (summed, then pixel-shuffled): the image
# model's last block writes it through three layers, the video model's through one head. Recipes
# with weights below 8 bits keep these at 8-bit weights, as LSQ keeps a network's last layer: on the
# small model with 4-bit weights (round to nearest, calibration chains) the video head alone cost
# 1.0 of the 2.3 dB lost, the image model's three 0.3 dB; 0.14 M weights, 5 % of the decoder's.
PICTURE_LAYERS: tuple[str, ...] = (
    "image.dec.dec_2.adaptor", "image.dec.dec_2.dc.3", "image.dec.dec_2.ffn.2",
    "video.recon_generation_net.head",
)
PICTURE_WEIGHT_BITS = 8


def decoder_plan(recipe: RecipeLike, low_bit_picture_layers: bool = False) -> QuantPlan:
    """The decoder's plan under ``recipe``: every decoder-side layer (a graph-scope recipe: each
    decoder network traced whole), ``PICTURE_LAYERS`` with at least 8-bit weights unless
    ``low_bit_picture_layers`` (layer scope), ``RECURRENT_PATH``'s input ranges frozen after
    widening (both scopes)."""
    base = resolve_recipe(recipe)
    if base.scope == "graph":
        return QuantPlan(base, include=tuple(decoder_networks()), frozen_ranges=RECURRENT_PATH,
                         reason="graph scope: whole decoder networks; recurrent ranges from long chains")
    weight_bits = {} if low_bit_picture_layers else dict.fromkeys(PICTURE_LAYERS, PICTURE_WEIGHT_BITS)
    return QuantPlan(base, include=tuple(decoder_patterns()), weight_bits=weight_bits, frozen_ranges=RECURRENT_PATH,
                     reason="decoder side only; picture layers keep 8-bit weights; recurrent ranges from long chains")


def codec_plans() -> dict[str, QuantPlan]:
    """Recipe -> plan of a ``DCVCRT`` (both presets) for ``CODEC_RECIPES``."""
    return {recipe: decoder_plan(recipe) for recipe in CODEC_RECIPES}


def recurrent_layers(codec: nn.Module, globs: tuple[str, ...] = RECURRENT_PATH) -> list[str]:
    """Names of the quantized layers matching ``globs`` (a plan's ``frozen_ranges``) that
    quantize their input with a static range."""
    return [name for name, layer in quant_layers(codec) if layer.input_quant is not None
            and not (layer.input_quant.spec.is_float or layer.input_quant.spec.dynamic)
            and any(fnmatch.fnmatchcase(name, glob) for glob in globs)]


def recurrent_graph_quantizers(codec: nn.Module, globs: tuple[str, ...] = RECURRENT_PATH) -> list[str]:
    """Names of the per-tensor activation quantizers of graph-scope networks matching ``globs``
    (graph scope quantizes every tensor where it is made, so the whole network's tensors carry
    the recurrent state; a lone layer's input quantizer is ``recurrent_layers``')."""
    from vidquant.quant.graph_scope import GRAPH_QUANT_PREFIX
    from vidquant.quant.quantizer import FakeQuantizer

    return [name for name, module in codec.named_modules()
            if isinstance(module, FakeQuantizer) and module.role == "activation"
            and name.rpartition(".")[2].startswith(GRAPH_QUANT_PREFIX) and module.scale.numel() == 1
            and any(fnmatch.fnmatchcase(name, glob) for glob in globs)]


def decoder_patterns() -> list[str]:
    """The include globs over the names of a ``DCVCRT`` (``image.`` / ``video.`` prefixed)."""
    return [f"{part}.{glob}" for part, globs in DECODER_MODULES.items() for glob in globs]


def decoder_networks() -> list[str]:
    """The outermost decoder-side modules (``image.dec``, ``video.decoder``, ...): each is called
    as a whole by the coding loop, so each can run as one exported graph."""
    return [f"{part}.{glob.removesuffix('.*')}" for part, globs in DECODER_MODULES.items() for glob in globs]


def decoder_example_inputs(codec: DCVCRT, size: int = 64) -> dict[str, list[torch.Tensor]]:
    """What each decoder network receives on a short I-P-P chain of random frames: the shapes
    a graph-scope trace of each network runs on."""
    names = outermost_matches(codec, decoder_networks())
    recorded: dict[str, list[torch.Tensor]] = {}

    def recorder(name: str):
        def record(module: nn.Module, args: tuple) -> None:  # returns None: the call goes on unchanged
            recorded.setdefault(name, [a.detach() for a in args])
        return record

    hooks = [codec.get_submodule(name).register_forward_pre_hook(recorder(name)) for name in names]
    generator = torch.Generator().manual_seed(0)
    frames = torch.rand(1, 3, 3, size, size, generator=generator)
    qp = torch.tensor([QP_NUM // 2])
    try:
        with torch.no_grad():
            picture = codec.image(frames[:, 0], qp)[0].clamp(0.0, 1.0)
            _, feature, _ = codec.video(frames[:, 1], qp, picture, None)
            codec.video(frames[:, 2], qp, None, feature)
    finally:
        for hook in hooks:
            hook.remove()
    return recorded


def swap_decoder_to_onnx(codec: DCVCRT, folder: Path, optimize: bool = True, threads: int = 1) -> list[str]:
    """Run every decoder network of ``codec`` through ONNX Runtime from now on (exported to
    ``folder`` on first use, quantizers as Q/DQ); encoder and decoder sides share them.
    ``optimize=False``: reference kernels, no fused integer kernels (see ``OrtModel``).
    ``threads``: ONNX Runtime's intra-op threads (default 1, as the coding loop runs torch with
    one thread; ONNX Runtime's own default takes every core, which a busy machine pays for)."""
    from vidquant.quant.fingerprint import pin_fingerprint
    from vidquant.runtime.onnx_module import swap_to_onnx  # here: onnx only when it runs

    pin_fingerprint(codec)  # the stream fingerprint of the PyTorch student whose numbers ONNX Runtime computes
    return swap_to_onnx(codec, decoder_networks(), folder, threads=threads, optimize=optimize)


def quantize_decoder(codec: DCVCRT, recipe: RecipeLike, low_bit_picture_layers: bool = False) -> DCVCRT:
    """Apply ``decoder_plan(recipe, low_bit_picture_layers)`` in place to ``codec``; returns
    ``codec``, named as its preset for checkpoints (the file holds all its tensors). A
    graph-scope recipe traces each decoder network and quantizes every tensor in it."""
    plan = decoder_plan(recipe, low_bit_picture_layers)
    example_inputs = decoder_example_inputs(codec) if resolve_recipe(plan.recipe).scope == "graph" else None
    return set_model_info(quantize(codec, **plan.quantize_args(), example_inputs=example_inputs), codec.preset.name)


def quantized_module_names(codec: nn.Module) -> list[str]:
    return [name for name, _ in quant_layers(codec)]


def load_quantized_codec(codec: DCVCRT, path: str | Path, record: dict | None = None) -> DCVCRT:
    """The float ``codec`` (changed in place) with the decoder quantization stored in ``path``;
    refuses a file calibrated from other float weights (``record``: its calibration record, if
    the caller has read it already)."""
    from ..coding.pipeline import model_fingerprint  # here: the registry reads plans without the coder's imports

    if not Path(path).is_file():
        raise VidquantError(f"quantized codec {path} does not exist")
    expected = (calibration_record(path) if record is None else record).get("float_fingerprint")
    if expected is not None and expected != model_fingerprint(codec):
        raise VidquantError(f"{path} was calibrated from other float weights than the model given; "
                            "pass the --model_path_i/--model_path_p it was calibrated from")
    return load_quantized(codec, path).eval()


def calibration_record(path: str | Path) -> dict:
    """What ``codec calibrate`` wrote into the file (sequences, settings, losses, wall time)."""
    return read_header(path)["extra"]


@dataclass(frozen=True)
class DecoderStorage:
    """Bytes of the quantized decoder layers: their weights (codes + weight steps) and all their
    tensors (also biases and activation steps), float32 against as stored in the checkpoint."""

    layers: int
    weight_float32_bytes: int
    weight_stored_bytes: int
    float32_bytes: int
    stored_bytes: int

    @property
    def weight_ratio(self) -> float:
        return self.weight_float32_bytes / max(self.weight_stored_bytes, 1)

    @property
    def ratio(self) -> float:
        return self.float32_bytes / max(self.stored_bytes, 1)

    def line(self) -> str:
        kib = lambda n: f"{n / 1024:.1f} KiB"  # noqa: E731
        return (f"decoder ({self.layers} quantized layers): weights float32 {kib(self.weight_float32_bytes)} -> "
                f"{kib(self.weight_stored_bytes)} with steps ({self.weight_ratio:.2f}x smaller); with biases and "
                f"activation steps {kib(self.float32_bytes)} -> {kib(self.stored_bytes)} ({self.ratio:.2f}x)")


_QUANTIZER_SLOTS = (".weight_quant.", ".input_quant.", ".output_quant.", ".other_quant.")


def decoder_storage(codec: nn.Module) -> DecoderStorage:
    """Storage of the quantized layers' own tensors, from the checkpoint's storage plan."""
    names = quantized_module_names(codec)
    plan = storage_plan(codec)
    state = codec.state_dict()
    owned = [key for key in plan if any(key.startswith(name + ".") for name in names)]
    weights = [key for key in owned if key.endswith(".weight") or ".weight_quant." in key]
    floats = lambda keys: sum(state[k].numel() * 4 for k in keys if not any(s in k for s in _QUANTIZER_SLOTS))  # noqa: E731
    return DecoderStorage(
        layers=len(names),
        weight_float32_bytes=floats(weights),
        weight_stored_bytes=sum(plan[key].nbytes for key in weights),
        float32_bytes=floats(owned),
        stored_bytes=sum(plan[key].nbytes for key in owned),
    )
