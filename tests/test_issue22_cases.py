"""Issue #22 ("bad input never becomes a good-looking number"): where each numbered case of the
issue is checked. Every case gives a one-line error (``vidquant ...: error: ...``, exit 2) or a
correct result; ``test_the_index_names_tests_that_exist`` keeps this table true.

====  =====================================================  ==========================================================================
case  what went wrong                                        tests
====  =====================================================  ==========================================================================
1     NaN/Inf samples scored 100 dB; bare NaN in JSON        tests/metrics/test_metrics_psnr_ssim.py::test_non_finite_samples_or_mse_are_errors_not_the_cap
                                                             tests/sci/test_sci_train_eval.py::test_nan_or_inf_samples_are_an_error_never_a_capped_psnr
                                                             tests/test_issue22_cases.py::test_case_1_sci_test_with_nan_measurements_is_one_line_and_writes_no_json
2     10-bit / 4:4:4 raw and containers read wrongly         tests/cli/test_compare_cli.py::test_a_format_named_in_the_file_is_read_as_that_format
                                                             tests/cli/test_compare_cli.py::test_yuv444_pairs_give_native_resolution_chroma_psnr
                                                             tests/cli/test_compare_cli.py::test_a_named_format_or_size_that_is_unsupported_or_contradicted_is_an_error
                                                             tests/cli/test_compare_cli.py::test_converted_chroma_is_said_in_the_output
3     codec encode coded 10-bit / 4:4:4 as garbage           tests/codec/test_cli.py::test_encode_converts_10_bit_and_444_input_to_8_bit_420_with_a_note
4     header size edit decoded cropped                       tests/codec/test_bitstream.py::test_a_header_edit_is_refused_even_within_the_padding
                                                             tests/codec/test_forged_streams.py::test_a_forged_smaller_size_is_refused_not_decoded_cropped
5     decode -o x.mp4 wrote raw I420                         tests/codec/test_cli.py::test_decode_refuses_an_output_it_cannot_write_before_decoding
                                                             tests/codec/test_cli.py::test_decode_writes_lossless_mkv
6     codec test with unreadable weights wrote {}            tests/codec/test_cli.py::test_test_with_unreadable_weights_is_one_error_and_writes_nothing
7     uvq score on placeholder weights looked official       tests/uvq/test_score.py::test_placeholder_weights_are_refused_unless_allowed
8     recipe "bits": 8.5 accepted                            tests/quant/test_recipe_validation.py::test_a_wrong_type_is_one_line_naming_the_field
9     a forged size made the decoder allocate GBs            tests/codec/test_bitstream.py::test_a_claimed_size_out_of_bounds_is_refused_before_any_allocation
                                                             tests/codec/test_forged_streams.py::test_a_forged_large_size_fails_before_any_picture_sized_allocation
10    tracebacks from untrusted or corrupt inputs            tests/codec/test_train.py::test_a_corrupt_or_untrusted_state_is_one_line_error
                                                             tests/test_issue22_cases.py::test_case_10_a_corrupt_sci_train_state_is_one_line
                                                             tests/sci/test_sci_train_eval.py::test_an_unreadable_init_or_mask_is_one_line_and_leaves_no_run_folder
                                                             tests/test_issue22_cases.py::test_case_10_recipe_bits_of_the_wrong_type_through_the_cli
                                                             tests/codec/test_cli.py::test_encode_checks_its_outputs_before_encoding
                                                             tests/test_issue22_cases.py::test_case_10_encode_size_0x0_is_one_line
                                                             tests/uvq/test_convert.py::test_pickled_code_is_refused
11    ../shared defaults depended on the current folder      tests/io/test_shared_data.py::test_the_codec_pack_default_does_not_depend_on_the_current_directory
                                                             tests/io/test_shared_data.py::test_a_missing_folder_is_not_found_in_one_line
12    sci test: no --mask, no measurement-only mode          tests/sci/test_sci_train_eval.py::test_meas_only_real_capture_with_a_separate_mask
13    "weight": "int8" and a folder as bitstream             tests/quant/test_recipe_validation.py::test_a_wrong_type_is_one_line_naming_the_field
                                                             tests/codec/test_cli.py::test_a_folder_given_as_bitstream_is_named_a_folder
all   fuzzing (streams, Y4M, raw, recipes, NaN frames)       tests/test_fuzz.py::test_bad_input_is_a_clean_error_never_a_traceback
====  =====================================================  ==========================================================================
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.sci.test_sci_train_eval import TINY, _settings, clip_dir  # noqa: F401 - a fixture
from vidquant.cli.main import main
from vidquant.errors import VidquantError

ROOT = Path(__file__).resolve().parents[1]


def test_the_index_names_tests_that_exist():
    named = re.findall(r"(tests/\S+\.py)::(\w+)", __doc__)
    cases = re.findall(r"^(\d+|all)\s{2,}", __doc__, re.M)
    assert cases == [str(n) for n in range(1, 14)] + ["all"]
    for path, name in named:
        text = (ROOT / path).read_text()
        assert re.search(rf"^def {name}\(", text, re.M), f"{path}::{name} does not exist"


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith(f"vidquant {command}: error: "), err
    return err[-1]


def test_case_1_sci_test_with_nan_measurements_is_one_line_and_writes_no_json(tmp_path, capsys):
    """An SCI measurement file with NaN pixels printed "PSNR 100.00 dB SSIM nan" and bare NaN JSON."""
    from scipy.io import savemat

    from vidquant.models.sci import EfficientSCI, SCIConfig
    from vidquant.models.sci.checkpoint import save_weights

    rng = np.random.default_rng(0)
    orig = rng.integers(0, 255, (32, 32, 8)).astype(np.uint8)
    mask = (rng.random((32, 32, 8)) < 0.5).astype(np.uint8)
    meas = (orig.astype(np.float64) * mask).sum(axis=-1, keepdims=True)
    meas[3, 4, 0] = np.nan
    savemat(tmp_path / "bad.mat", {"orig": orig, "meas": meas, "mask": mask})
    save_weights(tmp_path / "m.safetensors", EfficientSCI(SCIConfig(**TINY)))
    out = tmp_path / "r.json"
    assert main(["sci", "test", "--ckpt", str(tmp_path / "m.safetensors"), "--data", str(tmp_path / "bad.mat"),
                 "--json", str(out)]) == 2
    assert "'meas' holds NaN or Inf samples" in _one_line_error(capsys, "sci")
    assert not out.exists()


def test_case_10_a_corrupt_sci_train_state_is_one_line(clip_dir, tmp_path):  # noqa: F811
    """Resuming a corrupt train_state.pt (sci train) ended in a traceback."""
    from vidquant.models.sci.train import STATE, train

    out = tmp_path / "run"
    train(_settings(clip_dir, out, 1))
    (out / STATE).write_bytes(b"not a torch file")
    with pytest.raises(VidquantError) as info:
        train(_settings(clip_dir, out, 2))
    assert str(info.value).count("\n") == 0 and STATE in str(info.value)


@pytest.mark.parametrize("bits, words", [("8", 'bits must be an integer, got "8"'), (None, "bits must be an integer, got null")])
def test_case_10_recipe_bits_of_the_wrong_type_through_the_cli(tmp_path, capsys, bits, words):
    """Recipe bits as a string or null ended in a traceback in `recipes` and `export`."""
    from vidquant.quant.recipes import RECIPES

    data = RECIPES.get("w8a8-lsq").to_dict()
    data["name"], data["weight"]["bits"] = "mine", bits
    recipe = tmp_path / "mine.json"
    recipe.write_text(json.dumps(data))
    assert main(["recipes", str(recipe)]) == 2
    assert words in _one_line_error(capsys, "recipes")
    assert main(["export", "tiny-convnet", "--recipe", str(recipe), "-o", str(tmp_path / "x.onnx")]) == 2
    assert words in _one_line_error(capsys, "export")
    assert not (tmp_path / "x.onnx").exists()


def test_case_10_encode_size_0x0_is_one_line(tmp_path, capsys):
    """`codec encode --size 0x0` raised ZeroDivisionError."""
    clip = tmp_path / "clip.yuv"
    clip.write_bytes(bytes(48 * 32 * 3 // 2))
    assert main(["codec", "encode", str(clip), "-o", str(tmp_path / "s.bin"), "--qp", "5", "--size", "0x0",
                 "--synthetic"]) == 2
    assert "size '0x0' is not WIDTHxHEIGHT" in _one_line_error(capsys, "codec")
