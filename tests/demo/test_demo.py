"""``vidquant demo --quick`` end to end on a real clip: the four outputs exist and agree."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_file
from vidquant.cli.main import main
from vidquant.errors import VidquantError
from vidquant.models.codec.workflow.demo import FULL, QUICK, find_clips, prepare_clip


def _table_rows(report: str) -> dict[str, list[str]]:
    rows = [line.strip("|").split("|") for line in report.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def test_quick_demo_writes_consistent_report(tmp_path, capsys):
    try:
        find_clips()
    except VidquantError as error:
        pytest.skip(str(error))
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    for name in ("report.md", "rd.png", "frames.png", "results.json"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    rows = _table_rows((out / "report.md").read_text())
    for fp32, int8 in zip(results["rd"]["fp32"], results["rd"]["int8"]):
        assert rows[str(fp32["qp"])] == [f"{fp32['bpp']:.4f}", f"{fp32['psnr']:.3f}",
                                         f"{int8['bpp']:.4f}", f"{int8['psnr']:.3f}"]
        assert abs(int8["psnr"] - fp32["psnr"]) < 3.0  # an INT8 decoder close to the float one
    assert rows["BD-rate INT8 vs FP32 (%)"] == [f"{results['bd_rate_percent']:+.2f}"]
    assert rows["BD-PSNR INT8 vs FP32 (dB)"] == [f"{results['bd_psnr_db']:+.3f}"]
    assert len(results["rd"]["fp32"]) == 4
    latency = results["decoder_latency"]["backends"]
    int8 = latency["ONNX Runtime INT8"]
    assert int8["precision"] == "int8 U8S8" and int8["median_ms"] > 0
    assert "float fallbacks: none" in results["decoder_latency"]["int8_graph"]
    assert f"| ONNX Runtime INT8 | int8 U8S8 | {int8['median_ms']:.2f} |" in (out / "report.md").read_text()
    parity = results["decoder_latency"]["integer_parity"]
    assert f"{parity['differing_values']} of {parity['values']} output values differ" in (out / "report.md").read_text()
    assert parity["values"] > 0 and parity["differing_values"] == 0
    printed = capsys.readouterr().out
    assert f"{results['bd_rate_percent']:+.2f}" in printed and results["clips"]["source"] in printed


def test_demo_rejects_unknown_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--quik"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("settings", [FULL, QUICK], ids=["full", "quick"])
def test_settings_fit_the_shared_fallback_clips(tmp_path, settings):
    test = shared_file("data/video/yuv/foreman_176x144_8f.yuv")
    calib = shared_file("data/video/yuv/cars_320x240_30f.yuv")
    for clip, size, frames in ((test, settings.test_size, settings.test_frames),
                               (calib, settings.calib_size, settings.calib_frames)):
        path, entry = prepare_clip(clip, tmp_path, size, frames)
        assert path.stat().st_size == frames * size[0] * size[1] * 3 // 2
        assert (entry["width"], entry["height"], entry["frames"]) == (*size, frames)
