"""Q-SCI variants, QAT checkpoints, module sensitivity and the cost table (tiny networks)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn as nn
from scipy.io import savemat

from tests.sci.test_sci_train_eval import TINY, clip_dir  # noqa: F401  (fixture)
from vidquant.analysis.sensitivity import module_sensitivity
from vidquant.cli.main import main
from vidquant.errors import VidquantError
from vidquant.models.sci import EfficientSCI, SCIConfig, get_preset
from vidquant.models.sci.checkpoint import save_weights
from vidquant.models.sci.data import Benchmark
from vidquant.models.sci.forward_model import measure, random_masks
from vidquant.models.sci.qsci import build_variant, get_variant, load_any, load_fp_weights, qat_train
from vidquant.models.sci.study import parse_row, score_row, variant_cost
from vidquant.models.sci.train import TrainSettings
from vidquant.quant import quant_layers


@pytest.fixture
def fp_ckpt(tmp_path):
    path = tmp_path / "fp.safetensors"
    save_weights(path, EfficientSCI(SCIConfig(**TINY)))
    return path


def _snapshot(size: int = 16):
    frames = torch.rand(1, 8, size, size)
    mask = random_masks(8, size, size)
    return frames, measure(frames, mask), mask


def test_variants_switch_the_paper_additions():
    assert get_variant("qsci", 8).switches == {"qk_shift": True, "fem_shortcut": False, "vrm_shortcut": False}
    assert all(get_variant("qsci", 4).switches.values())
    assert not any(get_variant("direct", 2).switches.values())
    plan = get_variant("shift-fem", 4).plan(get_preset("efficientsci-cpu"))
    assert plan.recipe == "qsci-w4" and plan.overrides == {"fem.*.shortcut*": "qsci-w8"}
    assert get_variant("qsci", 8).plan(get_preset("efficientsci-cpu")).overrides == {}  # no shortcuts at 8 bits
    assert get_variant("fp", None).plan(get_preset("efficientsci-cpu")) is None
    with pytest.raises(VidquantError, match="valid: fp, direct"):
        get_variant("qcsi", 4)
    with pytest.raises(VidquantError, match="bit width"):
        get_variant("qsci", 5)


def test_build_variant_keeps_shortcuts_8bit_and_starts_near_fp(fp_ckpt):
    _, y, mask = _snapshot()
    fp_out = load_any(fp_ckpt)(y, mask)
    model = build_variant(get_variant("qsci", 4), fp_ckpt)
    bits = {name: layer.weight_quant.spec.bits for name, layer in quant_layers(model) if layer.weight_quant}
    assert {b for n, b in bits.items() if ".shortcut" in n} == {8}
    assert {b for n, b in bits.items() if ".shortcut" not in n} == {4}
    assert any(n.startswith("vrm.") and ".shortcut" in n for n in bits)
    w8 = build_variant(get_variant("direct", 8), fp_ckpt)(y, mask)
    w2 = build_variant(get_variant("direct", 2), fp_ckpt)(y, mask)
    assert (w8 - fp_out).abs().max() < (w2 - fp_out).abs().max()


def test_fp_weights_of_another_network_are_refused(fp_ckpt):
    with pytest.raises(VidquantError, match="does not fit"):
        load_fp_weights(EfficientSCI(SCIConfig(**{**TINY, "units": 2})), fp_ckpt)


def test_qat_checkpoint_round_trips_through_sci_test(clip_dir, fp_ckpt, tmp_path, capsys):  # noqa: F811
    settings = TrainSettings(preset="efficientsci-cpu", data=(str(clip_dir),), out=tmp_path / "run", epochs=1,
                             iters_per_epoch=2, batch_size=2, crop=16, config_overrides=TINY)
    path = qat_train(settings, get_variant("qsci", 4), fp_ckpt, progress=False)
    model = load_any(path)
    assert model.config.fem_shortcut and model.config.qk_shift
    frames, y, mask = _snapshot()
    assert torch.equal(model(y, mask), load_any(path)(y, mask))
    mat = tmp_path / "tiny.mat"
    savemat(mat, {"orig": np.moveaxis(frames[0].numpy() * 255, 0, -1), "meas": (y[0].numpy() * 255)[..., None],
                  "mask": np.moveaxis(mask.numpy(), 0, -1)})
    assert main(["sci", "test", "--ckpt", str(path), "--data", str(mat), "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["results"][0]["file"] == "tiny"


def test_module_sensitivity_ranks_quantized_groups():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
    x = torch.randn(64, 8)
    reference = model(x).detach()

    def metric(candidate: nn.Module) -> float:
        with torch.no_grad():
            return -float(nn.functional.mse_loss(candidate(x), reference))

    table = module_sensitivity(lambda: copy.deepcopy(model), ["0", "2"], "qsci-w2", metric, progress=False)
    assert table.baseline == 0.0
    assert [row.layers for row in table.rows] == [1, 1]
    assert all(row.drop > 0 for row in table.rows)
    assert "recipe qsci-w2" in table.format()
    with pytest.raises(VidquantError, match="closest names"):
        module_sensitivity(lambda: copy.deepcopy(model), ["fem"], "qsci-w2", metric, progress=False)


def test_efficientsci_s_cost_matches_the_paper_convention():
    fp, w8 = variant_cost("efficientsci-s", get_variant("fp", None)), variant_cost("efficientsci-s", get_variant("qsci", 8))
    assert abs(fp.params_m - 3.78) / 3.78 < 0.02
    assert fp.gops == pytest.approx(fp.gmacs) and fp.paper_gops == 563.87
    assert w8.gops == pytest.approx(fp.gops / 16) and w8.gops_linear == pytest.approx(fp.gops / 4, rel=1e-3)


def test_table_rows(fp_ckpt):
    frames, y, mask = _snapshot()
    bench = Benchmark("synthetic", frames[0], y, mask)
    with pytest.raises(VidquantError, match="KIND-wBITS"):
        parse_row("qsci4")
    row = score_row("direct-w8", fp_ckpt, [bench], [(y, mask)])
    assert row["row"] == "direct-w8 ptq" and set(row["files"]) == {"synthetic"}
    assert row["mean"]["psnr"] == row["files"]["synthetic"]["psnr"]


def test_analyze_and_table_commands(clip_dir, fp_ckpt, tmp_path, capsys):  # noqa: F811
    frames, y, mask = _snapshot()
    mat = tmp_path / "tiny.mat"
    savemat(mat, {"orig": np.moveaxis(frames[0].numpy() * 255, 0, -1), "meas": (y[0].numpy() * 255)[..., None],
                  "mask": np.moveaxis(mask.numpy(), 0, -1)})
    common = ["--data", str(mat), "--calib", str(clip_dir), "--calib-crop", "16"]
    assert main(["sci", "analyze", "--ckpt", str(fp_ckpt), "--bits", "4", "--groups", "fem", "vrm",
                 "--json", str(tmp_path / "s.json"), *common]) == 0
    assert [row["group"] for row in json.loads((tmp_path / "s.json").read_text())["rows"]] == ["fem", "vrm"]
    out = tmp_path / "table"
    assert main(["sci", "table", "--fp", str(fp_ckpt), "--rows", "fp", "qsci-w4", "--out", str(out), *common]) == 0
    table = json.loads((out / "table.json").read_text())
    assert set(table["variants"]) == {"fp", "qsci-w4 ptq"} and len(table["commands"]) == 1
    assert "| qsci-w4 ptq | 0 |" in (out / "table.md").read_text()
    assert main(["sci", "analyze", "--ckpt", str(fp_ckpt), "--bits", "5", *common]) == 2
