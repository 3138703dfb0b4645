"""EfficientSCI network: preset sizes, shapes, module names the quantizer relies on."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vidquant.errors import VidquantError
from vidquant.models import create_model, list_models
from vidquant.models.sci import EfficientSCI, MatMul, SCIConfig, count_parameters, get_preset
from vidquant.models.sci.forward_model import measure, random_masks

TINY = SCIConfig(width=4, units=1, groups=2)


def test_efficientsci_s_has_paper_parameter_count():
    params = count_parameters(create_model("efficientsci-s"))
    assert abs(params / 3.78e6 - 1) < 0.02, params


def test_presets_are_registered_models():
    assert {"efficientsci-s", "efficientsci-cpu"} <= set(list_models())
    assert create_model("efficientsci-cpu", units=1).config.units == 1


def test_unknown_preset_and_bad_config_fail_in_one_line():
    with pytest.raises(VidquantError, match="efficientsci-s"):
        get_preset("efficientsci-xl")
    with pytest.raises(VidquantError, match="groups"):
        SCIConfig(width=4, groups=3)
    with pytest.raises(VidquantError, match="unknown SCI config"):
        SCIConfig.from_dict({"width": 4, "depth": 2})


def test_reconstructs_frames_from_snapshot():
    model = EfficientSCI(TINY)
    frames = torch.rand(2, 8, 16, 12)
    mask = random_masks(8, 16, 12, batch=2)
    out = model(measure(frames, mask), mask)
    assert out.shape == frames.shape
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_module_names_and_matmuls_for_quantization():
    model = EfficientSCI(dataclasses.replace(TINY, units=2))
    names = dict(model.named_modules())
    assert {"fem", "resdnet", "up_conv", "vrm"} <= set(names)
    matmuls = [n for n, m in names.items() if isinstance(m, MatMul)]
    assert len(matmuls) == 2 * 2 * TINY.groups  # qk and av per CFormer block
    assert all(n.startswith("resdnet.") for n in matmuls)
    assert not any(".shortcut" in n for n in names)


def test_qsci_switches_add_shortcuts_and_zero_shifts():
    plain = EfficientSCI(TINY)
    qsci = EfficientSCI(dataclasses.replace(TINY, fem_shortcut=True, vrm_shortcut=True, qk_shift=True))
    shortcuts = [n for n, m in qsci.named_modules() if n.endswith(".shortcut")]
    assert len(shortcuts) == 6 and {n.split(".")[0] for n in shortcuts} == {"fem", "vrm"}
    shifts = [p for n, p in qsci.named_parameters() if "_shift" in n]
    assert len(shifts) == 2 * TINY.groups and all(torch.all(p == 0) for p in shifts)

    shifted = EfficientSCI(dataclasses.replace(TINY, qk_shift=True))
    missing, unexpected = shifted.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all("_shift" in key for key in missing)
    mask = random_masks(8, 8, 8)
    y = measure(torch.rand(1, 8, 8, 8), mask)
    assert torch.allclose(shifted(y, mask), plain(y, mask), atol=1e-6)  # zero shift = no change
    assert qsci(y, mask).shape == (1, 8, 8, 8)


def test_efficientsci_s_operations_match_paper():
    from vidquant.models.sci.study import snapshot_macs

    counts = snapshot_macs(create_model("efficientsci-s"), 256, 256)
    assert abs(sum(counts.values()) / 563.87e9 - 1) < 0.01
    assert any(name.endswith("matmul_qk") for name in counts)
    tiny = snapshot_macs(EfficientSCI(TINY), 8, 8)
    first = tiny["fem.0.main.0"]
    assert first == 8 * 8 * 8 * TINY.width * 3 * 7 * 7  # T*H*W outputs per channel, 1x3x7x7 kernel
