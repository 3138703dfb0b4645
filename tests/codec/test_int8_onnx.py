"""The INT8 decoder in ONNX Runtime: graph-scope decoder networks, streams coded and decoded
with every decoder network running as an exported graph, identical to PyTorch's integer-kernel
arithmetic."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.codec.codec_helpers import moving_frames
from vidquant.calibrate import calibrate_ptq
from vidquant.deploy.bitstream import Bitstream
from vidquant.models.codec import build_codec
from vidquant.models.codec.coding.pipeline import (
    EncodeSettings,
    decode_video,
    differing_samples,
    encode_video,
)
from vidquant.models.codec.coding.sequence import psnr_yuv420
from vidquant.models.codec.workflow.quantize_decoder import (
    decoder_example_inputs,
    decoder_networks,
    quantize_decoder,
    quantized_module_names,
    swap_decoder_to_onnx,
)
from vidquant.quant.integer_kernels import emulate_integer_kernels
from vidquant.runtime.onnx_module import OnnxModule


@pytest.fixture(scope="module")
def static_codec():
    torch.set_num_threads(1)
    codec = quantize_decoder(build_codec("dcvc-rt-small"), "w8a8-static")
    # one I-P-P chain of random frames observes every quantizer
    calibrate_ptq(codec, [None], forward=lambda model, _: decoder_example_inputs(model, size=48))
    return codec


def test_graph_scope_traces_every_decoder_network_and_leaves_the_encoder_float(static_codec):
    float_codec = build_codec("dcvc-rt-small")
    traced = {name for name, module in static_codec.named_modules() if isinstance(module, torch.fx.GraphModule)}
    networks = set(decoder_example_inputs(float_codec))
    lone = {name for name in networks if name not in traced}
    assert lone == {"image.y_spatial_prior_reduction", "video.feature_adaptor_p"}  # bare convolutions
    assert traced == networks - lone
    names = quantized_module_names(static_codec)
    assert not any(n.startswith(("image.enc.", "image.hyper_enc.", "video.encoder.", "video.hyper_encoder.")) for n in names)


def test_onnx_runtime_decoder_codes_and_decodes_exactly(static_codec, tmp_path):
    frames = moving_frames(3, 48, 64, seed=3)
    settings = EncodeSettings(30, 30, reset_interval=2)
    emulated = copy.deepcopy(static_codec)
    assert emulate_integer_kernels(emulated) == []
    torch_result = encode_video(emulated, frames, settings)
    onnx_codec = copy.deepcopy(static_codec)
    swapped = swap_decoder_to_onnx(onnx_codec, tmp_path)
    assert len(swapped) == len(decoder_example_inputs(build_codec("dcvc-rt-small")))
    encoded = encode_video(onnx_codec, frames, settings)
    decoded = list(decode_video(onnx_codec, Bitstream.from_bytes(encoded.bitstream.to_bytes())))
    assert differing_samples(encoded.recons, decoded) == 0  # ONNX Runtime on both sides: exact
    assert all(isinstance(onnx_codec.get_submodule(name), OnnxModule) for name in swapped)
    assert len(list(tmp_path.glob("*.onnx"))) >= len(swapped)
    # PyTorch with integer-kernel arithmetic writes the same stream and reconstructs the same
    # frames (7-bit weight codes: exact int32 sums on every x86 CPU, see test_avx2_saturation)
    assert torch_result.bitstream.to_bytes() == encoded.bitstream.to_bytes()
    assert differing_samples(torch_result.recons, encoded.recons) == 0
    for ours, theirs, original in zip(torch_result.recons, encoded.recons, frames):
        crop = lambda x: x[:, :, :48, :64]  # noqa: E731
        gap = psnr_yuv420(crop(ours), *original)[0] - psnr_yuv420(crop(theirs), *original)[0]
        assert abs(gap) < 0.1


def test_decoder_networks_cover_the_decoder_module_globs():
    assert "video.recon_generation_net" in decoder_networks() and "image.dec" in decoder_networks()
    assert all(not name.endswith(".*") for name in decoder_networks())
