"""`vidquant inspect` on every shipped checkpoint and on old-schema files; `vidquant models`."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidquant.cli.main import main
from vidquant.models import create_model, load_quantized_model
from vidquant.models.sci.qsci import get_variant, quantize_variant
from vidquant.quant.checkpoint import save_quantized

WEIGHTS = sorted((Path(__file__).resolve().parents[2] / "src/vidquant/models").glob("*/weights/*.safetensors"))


def test_there_are_shipped_checkpoints():
    assert len(WEIGHTS) >= 8


@pytest.mark.parametrize("path", WEIGHTS, ids=[path.name for path in WEIGHTS])
def test_inspect_prints_a_report_for_every_shipped_file(path, capsys):
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "float weights (no vidquant quantization header)" in out or ("recipe(s): qsci-w" in out and "SQNR n/a" in out)


def test_inspect_gives_no_sqnr_for_weights_loaded_from_the_file(tmp_path, capsys):
    """The weights in a checkpoint are already quantized: SQNR against them was inf for every layer."""
    from vidquant.analysis import report
    from vidquant.quant import quantize

    model = quantize(create_model("tiny-convnet"), "w4a8-lsq")
    save_quantized(model, tmp_path / "m.safetensors")
    assert all(0 < row.sqnr_db < 100 for row in report(model).rows if row.weight_bits)
    assert main(["inspect", str(tmp_path / "m.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "model tiny-convnet" in out and "SQNR n/a" in out and " inf " not in out
    assert all(row.sqnr_db is None for row in report(load_quantized_model(tmp_path / "m.safetensors")).rows)


def test_an_old_qsci_header_still_loads(tmp_path):
    """Q-SCI files written before {name, kwargs}: {family, config, variant} (the legacy reader)."""
    variant = get_variant("shift-fem", 4)
    model = quantize_variant(create_model("efficientsci-cpu", units=1, **variant.switches), variant)
    object.__setattr__(model, "vidquant_model", {"family": "sci", "config": model.config.to_dict(), "variant": variant.name})
    save_quantized(model, tmp_path / "old.safetensors")
    loaded = load_quantized_model(tmp_path / "old.safetensors")
    assert loaded.config == model.config
    assert loaded.vidquant_model == {"name": "efficientsci-cpu", "kwargs": {"units": 1, "fem_shortcut": True, "qk_shift": True}}


def test_an_old_codec_student_still_loads(tmp_path, capsys):
    """Codec students written before {name, kwargs} name their preset in the calibration record."""
    import torch

    from vidquant.models.codec.workflow.quantize_decoder import quantize_decoder
    from vidquant.quant import snap_to_checkpoint

    student = quantize_decoder(create_model("dcvc-rt-small"), "int8-lsq-w")
    object.__delattr__(student, "vidquant_model")
    save_quantized(student, tmp_path / "old.safetensors", extra_metadata={"preset": "dcvc-rt-small", "float_fingerprint": 0})
    loaded = load_quantized_model(tmp_path / "old.safetensors")
    assert loaded.vidquant_model == {"name": "dcvc-rt-small", "kwargs": {}}
    snap_to_checkpoint(student)  # the weights as the file holds them (dequantized codes)
    weight = "video.recon_generation_net.head.weight"
    assert torch.equal(loaded.state_dict()[weight], student.state_dict()[weight])
    assert main(["inspect", str(tmp_path / "old.safetensors")]) == 0
    assert "model dcvc-rt-small" in capsys.readouterr().out


def test_models_lists_models_kwargs_and_plans(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(("-", "model", "`"))}
    assert "int8-lsq-w, w8a8-lsq, w4a8-lsq, w8a8-static" in rows["dcvc-rt-small"]
    assert "fold_batchnorm=False" in rows["uvq1p5-content"] and "dynamic-int8" in rows["uvq1p5-content"]
    assert "width=16" in rows["efficientsci-cpu"] and "qsci-w2" in rows["efficientsci-cpu"]
    assert main(["models", "uvq1p5-aggregation"]) == 0
    assert "dynamic-int8: float inputs: conv1, linear1" in capsys.readouterr().out
