"""The decoder bundle (`codec export-decoder`, `codec decode --bundle`): INT8 streams decode without
PyTorch, sample for sample as the encoder reconstructed them; another decoder's stream, or a size
without graphs, is refused in one line."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.codec.codec_helpers import moving_frames
from vidquant.cli.main import main
from vidquant.deploy.entropy import SCALE_MAX, SCALE_MIN, scale_index
from vidquant.models.codec import build_codec
from vidquant.models.codec.coding.yuvfile import write_video
from vidquant.models.codec.workflow.calibrate import CalibSettings, calibrate_codec, save_student

SRC = Path(__file__).resolve().parents[2] / "src"

# Run the CLI in a fresh interpreter where importing torch fails (and prove nothing tried to).
NO_TORCH = """
import sys
sys.modules['torch'] = None  # 'import torch' (and torch.*) raises ImportError from here on
from vidquant.cli.main import main
rc = main(sys.argv[1:])
loaded = [name for name in sys.modules if name.startswith(('torch', 'vidquant.models', 'scipy'))]
assert loaded == ['torch'], loaded
sys.exit(rc)
"""


def _no_torch(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A clip, a graph-scope (w8a8-static) student of the shipped pair and its bundle for 48x32
    (46x30 pads to the same graphs) and 64x48."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("bundle")
    clip = folder / "clip_48x32.yuv"
    write_video(clip, moving_frames(5, 32, 48, seed=3))
    calibration = [("calib_64x64.yuv", moving_frames(3, 64, 64, seed=5))]
    settings = CalibSettings(recipe="w8a8-static", epochs=0, crop=32, batch=2, chains_per_sequence=2, gop_unroll=2)
    student = folder / "w8a8-static.safetensors"
    save_student(calibrate_codec(build_codec("dcvc-rt-small"), calibration, settings, progress=False), settings, student)
    assert main(["codec", "export-decoder", "--quant", str(student), "-o", str(folder / "b"), "--size", "48x32",
                 "46x30", "64x48"]) == 0
    return folder, clip, student, folder / "b"


def _encode(folder: Path, clip: Path, student: Path | None, qp: str, name: str, *extra: str) -> tuple[Path, Path]:
    stream, recon = folder / f"{name}.bin", folder / f"{name}.recon.yuv"
    quant = ["--quant", str(student)] if student else []
    assert main(["codec", "encode", str(clip), "-o", str(stream), "--qp", qp, "--recon", str(recon), *quant, *extra]) == 0
    return stream, recon


@pytest.fixture(scope="module")
def portable(bundle, tmp_path_factory):
    """The bundle as another machine sees it: its pre-optimized graphs are not for this one, so
    the decoder opens the portable Q/DQ graphs and lets ONNX Runtime optimize them."""
    from vidquant.deploy.bundle import BundleDecoder

    copy = tmp_path_factory.mktemp("portable") / "b"
    shutil.copytree(bundle[3], copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["optimized_for"]["onnxruntime"] = "0.0"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert not BundleDecoder(copy).pre_optimized
    assert BundleDecoder(bundle[3]).pre_optimized or not Path("/proc/cpuinfo").exists()
    return copy


@pytest.mark.parametrize("graphs", ["pre-optimized", "portable"])
@pytest.mark.parametrize("qp", ["0", "63"])
def test_a_bundle_decodes_int8_streams_without_torch_sample_for_sample(bundle, portable, qp, graphs):
    folder, clip, student, directory = bundle
    # I, P from the picture, P from the feature, then a reset (picture regenerated from the feature), P
    stream, recon = folder / f"int8_{qp}.bin", folder / f"int8_{qp}.recon.yuv"
    if not stream.exists():
        _encode(folder, clip, student, qp, f"int8_{qp}", "--reset_interval", "2")
    out = folder / f"int8_{qp}.{graphs}.yuv"
    directory = directory if graphs == "pre-optimized" else portable
    result = _no_torch("codec", "decode", str(stream), "-o", str(out), "--bundle", str(directory))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == recon.read_bytes()  # every sample of the 5 frames


def test_the_manifest_names_the_student_as_its_streams_do(bundle):
    folder, clip, student, directory = bundle
    stream, _ = _encode(folder, clip, student, "30", "manifest")
    from vidquant.deploy.bitstream import Bitstream

    header = Bitstream.read(stream)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert (manifest["preset"], manifest["decoder"], manifest["fingerprint"]) == (
        header.preset, header.decoder, header.fingerprint.hex())
    assert list(manifest["sizes"]) == ["48x32", "64x48"]
    graphs = manifest["sizes"]["48x32"]
    assert graphs["padded"] == [32, 48] and graphs["pictures"] == ["48x32", "46x30"]
    assert len(graphs["graphs"]) == len(graphs["optimized"]) == 17
    assert set(manifest["files"]) == {p.relative_to(directory).as_posix() for p in directory.rglob("*")
                                      if p.is_file() and p.name != "manifest.json"}


def test_a_bundle_refuses_another_decoders_stream_and_other_sizes_in_one_line(bundle, tmp_path):
    folder, clip, student, directory = bundle
    float_stream, _ = _encode(folder, clip, None, "30", "float")
    result = _no_torch("codec", "decode", str(float_stream), "-o", str(tmp_path / "x.yuv"), "--bundle", str(directory))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "encoded with another decoder" in result.stderr and result.stderr.count("fingerprint") == 2
    big = tmp_path / "clip_80x48.yuv"
    write_video(big, moving_frames(1, 48, 80, seed=1))
    other_size, _ = _encode(tmp_path, big, student, "30", "big")
    result = _no_torch("codec", "decode", str(other_size), "-o", str(tmp_path / "x.yuv"), "--bundle", str(directory))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "80x48" in result.stderr and "48x32, 64x48" in result.stderr
    assert not (tmp_path / "x.yuv").exists()


def test_one_bundle_decodes_every_size_it_was_exported_for(bundle, tmp_path):
    from vidquant.deploy.bundle import BundleDecoder

    folder, _, student, directory = bundle
    decoder = BundleDecoder(directory)
    for width, height in ((64, 48), (46, 30)):
        clip = tmp_path / f"clip_{width}x{height}.yuv"
        write_video(clip, moving_frames(3, height, width, seed=2))
        stream, recon = _encode(tmp_path, clip, student, "40", f"s{width}")
        out = tmp_path / f"s{width}.bundle.yuv"
        decoder.decode_file(stream, out)
        assert out.read_bytes() == recon.read_bytes()


def test_a_corrupted_bundle_file_is_refused(bundle, tmp_path):
    _, _, _, directory = bundle
    copy = tmp_path / "b"
    shutil.copytree(directory, copy)
    tables = copy / "tables.npz"
    data = bytearray(tables.read_bytes())
    data[len(data) // 2] ^= 1  # one bit inside the arrays
    tables.write_bytes(bytes(data))
    stream = tmp_path / "none.bin"
    result = _no_torch("codec", "decode", str(stream), "-o", str(tmp_path / "x.yuv"), "--bundle", str(copy))
    assert result.returncode == 2 and "corrupted (sha256 mismatch)" in result.stderr


def test_export_refuses_a_layer_scope_student(tmp_path, capsys):
    settings = CalibSettings(recipe="int8-lsq-w", epochs=0, crop=32, batch=2, chains_per_sequence=1, gop_unroll=1)
    student = tmp_path / "lsq.safetensors"
    calibration = [("calib_64x64.yuv", moving_frames(2, 64, 64, seed=5))]
    save_student(calibrate_codec(build_codec("dcvc-rt-small"), calibration, settings, progress=False), settings, student)
    capsys.readouterr()
    assert main(["codec", "export-decoder", "--quant", str(student), "-o", str(tmp_path / "b"), "--size", "48x32"]) == 2
    assert "layer-scope student" in capsys.readouterr().err


def test_the_scale_index_equals_pytorchs_float32_formula_on_every_scale_of_the_table():
    """The index of each float32 scale in [SCALE_MIN, SCALE_MAX] (and just outside): the numpy
    bounds against the formula the codec computed with torch.log before (on this CPU)."""
    log_min = math.log(SCALE_MIN)
    inv_step = 1.0 / ((math.log(SCALE_MAX) - log_min) / 127)
    low = int(np.array([SCALE_MIN], np.float32).view(np.int32)[0]) - 8
    high = int(np.array([SCALE_MAX], np.float32).view(np.int32)[0]) + 8
    mismatches = 0
    for chunk in np.array_split(np.arange(low, high + 1, dtype=np.int32), 64):
        scales = chunk.view(np.float32)
        torch_index = ((torch.log(torch.from_numpy(scales).clamp(SCALE_MIN, SCALE_MAX)) - log_min) * inv_step).to(torch.uint8)
        mismatches += int((torch_index.numpy() != scale_index(scales)).sum())
    assert mismatches == 0
