"""LiteRT (TFLite) files of a small fixed network: conversion with litert-torch's recipes, the
interpreter behind the PyTorch call signature, one-line errors for bad files and inputs."""

from __future__ import annotations

import sys

import pytest
import torch

from vidquant.errors import VidquantError
from vidquant.export.tflite import INSTALL_HINT, TFLITE_RECIPES, export_tflite, import_litert, litert_available
from vidquant.models import create_model
from vidquant.models.tiny import example_batches

needs_litert = pytest.mark.skipif(
    not litert_available(), reason=f"the LiteRT extra (litert-torch, ai-edge-litert) is not installed: {INSTALL_HINT}"
)


@pytest.fixture(scope="module")
def tiny():
    return create_model("tiny-convnet").eval(), example_batches(2)[1][:1]


@pytest.fixture(scope="module")
def files(tiny, tmp_path_factory):
    if not litert_available():
        pytest.skip(f"the LiteRT extra is not installed: {INSTALL_HINT}")
    model, x = tiny
    folder = tmp_path_factory.mktemp("tflite")
    return {recipe: export_tflite(model, [x], folder / f"{recipe}.tflite", recipe) for recipe in ("fp32", "dynamic-int8")}


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean() / b.abs().mean())


@needs_litert
def test_fp32_and_dynamic_int8_run_like_pytorch(tiny, files):
    from vidquant.runtime.litert_model import LiteRTModel

    model, x = tiny
    with torch.no_grad():
        reference = model(x)
    fp32 = LiteRTModel(files["fp32"].path, threads=1)
    assert fp32.input_shapes == [tuple(x.shape)]
    assert _rel(fp32(x), reference) < 1e-5
    int8 = LiteRTModel(files["dynamic-int8"].path, threads=1)(x)
    assert 0 < _rel(int8, reference) < 0.05  # quantized, and still the same function
    assert files["dynamic-int8"].size_bytes < 0.5 * files["fp32"].size_bytes


@needs_litert
def test_bad_files_and_inputs_are_one_line_errors(tiny, files, tmp_path):
    from vidquant.runtime.litert_model import LiteRTModel

    model, x = tiny
    with pytest.raises(VidquantError, match="does not exist"):
        LiteRTModel(tmp_path / "missing.tflite")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(VidquantError, match="not a TFLite flatbuffer"):
        LiteRTModel(junk)
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(files["fp32"].path.read_bytes()[:4096])
    with pytest.raises(VidquantError, match="LiteRT cannot load it"):
        LiteRTModel(truncated)
    runner = LiteRTModel(files["fp32"].path)
    with pytest.raises(VidquantError, match=r"has shape 1x3x64x64; the model expects 1x3x32x32"):
        runner(torch.zeros(1, 3, 64, 64))
    with pytest.raises(VidquantError, match="takes 1 input"):
        runner(x, x)


def test_without_the_extra_the_error_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "litert_torch", None)  # what Python does for a package that is absent
    with pytest.raises(VidquantError, match=r"LiteRT support needs the optional extra .*pip install -e \"\.\[litert\]\""):
        import_litert("litert_torch")


def test_unknown_recipe_is_a_one_line_error(tiny, tmp_path):
    model, x = tiny
    with pytest.raises(VidquantError, match=f"valid: {', '.join(TFLITE_RECIPES)}"):
        export_tflite(model, [x], tmp_path / "m.tflite", "w8a8-lsq")
