"""UVQ 1.5 as LiteRT files: `vidquant uvq export --format tflite` (sizes against the published
workflow's, manifest), `vidquant uvq score --runtime tflite`, and one-line errors for bad folders."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys

import pytest
import torch

from tests.uvq.test_score import _write_clip
from vidquant.cli.main import main
from vidquant.errors import VidquantError
from vidquant.export.tflite import INSTALL_HINT, litert_available
from vidquant.models.uvq import build_uvq
from vidquant.models.uvq.quantized import example_inputs

needs_litert = pytest.mark.skipif(
    not litert_available(), reason=f"the LiteRT extra (litert-torch, ai-edge-litert) is not installed: {INSTALL_HINT}"
)
NETS = ("content_net", "distortion_net", "aggregation_net")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The three dynamic-int8 files at the official shapes, written by the CLI (FILL-v1 trunks)."""
    if not litert_available():
        pytest.skip(f"the LiteRT extra is not installed: {INSTALL_HINT}")
    folder = tmp_path_factory.mktemp("tflite")
    weights = tmp_path_factory.mktemp("no-weights")
    assert main(["uvq", "export", "--format", "tflite", "--recipe", "dynamic-int8", "--weights", str(weights),
                 "-o", str(folder / "dyn")]) == 0
    return folder / "dyn"


@needs_litert
def test_export_writes_three_files_near_the_published_sizes(exported, capsys):
    manifest = json.loads((exported / "tflite_manifest.json").read_text())
    assert manifest["recipe"] == "dynamic-int8" and "full_dynamic_recipe" in manifest["litert_torch_call"]
    published = {"content_net": 4.27, "distortion_net": 4.25, "aggregation_net": 0.11}
    for net in NETS:
        entry = manifest["files"][net]
        data = (exported / f"{net}.tflite").read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert abs(len(data) / 1e6 / published[net] - 1) <= 0.05, (net, len(data))
    assert "FILL-v1" in manifest["weights"]


@needs_litert
def test_score_with_the_tflite_folder(exported, tmp_path, capsys):
    clip = _write_clip(tmp_path / "clip.mp4", 1.0)
    assert main(["uvq", "score", str(clip), "--runtime", "tflite", "--model-dir", str(exported)]) == 2
    assert "no official UVQ 1.5 weights for content_net, distortion_net" in capsys.readouterr().err
    assert main(["uvq", "score", str(clip), "--runtime", "tflite", "--model-dir", str(exported),
                 "--allow-placeholder-weights", "--output_all_stats"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 1.0 < result["uvq1p5_score"] < 5.0 and result["placeholder_weights"] is True


@needs_litert
def test_fp32_aggregation_net_matches_pytorch(tmp_path):
    from vidquant.export.tflite import export_tflite
    from vidquant.runtime.litert_model import LiteRTModel

    net = build_uvq(None)[0].aggregation_net
    inputs = example_inputs("aggregation_net")
    path = export_tflite(net, inputs, tmp_path / "aggregation_net.tflite").path
    with torch.no_grad():
        reference = net(*inputs)
    assert torch.allclose(LiteRTModel(path)(*inputs), reference, rtol=1e-5, atol=1e-6)


def _folder_with(exported, tmp_path, net: str, content: bytes | None):
    folder = tmp_path / "broken"
    shutil.copytree(exported, folder)
    if content is None:
        (folder / f"{net}.tflite").unlink()
    else:
        (folder / f"{net}.tflite").write_bytes(content)
    return folder


@needs_litert
def test_bad_model_folders_are_one_line_errors(exported, tmp_path, capsys):
    from vidquant.export.tflite import export_tflite

    clip = _write_clip(tmp_path / "clip.mp4", 1.0)
    small = {"aggregation_net": ((1, 4, 4, 128), (1, 12, 12, 128))}
    small_file = export_tflite(build_uvq(None)[0].aggregation_net, example_inputs("aggregation_net", small),
                               tmp_path / "small.tflite").path
    cases = [
        ("distortion_net", None, "no distortion_net.tflite (write it with `vidquant uvq export --format tflite`)"),
        ("content_net", b"\x00" * 100, "content_net.tflite: not a TFLite flatbuffer"),
        ("content_net", (exported / "content_net.tflite").read_bytes()[:50000], "LiteRT cannot load it"),
        ("aggregation_net", small_file.read_bytes(), "has shape 1x8x8x128; the model expects 1x4x4x128"),
    ]
    for index, (net, content, message) in enumerate(cases):
        folder = _folder_with(exported, tmp_path / str(index), net, content)
        assert main(["uvq", "score", str(clip), "--runtime", "tflite", "--model-dir", str(folder),
                     "--allow-placeholder-weights"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("vidquant uvq: error: ") and message in err[-1], err[-1]
    assert main(["uvq", "score", str(clip), "--runtime", "tflite", "--model-dir", str(tmp_path / "nowhere")]) == 2
    assert "model folder not found" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["uvq", "export", "--format", "tflite", "--recipe", "dynamic-int8", "-o", "out"],
    ["uvq", "score", "clip.mp4", "--runtime", "tflite", "--model-dir", "."],
])
def test_without_the_extra_commands_fail_in_one_line(monkeypatch, tmp_path, capsys, command):
    monkeypatch.setitem(sys.modules, "litert_torch", None)  # what Python does for packages that are absent
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.chdir(tmp_path)
    assert main(command) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "LiteRT support needs the optional extra" in err[0] and INSTALL_HINT in err[0]
    assert not (tmp_path / "out").exists()


def test_report_litert_table_compares_dynamic_int8_with_the_published_files():
    from vidquant.models.uvq.evaluation import WHOLE, Row, tflite_cells

    def row(recipe, net, tflite_mb, **extra):
        return Row(recipe, net, 3.9, 15.2, 81, 161, 4.0, None, [], None, None, 0.0, 0.0, 0.0, 1.0, 1.0, None, None,
                   tflite_mb=tflite_mb, **extra)

    rows = [row("dynamic-int8", "content_net", 4.35), row("dynamic-int8", WHOLE, 8.801, tflite_vs_torch_rel_err=0.004,
                tflite_vs_torch_rel_err_max=0.01, tflite_vs_onnx_rel_err=0.002, tflite_score_rel_err=0.013),
            row("fp16", "content_net", 7.6), row("int4-block128", "content_net", None)]
    fp32 = {"tflite_total_mb": 29.4, "tflite_vs_torch_rel_err": 1e-5, "tflite_vs_torch_rel_err_max": 2e-5}
    lines = tflite_cells(rows, fp32)
    assert lines[0] == ("dynamic-int8", "content_net", "4.350", "4.27", "+1.9 %", "-", "-", "-")
    assert lines[1][3:] == ("8.63", "+2.0 %", "0.400 % (1.000 %)", "0.200 %", "1.300 %")
    assert lines[2][3:5] == ("-", "-")  # published sizes are of dynamic-int8 files only
    assert len(lines) == 4 and lines[3][:2] == ("fp32", WHOLE) and lines[3][5] == "0.001 % (0.002 %)"
