"""Decoder-side INT8 DCVC-RT: which modules are quantized, closed-loop exactness, open-loop
drift, calibration by distillation, the separation of calibration and evaluation data."""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json

import pytest
import torch
import torch.nn as nn

from tests.codec.codec_helpers import moving_frames
from vidquant.calibrate import initialize_steps
from vidquant.cli.main import main
from vidquant.deploy.bitstream import Bitstream
from vidquant.errors import VidquantError
from vidquant.models.codec import build_codec
from vidquant.models.codec.coding.pipeline import (
    EncodeSettings,
    decode_open_loop,
    decode_video,
    differing_samples,
    encode_video,
)
from vidquant.models.codec.coding.sequence import yuv420_to_tensor
from vidquant.models.codec.coding.yuvfile import write_video
from vidquant.models.codec.workflow.calibrate import (
    CalibSettings,
    calibrate_codec,
    calibration_batches,
    chain_forward,
    chain_loss,
    save_student,
    widen_recurrent_ranges,
)
from vidquant.models.codec.workflow.codec_test import check_disjoint
from vidquant.models.codec.workflow.quantize_decoder import (
    DECODER_MODULES,
    ENCODER_MODULES,
    PICTURE_LAYERS,
    calibration_record,
    decoder_storage,
    load_quantized_codec,
    quantize_decoder,
    quantized_module_names,
    recurrent_graph_quantizers,
    recurrent_layers,
)
from vidquant.quant import quant_layers
from vidquant.quant.recipes import integer_form

TINY = CalibSettings(recipe="w8a8-lsq", epochs=1, crop=32, batch=2, chains_per_sequence=2, gop_unroll=2)


@pytest.fixture(scope="module")
def float_codec():
    torch.set_num_threads(1)
    return build_codec("dcvc-rt-small")  # the packaged weights


@pytest.fixture(scope="module")
def student(float_codec):
    sequences = [("clip_a_64x64.yuv", moving_frames(4, 64, 64, seed=1))]
    return calibrate_codec(float_codec, sequences, TINY, progress=False)


def _matches(name: str, part: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, f"{part}.{glob}") for glob in globs)


def _weight_bits(codec) -> dict[str, int]:
    return {name: layer.weight_quant.spec.bits for name, layer in quant_layers(codec)}


def test_low_bit_weights_leave_the_picture_layers_at_8_bits(float_codec):
    codec = quantize_decoder(copy.deepcopy(float_codec), "w4a8-lsq")
    bits = _weight_bits(codec)
    assert {name: bits[name] for name in PICTURE_LAYERS} == dict.fromkeys(PICTURE_LAYERS, 8)
    assert set(bits[name] for name in bits if name not in PICTURE_LAYERS) == {4}
    layer = codec.get_submodule("video.recon_generation_net.head")
    assert layer.input_quant is not None and layer.input_quant.spec.bits == 8  # inputs stay the recipe's
    low = quantize_decoder(copy.deepcopy(float_codec), "w4a8-lsq", low_bit_picture_layers=True)
    assert set(_weight_bits(low).values()) == {4}
    assert set(_weight_bits(quantize_decoder(copy.deepcopy(float_codec), "w8a8-lsq")).values()) == {8}


def test_a_w4a8_student_file_keeps_its_8_bit_picture_layers(float_codec, tmp_path):
    settings = dataclasses.replace(TINY, recipe="w4a8-lsq", epochs=0, range_frames=0)
    result = calibrate_codec(float_codec, [("clip_a_64x64.yuv", moving_frames(3, 64, 64, seed=1))], settings,
                             progress=False)
    save_student(result, settings, tmp_path / "w4.safetensors")
    loaded = load_quantized_codec(copy.deepcopy(float_codec), tmp_path / "w4.safetensors")
    assert _weight_bits(loaded) == _weight_bits(result.student)
    assert _weight_bits(loaded)["video.recon_generation_net.head"] == 8


def test_exactly_the_decoder_modules_are_quantized(float_codec):
    codec = quantize_decoder(copy.deepcopy(float_codec), "int8-lsq-w")
    names = quantized_module_names(codec)
    convs = [name for name, module in float_codec.named_modules() if isinstance(module, nn.Conv2d)]
    decoder = [n for n in convs if any(_matches(n, part, globs) for part, globs in DECODER_MODULES.items())]
    encoder = [n for n in convs if any(_matches(n, part, globs) for part, globs in ENCODER_MODULES.items())]
    assert names == decoder
    assert sorted(names + encoder) == sorted(convs)  # every convolution is on one side
    assert "video.recon_generation_net.head" in names and "image.hyper_dec.2.ffn.2" in names
    assert "video.encoder.down" not in names and "image.enc.enc_2.2" not in names
    assert not any(n.startswith(("image.enc.", "image.hyper_enc.", "video.encoder.", "video.hyper_encoder.")) for n in names)


def test_closed_loop_stream_decodes_exactly_and_open_loop_drifts(float_codec, student):
    frames = moving_frames(3, 48, 64, seed=2)
    settings = EncodeSettings(30, 30, reset_interval=2)
    encoded = encode_video(student.student, frames, settings)
    decoded = list(decode_video(student.student, Bitstream.from_bytes(encoded.bitstream.to_bytes())))
    assert differing_samples(encoded.recons, decoded) == 0
    reference = encode_video(float_codec, frames, settings)
    open_loop = list(decode_open_loop(float_codec, student.student, reference.bitstream))
    assert differing_samples(reference.recons, open_loop) > 0
    same = list(decode_open_loop(float_codec, float_codec, reference.bitstream))
    assert differing_samples(reference.recons, same) == 0  # the replay itself is exact


def test_student_file_round_trips_and_records_calibration(float_codec, student, tmp_path):
    assert student.distill.steps == 1 and student.distill.skipped_steps == 0
    path = tmp_path / "student.safetensors"
    save_student(student, TINY, path)
    loaded = load_quantized_codec(copy.deepcopy(float_codec), path)
    frames = moving_frames(2, 32, 32)
    ours = encode_video(student.student, frames, EncodeSettings(10, 10))
    theirs = encode_video(loaded, frames, EncodeSettings(10, 10))
    assert ours.bitstream.to_bytes() == theirs.bitstream.to_bytes()
    record = calibration_record(path)
    assert record["calibration"] == ["clip_a_64x64.yuv"] and record["settings"]["recipe"] == "w8a8-lsq"
    assert record["recurrent_ranges"] == student.widened and record["settings"]["range_frames"] == 32
    storage = decoder_storage(loaded)
    assert storage.layers == len(quantized_module_names(loaded)) and storage.weight_ratio >= 3.9  # float16 weight steps
    with pytest.raises(VidquantError, match="other float weights"):
        load_quantized_codec(build_codec("dcvc-rt-small", synthetic=True), path)


def test_trainable_all_changes_only_the_decoder_layers_and_rate_term_counts(float_codec):
    settings = dataclasses.replace(TINY, epochs=3, trainable="all", weight_lr=1e-4, rate_weight=1e-3)
    sequences = [("clip_a_64x64.yuv", moving_frames(4, 64, 64, seed=1))]
    result = calibrate_codec(float_codec, sequences, settings, progress=False)
    teacher, student = float_codec.state_dict(), result.student.state_dict()
    layers = quantized_module_names(result.student)
    changed = [k for k, v in teacher.items() if not torch.equal(v, student[k])]
    assert changed and all(any(k.startswith(name + ".") for name in layers) for k in changed)
    assert any(k.endswith(".bias") for k in changed)  # weights and biases learned, not only steps
    again = calibrate_codec(float_codec, sequences, settings, progress=False).student.state_dict()
    assert all(torch.equal(v, again[k]) for k, v in student.items())  # the rate estimate's noise is seeded
    bits = torch.tensor([[100.0, 50.0]])
    loss = chain_loss(0.5)([torch.zeros(1), bits * 1.2], [torch.zeros(1), bits])
    assert float(loss) == pytest.approx(0.5 * (0.2 + 0.2))  # +20 % rate on each of the two frames


def test_recurrent_path_ranges_cover_long_float_chains():
    """The layers reading the reference feature get ranges that cover what the float codec feeds
    them over a whole-frame chain, wider than the crops' ranges."""
    teacher = build_codec("dcvc-rt-small")
    frames = moving_frames(6, 64, 96, seed=4)
    sequences = [("clip_96x64.yuv", frames)]
    student = quantize_decoder(copy.deepcopy(teacher), "w8a8-lsq")
    batches = calibration_batches(sequences, TINY)
    initialize_steps(student, batches, chain_forward)
    widened = widen_recurrent_ranges(teacher, student, sequences, p_frames=5)
    names = recurrent_layers(student)
    assert {n.split(".")[1] for n in names} == {"feature_adaptor_p", "feature_extractor"}
    assert widened and set(widened) <= {f"{n}.input_quant" for n in names}
    seen = {}
    hooks = [teacher.get_submodule(n).register_forward_pre_hook(
        lambda m, a, n=n: seen.setdefault(n, []).append(a[0].abs().max())) for n in names]
    with torch.no_grad():
        for qp in (0, 63):
            chain_forward(teacher, (torch.stack([yuv420_to_tensor(*f)[0] for f in frames])[None], torch.tensor([qp])))
    for hook in hooks:
        hook.remove()
    for n in names:
        assert float(max(seen[n])) <= 128.0 * float(student.get_submodule(n).input_quant.scale.detach()) * (1 + 1e-6)


def test_graph_scope_recurrent_networks_get_every_tensor_range_from_long_chains():
    """Graph scope quantizes every tensor of the temporal-context networks: each of their
    quantizers covers what the student makes there over a whole-frame chain."""
    teacher = build_codec("dcvc-rt-small")
    frames = moving_frames(6, 64, 96, seed=4)
    sequences = [("clip_96x64.yuv", frames)]
    student = quantize_decoder(copy.deepcopy(teacher), integer_form("w8a8-lsq"))
    initialize_steps(student, calibration_batches(sequences, TINY), chain_forward)
    graph = recurrent_graph_quantizers(student)
    assert graph and all(name.startswith("video.feature_extractor.graph_quant") for name in graph)
    widened = widen_recurrent_ranges(teacher, student, sequences, p_frames=5)
    assert set(widened) & set(graph)
    seen = {}
    hooks = [student.get_submodule(n).register_forward_pre_hook(
        lambda m, a, n=n: seen.setdefault(n, []).append(a[0].abs().max())) for n in graph]
    with torch.no_grad():
        chain_forward(student, (torch.stack([yuv420_to_tensor(*f)[0] for f in frames])[None], torch.tensor([63])))
    for hook in hooks:
        hook.remove()
    # the ranges were taken with these quantizers passing values through; quantizing, the chain's
    # recurrent state moves a little (rounding noise fed back frame to frame): a few % of slack
    for n in graph:
        assert float(max(seen[n])) <= 1.05 * 128 * float(student.get_submodule(n).scale.detach())


def test_recurrent_ranges_stay_fixed_while_distilling(float_codec):
    sequences = [("clip_a_64x64.yuv", moving_frames(6, 64, 64, seed=1))]
    trained = calibrate_codec(float_codec, sequences, TINY, progress=False)
    observed = calibrate_codec(float_codec, sequences, dataclasses.replace(TINY, epochs=0), progress=False)
    assert trained.widened and trained.widened == observed.widened
    steps = {n: (trained.student.get_submodule(n).scale, observed.student.get_submodule(n).scale) for n in trained.widened}
    assert all(torch.equal(a, b) for a, b in steps.values())
    other = [n for n, layer in quant_layers(trained.student) if layer.input_quant is not None
             and f"{n}.input_quant" not in trained.widened]
    assert any(not torch.equal(trained.student.get_submodule(n).input_quant.scale,
                               observed.student.get_submodule(n).input_quant.scale) for n in other)
    off = calibrate_codec(float_codec, sequences, dataclasses.replace(TINY, epochs=0, range_frames=0), progress=False)
    assert off.widened == []


def test_single_p_frame_chains_still_get_a_range_for_the_stored_feature(float_codec):
    """With I + 1 P chains no calibration batch reaches the adaptor of the stored feature (it
    runs from the second P-frame on); the long chains give it its range."""
    sequences = [("clip_a_64x64.yuv", moving_frames(4, 64, 64, seed=1))]
    settings = dataclasses.replace(TINY, epochs=0, gop_unroll=1)
    result = calibrate_codec(float_codec, sequences, settings, progress=False)
    assert "video.feature_adaptor_p.input_quant" in result.widened
    assert result.student.get_submodule("video.feature_adaptor_p.input_quant").is_initialized


def test_overlapping_content_is_refused():
    with pytest.raises(VidquantError, match="foreman_presenter_MR2_MW_A.264 ~ foreman_352x288_8f.yuv"):
        check_disjoint(["park_ref_160x90_48f.yuv", "foreman_presenter_MR2_MW_A.264"], ["foreman_352x288_8f.yuv"])
    check_disjoint(["container_qcif_LS_SVA_D.264"], ["foreman_352x288_8f.yuv", "cars_320x240_30f.yuv"])


def _config(tmp_path, name, seed):
    write_video(tmp_path / name, moving_frames(4, 32, 48, seed=seed))
    sequence = {"width": 48, "height": 32, "frames": 4, "intra_period": -1}
    config = {"root_path": str(tmp_path), "test_classes": {"c": {"base_path": "", "sequences": {name: sequence}}}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config))
    return path


def test_calibrate_then_test_cli(tmp_path, capsys):
    calib, test = _config(tmp_path, "calib_48x32.yuv", 1), _config(tmp_path, "held_48x32.yuv", 2)
    student = tmp_path / "s.safetensors"
    args = ["codec", "calibrate", "--recipe", "int8-lsq-w", "--calib_config", str(calib), "--test_config", str(test),
            "--epochs", "1", "--crop", "32", "--chains", "2", "--batch", "2", "--gop_unroll", "2", "-o", str(student)]
    assert main(args) == 0
    assert "decoder (" in capsys.readouterr().out
    out = tmp_path / "int8.json"
    assert main(["codec", "test", "--test_config", str(test), "--output_path", str(out), "--rate_num", "2",
                 "--quant", str(student)]) == 0
    point = json.loads(out.read_text())["c"]["held_48x32.yuv"]["000"]
    assert point["decoder_mismatch_samples"] == 0 and point["closed_loop"] is True
    assert point["calibration"] == ["calib_48x32.yuv"] and point["recipe"] == "int8-lsq-w"
    assert point["backend"] == "pytorch"
    onnx_out = tmp_path / "int8_onnx.json"
    assert main(["codec", "test", "--test_config", str(test), "--output_path", str(onnx_out), "--rate_num", "1",
                 "--quant", str(student), "--backend", "onnx"]) == 0
    onnx_point = json.loads(onnx_out.read_text())["c"]["held_48x32.yuv"]["000"]
    assert onnx_point["backend"] == "onnxruntime" and onnx_point["decoder_mismatch_samples"] == 0
    assert abs(onnx_point["ave_all_frame_psnr"] - point["ave_all_frame_psnr"]) < 0.1
    assert main(["codec", "test", "--test_config", str(calib), "--output_path", str(out), "--quant", str(student)]) == 2
    assert "overlap" in capsys.readouterr().err


def test_drift_measurement_compares_three_codings(float_codec, student):
    from vidquant.models.codec.workflow.drift import measure_drift

    result = measure_drift(float_codec, student.student, moving_frames(3, 32, 48, seed=3), EncodeSettings(20, 20))
    assert result.frame_type == ["I", "P", "P"] and len(result.bytes_closed) == 3
    assert result.closed_mismatch_samples == 0 and result.open_mismatch_samples > 0
    summary = result.summary()
    gaps = result.gaps(result.psnr_closed)
    assert summary["closed_loop"]["drift_db"] == pytest.approx(gaps[2] - gaps[1])


def test_colour_augmented_calibration_changes_only_the_chroma_of_the_same_crops():
    sequences = [("clip_a_64x64.yuv", moving_frames(6, 64, 64, seed=1))]
    one_chain = dataclasses.replace(TINY, chains_per_sequence=1, batch=1, colour_aug=1.0)
    first = calibration_batches(sequences, dataclasses.replace(one_chain, colour_aug=0.0))[0][0]
    shifted = calibration_batches(sequences, one_chain)[0][0]
    assert torch.equal(first[:, :, 0], shifted[:, :, 0])
    assert not torch.equal(first[:, :, 1:], shifted[:, :, 1:])
    with pytest.raises(VidquantError, match="colour_aug"):
        dataclasses.replace(TINY, colour_aug=1.5)
