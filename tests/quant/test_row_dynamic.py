"""Per-row dynamic input ranges (granularity per_row): one range per row of the layer's integer GEMM."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from vidquant.errors import VidquantError
from vidquant.quant import FakeQuantizer, MatMul, PerRow, QuantSpec, quantize, resolve_recipe
from vidquant.quant.checkpoint import load_quantized, save_quantized
from vidquant.quant.primitives import ROW_STEP_WIDEN, dynamic_fake_quantize

ROW_SPEC = QuantSpec(bits=8, signed=False, symmetric=False, dynamic=True, granularity=PerRow())


class Layers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pointwise = nn.Conv2d(8, 4, 1)
        self.depthwise = nn.Conv2d(8, 8, 3, groups=8)
        self.full = nn.Conv2d(3, 8, 3)
        self.linear = nn.Linear(4, 2)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.matmul = MatMul()


def test_each_layer_names_the_axes_its_dot_product_sums_over() -> None:
    model = quantize(Layers(), "dynamic-int8")
    dims = {name: module.input_quant.row_dims for name, module in model.named_children()}
    assert dims == {"pointwise": (-3,), "depthwise": (-2, -1), "full": (-3, -2, -1), "linear": (-1,),
                    "up": (-3,), "matmul": (-1,)}
    assert model.matmul.other_quant.row_dims == (-2,)
    assert resolve_recipe("dynamic-int8").input.granularity == PerRow()


def test_per_pixel_ranges_bound_each_pixels_error_by_its_own_step() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 16, 5, 5) * torch.logspace(-3, 1, 25).reshape(1, 1, 5, 5)  # pixels of very different size
    rows = FakeQuantizer(ROW_SPEC, role="activation", row_dims=(-3,))(x)
    span = x.amax(1, keepdim=True).clamp(min=0) - x.amin(1, keepdim=True).clamp(max=0)
    assert bool(((rows - x).abs() <= span * ROW_STEP_WIDEN / 255 * 0.5 + 1e-12).all())
    whole = FakeQuantizer(QuantSpec(bits=8, signed=False, symmetric=False, dynamic=True), role="activation")(x)
    assert float((rows - x).abs().mean()) < 0.2 * float((whole - x).abs().mean())


def test_a_large_row_leaves_the_other_rows_unchanged() -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 8, 6, 6)
    quantizer = FakeQuantizer(ROW_SPEC, role="activation", row_dims=(-2, -1))  # depthwise: per channel
    louder = x.clone()
    louder[:, 3] *= 1000
    a, b = quantizer(x), quantizer(louder)
    keep = [c for c in range(8) if c != 3]
    assert torch.equal(a[:, keep], b[:, keep])
    assert not torch.equal(a[:, 3] * 1000, b[:, 3])


def test_grid_aligned_frames_stay_off_rounding_ties() -> None:
    pixels = torch.arange(256, dtype=torch.float64)
    x = ((pixels / 255 - 0.5) * 2).float().reshape(1, 1, 16, 16)
    scale = 2.0 * ROW_STEP_WIDEN / 255
    position = (x / scale).double()
    assert float((position - position.floor() - 0.5).abs().min()) > 1e-4  # far from a tie versus last-bit noise
    q = dynamic_fake_quantize(x, (-3, -2, -1), 0, 255, symmetric=False)
    assert float((q - x).abs().max()) <= scale * 0.5 + 1e-7


def test_symmetric_rows_use_signed_codes_without_zero_point() -> None:
    x = torch.tensor([[-1.0, 0.5, 0.25], [0.0, 0.1, -0.3]])
    q = dynamic_fake_quantize(x, (-1,), -128, 127, symmetric=True)
    steps = x.abs().amax(1, keepdim=True) * ROW_STEP_WIDEN / 127.5
    assert torch.allclose(q, torch.round(x / steps) * steps)


def test_per_row_needs_a_dynamic_layer_input() -> None:
    with pytest.raises(VidquantError, match="dynamic=True"):
        QuantSpec(bits=8, granularity=PerRow())
    with pytest.raises(VidquantError, match="inputs only"):
        FakeQuantizer(ROW_SPEC, role="weight", shape=(4, 4))
    with pytest.raises(VidquantError, match="inputs only"):
        FakeQuantizer(ROW_SPEC, role="activation")  # no layer to say which axes


def test_checkpoint_records_per_row_and_reproduces_outputs(tmp_path) -> None:
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.SiLU(), nn.Conv2d(8, 8, 3, groups=8), nn.SiLU(), nn.Conv2d(8, 4, 1))
    model = quantize(net.eval(), "dynamic-int8")
    x = torch.randn(1, 3, 12, 12)
    with torch.no_grad():
        expected = model(x)
    save_quantized(model, tmp_path / "m.safetensors")
    fresh = nn.Sequential(nn.Conv2d(3, 8, 3), nn.SiLU(), nn.Conv2d(8, 8, 3, groups=8), nn.SiLU(), nn.Conv2d(8, 4, 1))
    loaded = load_quantized(fresh.eval(), tmp_path / "m.safetensors")
    assert loaded[4].input_quant.spec.granularity == PerRow() and loaded[4].input_quant.row_dims == (-3,)
    with torch.no_grad():
        assert torch.equal(loaded(x), expected)
