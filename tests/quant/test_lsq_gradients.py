"""Acceptance 1: autograd gradients of LSQ / LSQ+ equal the papers' closed forms.

The primitives are checked in float64 (max abs diff <= 1e-6, the formula itself); the
FakeQuantizer wiring (gradient scale g = 1/sqrt(N * Qp), per-channel reduction) in its
float32 arithmetic, where float32 rounding of v (up to 255) allows a relative 1e-4.
"""

import math

import pytest
import torch

from vidquant.quant import FakeQuantizer, PerChannel, PerTensor, QuantSpec
from vidquant.quant.primitives import lsq_plus_quantize, lsq_quantize

BITS = [2, 4, 8]


def _closed_form_step_grad(v: torch.Tensor, qmin: int, qmax: int) -> torch.Tensor:
    """LSQ eq. 3: -v + round(v) inside the range, -Qn below, Qp above."""
    inside = (v > qmin) & (v < qmax)
    return torch.where(inside, torch.round(v) - v, torch.where(v <= qmin, float(qmin), float(qmax))).to(v.dtype)


def _signed_range(bits):
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


@pytest.mark.parametrize("bits", BITS)
def test_lsq_primitive_gradients_match_paper(bits):
    qmin, qmax = _signed_range(bits)
    x = (torch.randn(4000, dtype=torch.float64) * 3).requires_grad_(True)
    step = torch.tensor(3.0 / qmax * 0.7, dtype=torch.float64, requires_grad=True)
    g = 1.0 / math.sqrt(x.numel() * qmax)
    upstream = torch.randn_like(x)
    (lsq_quantize(x, step, qmin, qmax, g) * upstream).sum().backward()
    v = x.detach() / step.detach()
    expected_step = (upstream * _closed_form_step_grad(v, qmin, qmax)).sum() * g
    expected_x = upstream * ((v > qmin) & (v < qmax))
    assert abs(step.grad.item() - expected_step.item()) <= 1e-6
    assert (x.grad - expected_x).abs().max().item() <= 1e-6


@pytest.mark.parametrize("bits", BITS)
def test_lsq_plus_primitive_gradients_match_paper(bits):
    qmin, qmax = 0, 2**bits - 1
    x = (torch.randn(4000, dtype=torch.float64) * 2 + 0.3).requires_grad_(True)
    step = torch.tensor(4.0 / qmax, dtype=torch.float64, requires_grad=True)
    offset = torch.tensor(-1.5, dtype=torch.float64, requires_grad=True)
    g = 1.0 / math.sqrt(x.numel() * qmax)
    upstream = torch.randn_like(x)
    (lsq_plus_quantize(x, step, offset, qmin, qmax, g) * upstream).sum().backward()
    v = (x.detach() - offset.detach()) / step.detach()
    inside = (v > qmin) & (v < qmax)
    assert inside.any() and (~inside).any()
    expected_step = (upstream * _closed_form_step_grad(v, qmin, qmax)).sum() * g
    expected_offset = (upstream * (~inside)).sum() * g  # LSQ+: d/d(beta) = 1 - 1[inside]
    assert abs(step.grad.item() - expected_step.item()) <= 1e-6
    assert abs(offset.grad.item() - expected_offset.item()) <= 1e-6
    assert (x.grad - upstream * inside).abs().max().item() <= 1e-6


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("granularity", [PerTensor(), PerChannel()])
def test_quantizer_applies_lsq_with_gradient_scale(bits, granularity):
    spec = QuantSpec(bits=bits, granularity=granularity, learn="step", observer="lsq")
    weight = torch.randn(6, 5, 3, 3)
    quantizer = FakeQuantizer(spec, role="weight", shape=weight.shape, channel_axis=0)
    quantizer.initialize_from(weight)
    upstream = torch.randn_like(weight)
    (quantizer(weight) * upstream).sum().backward()

    per_channel = isinstance(granularity, PerChannel)
    steps = quantizer.scale.detach().double()
    v = weight.double() / (steps.reshape(-1, 1, 1, 1) if per_channel else steps)
    g = 1.0 / math.sqrt((weight[0].numel() if per_channel else weight.numel()) * spec.qmax)
    expected = upstream.double() * _closed_form_step_grad(v, spec.qmin, spec.qmax) * g
    expected = expected.sum(dim=(1, 2, 3)) if per_channel else expected.sum().reshape(1)
    assert torch.allclose(quantizer.scale.grad.double(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bits", BITS)
def test_quantizer_applies_lsq_plus_with_gradient_scale(bits):
    spec = QuantSpec(bits=bits, signed=False, symmetric=False, learn="step+offset", observer="minmax")
    activations = torch.randn(4, 4, 4, 4) * 2 + 0.5
    quantizer = FakeQuantizer(spec, role="activation", channels=4)
    quantizer.initialize_from(activations[:2])  # leaves part of the data outside the range
    upstream = torch.randn_like(activations)
    (quantizer(activations) * upstream).sum().backward()

    s, beta = quantizer.scale.detach().double(), quantizer.offset.detach().double()
    v = (activations.double() - beta) / s
    g = 1.0 / math.sqrt(activations[0].numel() * spec.qmax)  # N = features per sample
    inside = (v > spec.qmin) & (v < spec.qmax)
    step_expected = (upstream.double() * _closed_form_step_grad(v, spec.qmin, spec.qmax)).sum() * g
    offset_expected = (upstream.double() * (~inside)).sum() * g
    assert quantizer.scale.grad.item() == pytest.approx(step_expected.item(), rel=1e-4, abs=1e-6)
    assert quantizer.offset.grad.item() == pytest.approx(offset_expected.item(), rel=1e-4, abs=1e-6)


def test_lsq_initial_step_is_two_mean_abs_over_sqrt_qp():
    spec = QuantSpec(bits=4, learn="step", observer="lsq")
    x = torch.randn(1000)
    quantizer = FakeQuantizer(spec, role="weight", shape=x.shape, channel_axis=0)
    quantizer.initialize_from(x)
    assert quantizer.scale.item() == pytest.approx(2 * x.abs().mean().item() / math.sqrt(7), rel=1e-6)
