"""Fake quantization matches PyTorch's kernels; packing is exact; bad specs fail clearly."""

import pytest
import torch

from vidquant.errors import VidquantError
from vidquant.quant import FakeQuantizer, PerBlock, PerChannel, PerTensor, QuantSpec
from vidquant.quant.primitives import pack_codes, packed_nbytes, unpack_codes


@pytest.mark.parametrize("axis", [0, 1])
def test_minmax_per_channel_int8_equals_torch(axis):
    """Acceptance 2."""
    weight = torch.randn(16, 12, 3, 3) * torch.rand(16, 1, 1, 1) * 3
    spec = QuantSpec(bits=8, granularity=PerChannel(axis=axis))
    quantizer = FakeQuantizer(spec, role="weight", shape=weight.shape, channel_axis=0)
    quantizer.initialize_from(weight)
    ours = quantizer(weight)
    theirs = torch.fake_quantize_per_channel_affine(
        weight, quantizer.scale, quantizer.zero_point.to(torch.int32), axis, spec.qmin, spec.qmax
    )
    assert torch.equal(ours, theirs)


def test_asymmetric_per_tensor_uint8_equals_torch():
    x = torch.randn(4, 8, 6, 6) + 1.0
    spec = QuantSpec(bits=8, signed=False, symmetric=False)
    quantizer = FakeQuantizer(spec, role="activation", channels=8)
    quantizer.initialize_from(x)
    theirs = torch.fake_quantize_per_tensor_affine(
        x, quantizer.scale.item(), int(quantizer.zero_point.item()), spec.qmin, spec.qmax
    )
    assert torch.equal(quantizer(x), theirs)


@pytest.mark.parametrize("bits,signed", [(2, True), (3, True), (4, True), (4, False), (8, True), (16, True)])
def test_pack_unpack_round_trip_is_exact(bits, signed):
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    codes = torch.randint(low, high + 1, (1001,), dtype=torch.int32)
    packed = pack_codes(codes, bits)
    assert packed.numel() * packed.element_size() == packed_nbytes(codes.numel(), bits)
    assert torch.equal(unpack_codes(packed, bits, codes.numel(), signed), codes)


def test_int4_block128_codes_round_trip_through_packing():
    """Acceptance 3 (codes part): quantize -> pack -> unpack -> dequantize gives the fake-quant values."""
    weight = torch.randn(8, 300)
    spec = QuantSpec(bits=4, granularity=PerBlock(128))
    quantizer = FakeQuantizer(spec, role="weight", shape=weight.shape, channel_axis=0)
    quantizer.initialize_from(weight)
    assert quantizer.scale.numel() == 8 * 3
    codes = quantizer.int_codes(weight)
    packed = pack_codes(codes, 4)
    assert packed.numel() == (8 * 300) // 2
    restored = quantizer.dequantize_codes(unpack_codes(packed, 4, codes.numel(), True).reshape(codes.shape))
    assert torch.equal(restored, quantizer(weight))


def test_per_block_steps_cover_the_conv_gemm_view():
    weight = torch.randn(4, 20, 3, 3)  # 180 inputs per output channel -> 2 blocks of 128
    quantizer = FakeQuantizer(QuantSpec(bits=4, granularity=PerBlock(128)), role="weight", shape=weight.shape, channel_axis=0)
    quantizer.initialize_from(weight)
    assert quantizer.scale.shape == (8,)
    assert quantizer(weight).shape == weight.shape


@pytest.mark.parametrize("observer", ["minmax", "ema_minmax", "percentile", "mse", "lsq"])
def test_every_observer_gives_positive_steps_and_small_error(observer):
    x = torch.randn(8, 16, 10, 10)
    spec = QuantSpec(bits=8, observer=observer, granularity=PerTensor())
    quantizer = FakeQuantizer(spec, role="activation", channels=16)
    quantizer.start_calibration()
    for chunk in x.split(2):
        quantizer(chunk)
    quantizer.finish_calibration()
    assert bool(quantizer.initialized) and quantizer.scale.item() > 0
    relative_error = (quantizer(x) - x).pow(2).mean() / x.pow(2).mean()
    assert relative_error < 0.02


def test_mse_observer_beats_minmax_on_heavy_tails():
    x = torch.distributions.Laplace(0.0, 1.0).sample((20000,)).reshape(1, -1)
    errors = {}
    for observer in ("minmax", "mse"):
        q = FakeQuantizer(QuantSpec(bits=4, observer=observer), role="activation")
        q.initialize_from(x)
        errors[observer] = (q(x) - x).pow(2).mean().item()
    assert errors["mse"] < 0.7 * errors["minmax"]


@pytest.mark.parametrize("bits", [1, 17, 0])
def test_bits_outside_range_are_rejected(bits):
    with pytest.raises(VidquantError, match=f"bits must be between 2 and 16, got {bits}"):
        QuantSpec(bits=bits)


@pytest.mark.parametrize("bad", [0.0, float("nan"), -1.0])
def test_zero_or_nan_step_names_the_layer(bad):
    quantizer = FakeQuantizer(QuantSpec(bits=8), role="activation")
    quantizer.layer_name = "decoder.conv3.input_quant"
    quantizer.initialize_from(torch.randn(2, 4))
    quantizer.scale.fill_(bad)
    with pytest.raises(VidquantError, match=r"layer decoder\.conv3\.input_quant: invalid step size"):
        quantizer(torch.randn(2, 4))


def test_initialization_is_locked_after_first_data():
    quantizer = FakeQuantizer(QuantSpec(bits=8), role="activation")
    quantizer(torch.ones(2, 3))
    first = quantizer.scale.clone()
    quantizer(torch.full((2, 3), 100.0))
    assert torch.equal(quantizer.scale, first)
    assert "initialized" in quantizer.state_dict()


@pytest.mark.parametrize("spec", [QuantSpec(bits=8, learn="step"), QuantSpec(bits=8, signed=False, symmetric=False)])
def test_widen_to_grows_a_range_to_cover_new_values_and_never_shrinks_it(spec):
    quantizer = FakeQuantizer(spec, role="activation", channels=4)
    assert quantizer.widen_to(torch.tensor(-0.5), torch.tensor(0.5))  # no data seen: takes the range
    assert quantizer.is_initialized
    quantizer.initialize_from(torch.linspace(-1.0, 1.0, 64).reshape(1, 4, 4, 4))
    step = quantizer.scale.clone()
    assert not quantizer.widen_to(torch.tensor(-0.5), torch.tensor(0.5))
    assert torch.equal(quantizer.scale, step)
    assert quantizer.widen_to(torch.tensor(-3.0), torch.tensor(2.0))
    outliers = torch.tensor([-3.0, 2.0]).reshape(1, 2, 1, 1)
    assert torch.allclose(quantizer(outliers), outliers, atol=float(quantizer.scale.detach()) / 2 + 1e-6)
    per_channel = FakeQuantizer(QuantSpec(bits=8, granularity=PerChannel()), role="weight", shape=(4, 2), channel_axis=0)
    with pytest.raises(VidquantError, match="per-tensor"):
        per_channel.widen_to(torch.tensor(-1.0), torch.tensor(1.0))
