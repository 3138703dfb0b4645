"""Dataset configuration and codec result files: valid files load, bad ones name what is missing."""

import copy
import json

import pytest

from vidquant.errors import VidquantError
from vidquant.io import load_dataset_config, load_results, parse_dataset_config, parse_results, save_results


def config(root):
    return {
        "root_path": str(root),
        "test_classes": {
            "HEVC_D": {"test": 1, "base_path": "HEVC_D", "src_type": "yuv420",
                       "sequences": {"Bus_416x240_30.yuv": {"width": 416, "height": 240, "frames": 32,
                                                            "intra_period": 32}}},
            "off": {"test": 0, "base_path": "nowhere", "src_type": "png",
                    "sequences": {"gone": {"width": 64, "height": 64, "frames": 3, "intra_period": -1}}},
        },
    }


def test_dataset_config_loads_and_resolves_paths(tmp_path):
    (tmp_path / "HEVC_D").mkdir()
    (tmp_path / "HEVC_D" / "Bus_416x240_30.yuv").write_bytes(b"")
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config(tmp_path)))
    cfg = load_dataset_config(path)
    [(test_class, seq)] = cfg.enabled()
    assert test_class.name == "HEVC_D" and test_class.src_type == "yuv420"
    assert (seq.width, seq.height, seq.frames, seq.intra_period) == (416, 240, 32, 32)
    assert seq.path == tmp_path / "HEVC_D" / "Bus_416x240_30.yuv"
    assert len(cfg.classes) == 2 and not cfg.classes[1].test


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.pop("root_path"), "cfg: missing field 'root_path'"),
    (lambda c: c["test_classes"]["HEVC_D"].pop("sequences"), "cfg: HEVC_D: missing field 'sequences'"),
    (lambda c: c["test_classes"]["HEVC_D"].update(base_path=3), "cfg: HEVC_D: field 'base_path' must be a str, got 3"),
    (lambda c: c["test_classes"]["HEVC_D"]["sequences"]["Bus_416x240_30.yuv"].pop("frames"),
     "cfg: HEVC_D/Bus_416x240_30.yuv: missing field 'frames'"),
    (lambda c: c["test_classes"]["HEVC_D"]["sequences"]["Bus_416x240_30.yuv"].update(width="416"),
     "cfg: HEVC_D/Bus_416x240_30.yuv: field 'width' must be an integer, got '416'"),
    (lambda c: c["test_classes"]["HEVC_D"].update(src_type="rgb"),
     "cfg: HEVC_D: src_type 'rgb' is not one of yuv420, png"),
])
def test_dataset_config_errors_name_the_field(tmp_path, edit, message):
    raw = config(tmp_path)
    edit(raw)
    with pytest.raises(VidquantError) as info:
        parse_dataset_config(raw, "cfg", check_files=False)
    assert str(info.value) == message


def test_dataset_config_names_missing_sequence_file(tmp_path):
    with pytest.raises(VidquantError) as info:
        parse_dataset_config(config(tmp_path), "cfg")
    assert str(info.value) == (f"cfg: HEVC_D/Bus_416x240_30.yuv: file not found: "
                               f"{tmp_path / 'HEVC_D' / 'Bus_416x240_30.yuv'}")



def test_dataset_config_defaults_follow_dcvc(tmp_path):
    """Optional fields: root_path is the config's folder, test 1, base_path "", src_type yuv420,
    intra_period -1; a raw sequence named without .yuv gets the extension."""
    (tmp_path / "clip_48x32.yuv").write_bytes(b"")
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"test_classes": {"c": {"sequences": {
        "clip_48x32": {"width": 48, "height": 32, "frames": 3}}}}}))
    [(test_class, seq)] = load_dataset_config(path).enabled()
    assert (test_class.base_path, test_class.src_type, test_class.test) == ("", "yuv420", True)
    assert seq.intra_period == -1 and seq.path == tmp_path / "clip_48x32.yuv"


def test_dataset_config_must_select_a_sequence(tmp_path):
    raw = config(tmp_path)
    raw["test_classes"]["HEVC_D"]["test"] = 0
    with pytest.raises(VidquantError) as info:
        parse_dataset_config(raw, "cfg", check_files=False)
    assert str(info.value) == "cfg: selects no sequence (no class with test: 1 lists sequences)"

RESULTS = {
    "HEVC_D": {
        "Bus_416x240_30.yuv": {
            f"{i:03d}": {"ave_all_frame_bpp": bpp, "ave_all_frame_psnr": psnr, "ave_all_frame_psnr_y": psnr - 1,
                         "frame_pixel_num": 99840, "ds_name": "HEVC_D"}
            for i, (bpp, psnr) in enumerate([(0.02, 30.0), (0.04, 32.0), (0.08, 34.5), (0.16, 37.0)])
        }
    }
}


def test_results_round_trip_and_curves(tmp_path):
    results = parse_results(RESULTS, "r.json")
    rates, quality = results.curve("HEVC_D", "Bus_416x240_30.yuv")
    assert rates == [0.02, 0.04, 0.08, 0.16] and quality == [30.0, 32.0, 34.5, 37.0]
    assert results.curve("HEVC_D", "Bus_416x240_30.yuv", "psnr_y")[1] == [29.0, 31.0, 33.5, 36.0]
    point = results.points["HEVC_D"]["Bus_416x240_30.yuv"]["001"]
    assert point.frame_pixel_num == 99840 and point.extra == {"ds_name": "HEVC_D"}
    save_results(results, tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text()) == RESULTS
    assert load_results(tmp_path / "out.json").points == results.points


def test_results_errors_name_the_rate_point_and_field():
    raw = copy.deepcopy(RESULTS)
    del raw["HEVC_D"]["Bus_416x240_30.yuv"]["002"]["ave_all_frame_bpp"]
    with pytest.raises(VidquantError) as info:
        parse_results(raw, "r.json")
    assert str(info.value) == "r.json: HEVC_D/Bus_416x240_30.yuv/002: missing field 'ave_all_frame_bpp'"
    raw = copy.deepcopy(RESULTS)
    raw["HEVC_D"]["Bus_416x240_30.yuv"]["000"]["ave_all_frame_psnr"] = "30"
    with pytest.raises(VidquantError) as info:
        parse_results(raw, "r.json")
    assert str(info.value) == "r.json: HEVC_D/Bus_416x240_30.yuv/000: field 'ave_all_frame_psnr' must be a finite number, got '30'"
    with pytest.raises(VidquantError) as info:
        parse_results(RESULTS, "r.json").curve("HEVC_D", "Bus_416x240_30.yuv", "msssim")
    assert str(info.value) == "r.json: HEVC_D/Bus_416x240_30.yuv: rate point has no 'ave_all_frame_msssim'"


def test_results_file_errors(tmp_path):
    with pytest.raises(VidquantError, match="no such file"):
        load_results(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(VidquantError, match=r"bad.json: not valid JSON"):
        load_results(tmp_path / "bad.json")
    with pytest.raises(VidquantError) as info:
        parse_results({"HEVC_D": {}}, "r.json")
    assert str(info.value) == "r.json: HEVC_D: expected a non-empty object of sequences"
