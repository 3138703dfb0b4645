"""Bring your own model: three foreign-style models (tests/byo/foreign_models.py) through
quantize -> calibrate -> distill -> report -> save / load -> export -> ONNX Runtime."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch

from tests.byo.foreign_models import AttentionUNet, ConditionalDecoder, HyperpriorCodec
from vidquant import calibrate_ptq, distill, load_quantized, quantize, report, save_quantized
from vidquant.errors import VidquantError
from vidquant.export import export_onnx
from vidquant.quant.api import quantizers


def _decompress(model, batch):
    return model.decompress(*batch)


def _hyperprior():
    torch.manual_seed(0)
    codec = HyperpriorCodec().eval()
    with torch.no_grad():  # pixels 0..255: the untrained transforms' latents round to non-zero integers
        batches = [list(codec.compress(255 * torch.rand(1, 3, 32, 32))) for _ in range(3)]
    assert all(bool(t.any()) for batch in batches for t in batch)
    return codec, batches, _decompress, {"include": ["g_s.*", "h_s.*"]}


def _conditional():
    torch.manual_seed(1)
    return ConditionalDecoder().eval(), [[torch.randn(1, 24, 4, 4).round(), torch.randn(1, 16, 16, 16)] for _ in range(3)], None, {}


def _unet():
    torch.manual_seed(2)
    return AttentionUNet().eval(), [[torch.rand(1, 3, 16, 16)] for _ in range(3)], None, {}


MODELS = {"hyperprior": _hyperprior, "conditional": _conditional, "unet": _unet}


def _run(model, forward, batch):
    with torch.no_grad():
        out = forward(model, batch) if forward else model(*batch)
    return [t for t in (out if isinstance(out, (tuple, list)) else [out])]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_whole_path(name, tmp_path):
    float_model, batches, forward, args = MODELS[name]()
    student = quantize(copy.deepcopy(float_model), "w8a8-lsq", **args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no zero-range fallback on real data
        calibrate_ptq(student, batches, forward=forward)
    result = distill(student, float_model, batches, forward=forward, epochs=1, progress=False)
    assert math.isfinite(result.final_loss) and result.skipped_steps == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep = report(student, batches[0], forward=forward, reference=float_model)
    assert rep.output_sqnr_db is not None and rep.output_sqnr_db > 15, rep.format()
    assert all(row.output_sqnr_db is not None for row in rep.rows)
    assert "output SQNR against the float reference" in rep.format()
    if name == "unet":  # its two attention products are written with @: listed, with one warning
        assert [m.split(": ")[0] for m in rep.float_matmuls] == ["<root>", "<root>"]
        assert sum("matrix product(s) ran unquantized" in str(w.message) for w in caught) == 1
    else:
        assert rep.float_matmuls == []
    path = tmp_path / "student.safetensors"
    save_quantized(student, path)  # rounds the float16 steps in the student too
    expected = _run(student, forward, batches[1])
    assert all(bool(torch.isfinite(t).all()) for t in expected)
    loaded = load_quantized(MODELS[name]()[0], path)
    for a, b in zip(_run(loaded, forward, batches[1]), expected):
        assert torch.equal(a, b)

    onnx_path = tmp_path / "student.onnx"
    exported = export_onnx(student, batches[1], onnx_path, forward=forward)
    assert exported.quantized
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {i.name: x.numpy() for i, x in zip(session.get_inputs(), batches[1])}
    for got, want in zip(session.run(None, feeds), expected):
        want = want.numpy()
        assert np.abs(got - want).max() <= 1e-3 * max(np.abs(want).max(), 1.0)


def test_all_zero_latent_warns_and_stays_finite():
    codec, batches, forward, args = _hyperprior()
    zeros = [[torch.zeros_like(y), torch.zeros_like(z)] for y, z in batches]
    student = quantize(copy.deepcopy(codec), "w8a8-lsq", **args)
    with pytest.warns(UserWarning, match=r"layer g_s\.0\.input_quant: calibration saw only zeros.*fallback step"):
        calibrate_ptq(student, zeros, forward=forward)
    step = student.g_s[0].input_quant.scale
    assert float(step) == pytest.approx(1 / 127.5)
    for t in _run(student, forward, batches[0]):  # real latents after an all-zero calibration
        assert bool(torch.isfinite(t).all())
    result = distill(student, codec, batches, forward=forward, epochs=1, progress=False)
    assert math.isfinite(result.final_loss)


def test_model_without_forward_gets_one_line_error():
    codec, batches, _, args = _hyperprior()
    student = quantize(codec, "w8a8-lsq", **args)
    for call in (lambda: calibrate_ptq(student, batches), lambda: report(student, batches[0]),
                 lambda: distill(student, codec, batches, progress=False)):
        with pytest.raises(VidquantError, match=r"HyperpriorCodec has no forward\(\); pass forward=fn") as info:
            call()
        assert "\n" not in str(info.value)


def test_calibration_failing_part_way_locks_nothing():
    model, batches, _, _ = _unet()
    student = quantize(model, "w8a8-lsq")
    with pytest.raises(RuntimeError):
        calibrate_ptq(student, [batches[0], [torch.rand(1, 5, 16, 16)]])
    assert not any(q.is_initialized for _, q in quantizers(student))
    calibrate_ptq(student, batches)
    assert all(q.is_initialized for _, q in quantizers(student))


def test_non_finite_names_the_first_layer(tmp_path):
    model, batches, _, _ = _conditional()
    with torch.no_grad():
        model.fuse.bias[0] = float("nan")
    student = quantize(model, "w8a8-lsq")
    with pytest.raises(VidquantError, match=r"calibrate_ptq: NaN or Inf first at layer fuse;"):
        calibrate_ptq(student, batches)
    assert not any(q.is_initialized for _, q in quantizers(student))
    clean, _, _, _ = _conditional()
    student = quantize(clean, "w8a8-lsq")
    calibrate_ptq(student, batches)
    with torch.no_grad():
        student.fuse.bias[0] = float("nan")
    with pytest.raises(VidquantError, match=r"report: NaN or Inf first at layer fuse; check that layer"):
        report(student, batches[0])
    with pytest.raises(VidquantError, match=r"export_onnx: NaN or Inf first at layer fuse;"):
        export_onnx(student, batches[0], tmp_path / "nan.onnx")


def test_distill_raises_when_every_step_is_non_finite():
    model, batches, _, _ = _conditional()
    student = quantize(copy.deepcopy(model), "w8a8-lsq")
    calibrate_ptq(student, batches)
    with torch.no_grad():
        student.fuse.bias[0] = float("nan")
    with pytest.raises(VidquantError, match=r"distill: all 3 step\(s\) were non-finite: NaN or Inf first at layer fuse;"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            distill(student, model, batches, epochs=1, progress=False)


def test_submodule_export_report_and_save_tell_the_truth(tmp_path):
    codec, batches, forward, args = _hyperprior()
    student = quantize(copy.deepcopy(codec), "w8a8-lsq", **args)
    calibrate_ptq(student, batches, forward=forward)
    result = export_onnx(student.g_s, [batches[0][0]], tmp_path / "g_s.onnx")
    assert result.quantized and not any("not quantized" in note for note in result.notes)
    assert report(student.g_s).recipes == ["w8a8-lsq"]
    save_quantized(student.g_s, tmp_path / "g_s.safetensors")
    loaded = load_quantized(copy.deepcopy(codec.g_s), tmp_path / "g_s.safetensors")
    with torch.no_grad():
        assert torch.equal(loaded(batches[0][0]), student.g_s(batches[0][0]))
