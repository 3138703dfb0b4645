"""INT8 streams from the command line: `codec encode --quant S` and `codec decode --quant S
[--backend torch|onnx]`, sample for sample; the wrong decoder is one line, never garbage."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.codec.codec_helpers import moving_frames
from vidquant.cli.main import main
from vidquant.models.codec import build_codec
from vidquant.deploy.bitstream import Bitstream
from vidquant.models.codec.coding.yuvfile import write_video
from vidquant.models.codec.workflow.calibrate import CalibSettings, calibrate_codec, save_student
from vidquant.models.codec.workflow.coding_models import ModelSpec, build_models
from vidquant.models.codec.workflow.entropy_check import index_mismatches


# name, recipe, codec calibrate --scope, epochs
STUDENTS = (
    ("w8a8-static", "w8a8-static", "recipe", 0),
    ("int8-lsq-w", "int8-lsq-w", "recipe", 0),
    ("w8a8-lsq-graph", "w8a8-lsq", "graph", 1),
    ("int8-lsq-w-graph", "int8-lsq-w", "graph", 0),
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A clip, graph-scope students (w8a8-static; the integer forms of w8a8-lsq, distilled one step,
    and of int8-lsq-w) and a layer-scope one (int8-lsq-w) of the shipped pair."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("int8_files")
    clip = folder / "clip_48x32.yuv"
    write_video(clip, moving_frames(4, 32, 48, seed=3))
    calibration = [("calib_64x64.yuv", moving_frames(3, 64, 64, seed=5))]
    students = {}
    for name, recipe, scope, epochs in STUDENTS:
        settings = CalibSettings(recipe=recipe, epochs=epochs, crop=32, batch=2, chains_per_sequence=2, gop_unroll=2,
                                 scope=scope)
        students[name] = folder / f"{name}.safetensors"
        save_student(calibrate_codec(build_codec("dcvc-rt-small"), calibration, settings, progress=False), settings,
                     students[name])
    return folder, clip, students


def _encode(folder, clip, student, qp: str, name: str):
    stream, recon = folder / f"{name}.bin", folder / f"{name}.recon.yuv"
    quant = ["--quant", str(student)] if student else []
    assert main(["codec", "encode", str(clip), "-o", str(stream), "--qp", qp, "--recon", str(recon), *quant]) == 0
    return stream, recon


@pytest.mark.parametrize("recipe, backend", [("w8a8-static", "onnx"), ("w8a8-static", "torch"), ("int8-lsq-w", "torch"),
                                             ("w8a8-lsq-graph", "onnx"), ("int8-lsq-w-graph", "onnx")])
def test_int8_stream_decodes_sample_for_sample(files, recipe, backend):
    folder, clip, students = files
    for qp in ("0", "63"):
        stream, recon = _encode(folder, clip, students[recipe], qp, f"{recipe}_{qp}")
        out = folder / f"{recipe}_{qp}_{backend}.yuv"
        assert main(["codec", "decode", str(stream), "-o", str(out), "--quant", str(students[recipe]),
                     "--backend", backend]) == 0
        assert out.read_bytes() == recon.read_bytes()  # I and P frames, every sample


def test_the_wrong_decoder_is_refused_in_one_line(files, capsys):
    folder, clip, students = files
    int8_stream, _ = _encode(folder, clip, students["w8a8-static"], "30", "refused_int8")
    float_stream, _ = _encode(folder, clip, None, "30", "refused_float")
    capsys.readouterr()
    cases = [
        [str(int8_stream)],  # an INT8 stream without its student
        [str(float_stream), "--quant", str(students["w8a8-static"])],  # a float stream with a student
        [str(int8_stream), "--quant", str(students["int8-lsq-w"])],  # another student
    ]
    for args in cases:
        assert main(["codec", "decode", *args, "-o", str(folder / "never.yuv")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "encoded with another decoder" in err
        assert err.count("fingerprint") == 2  # the stream's and this decoder's
    assert not (folder / "never.yuv").exists()


def test_onnx_refuses_a_layer_scope_student_and_a_float_codec(files, capsys):
    """A layer-scope student computes other numbers in ONNX Runtime: its stream would desynchronise."""
    folder, clip, students = files
    stream, _ = _encode(folder, clip, students["int8-lsq-w"], "30", "layer")
    capsys.readouterr()
    assert main(["codec", "decode", str(stream), "-o", str(folder / "x.yuv"), "--quant", str(students["int8-lsq-w"]),
                 "--backend", "onnx"]) == 2
    assert "layer-scope student" in capsys.readouterr().err
    assert main(["codec", "decode", str(stream), "-o", str(folder / "x.yuv"), "--backend", "onnx"]) == 2
    assert "give it with --quant" in capsys.readouterr().err


def test_encoding_on_onnx_runtime_writes_the_same_stream_as_on_pytorch(files):
    """`codec encode --backend onnx` runs the student's decoder networks on the integer kernels the
    decoder uses: the same bytes and reconstruction as PyTorch's emulation, and it decodes on both."""
    folder, clip, students = files
    student = students["w8a8-static"]
    torch_stream, torch_recon = _encode(folder, clip, student, "40", "enc_torch")
    onnx_stream, onnx_recon = folder / "enc_onnx.bin", folder / "enc_onnx.recon.yuv"
    assert main(["codec", "encode", str(clip), "-o", str(onnx_stream), "--qp", "40", "--recon", str(onnx_recon),
                 "--quant", str(student), "--backend", "onnx"]) == 0
    assert onnx_stream.read_bytes() == torch_stream.read_bytes()
    assert onnx_recon.read_bytes() == torch_recon.read_bytes()
    out = folder / "enc_onnx.dec.yuv"
    assert main(["codec", "decode", str(onnx_stream), "-o", str(out), "--quant", str(student)]) == 0
    assert out.read_bytes() == onnx_recon.read_bytes()


def test_encoding_on_onnx_runtime_refuses_a_layer_scope_student(files, capsys):
    folder, clip, students = files
    capsys.readouterr()
    assert main(["codec", "encode", str(clip), "-o", str(folder / "never.bin"), "--qp", "30",
                 "--quant", str(students["int8-lsq-w"]), "--backend", "onnx"]) == 2
    assert "layer-scope student" in capsys.readouterr().err
    assert not (folder / "never.bin").exists()


@pytest.mark.parametrize("name", ["w8a8-static", "w8a8-lsq-graph", "int8-lsq-w-graph"])
def test_entropy_indices_agree_between_pytorch_and_onnx_runtime(files, name):
    """Every symbol's scale index (hyper decoder -> scales -> table) is the same in PyTorch's
    integer emulation and ONNX Runtime: 0 mismatches for graph-scope students, I and P frames. A
    decoder whose hyper decoder computes other numbers is caught."""
    folder, clip, students = files
    torch_models = build_models(ModelSpec("dcvc-rt-small", quant=str(students[name]), backend="torch"))
    onnx_models = build_models(ModelSpec("dcvc-rt-small", quant=str(students[name]), backend="onnx"))
    altered = copy.deepcopy(torch_models.decoder)
    with torch.no_grad():
        next(altered.image.hyper_dec.parameters()).mul_(1.5)
    symbols = mismatches = 0
    for qp in ("0", "63"):
        stream, _ = _encode(folder, clip, students[name], qp, f"indices_{name}_{qp}")
        stream = Bitstream.from_bytes(stream.read_bytes())
        check = index_mismatches(torch_models.decoder, onnx_models.decoder, stream)
        assert len(check.per_frame) == 4
        symbols, mismatches = symbols + check.symbols, mismatches + check.mismatches
        if name == "w8a8-static":
            assert index_mismatches(torch_models.decoder, altered, stream).mismatches > 0
    assert symbols > 0 and mismatches == 0
