"""``vidquant export`` as a user runs it."""

import onnx

from vidquant.cli.main import main


def test_export_named_model_with_recipe(tmp_path, capsys):
    out = tmp_path / "tiny.onnx"
    assert main(["export", "tiny-convnet", "--recipe", "w8a8-lsq", "-o", str(out)]) == 0
    onnx.checker.check_model(onnx.load(str(out)))
    text = capsys.readouterr().out
    assert "calibrated on random inputs" in text and "opset 21, uint8 activations" in text


def test_export_checkpoint(tmp_path, capsys):
    assert main(["demo", "--tour", "--distill-steps", "3", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "qsci-w4.safetensors"), "-o", str(tmp_path / "q.onnx")]) == 0
    assert "LSQ+ offsets rounded to integer zero points" in capsys.readouterr().out


def test_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", "tiny-convnet", "-o", str(tmp_path / "x.onnx"), "--input-shape", "1x3xbad"]) == 2
    assert capsys.readouterr().err.strip() == "vidquant export: error: input shape '1x3xbad' is not of the form NxCxHxW"
    assert main(["export", "tiny-convnet", "--recipe", "fp16", "-o", str(tmp_path / "x.onnx"), "--input-shape", "1x4x32x32"]) == 2
    assert "input shape 1x4x32x32 does not fit the model" in capsys.readouterr().err
    assert main(["export", "tiny-cnvnet", "-o", str(tmp_path / "x.onnx")]) == 2
    assert "unknown model 'tiny-cnvnet' (did you mean tiny-convnet" in capsys.readouterr().err
