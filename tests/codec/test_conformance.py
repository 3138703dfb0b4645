"""The DCVC-RT conformance pack replayed against our networks (needs ../shared)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_file
from vidquant.errors import VidquantError
from vidquant.models.codec.net.image_model import DMCI
from vidquant.models.codec.net.video_model import DMC
from vidquant.models.codec.workflow.conformance import SECTIONS, run_conformance

PACK = "conformance/dcvc_rt"


@pytest.mark.parametrize("model_cls, keys_file", [(DMCI, "keys_image.json"), (DMC, "keys_video.json")])
def test_state_dict_matches_official_key_list(model_cls, keys_file):
    ref = json.loads(shared_file(f"{PACK}/{keys_file}").read_text())["keys"]
    ours = [(k, list(v.shape), str(v.dtype)) for k, v in model_cls().state_dict().items()]
    assert ours == [(k["key"], k["shape"], f"torch.{k['dtype']}") for k in ref]


def test_full_pack_passes():
    pack = shared_file(PACK)
    report = run_conformance(pack)
    assert [c.name for c in report.failed] == []
    names = {c.name.split(".")[0] for c in report.checks}
    assert {"weights", "module", "teacher", "e2e", "rate", "psnr", "unit"} <= names
    assert len(report.checks) > 700


def test_unknown_section_is_one_line_error():
    with pytest.raises(VidquantError, match="unknown conformance section"):
        run_conformance(shared_file(PACK), sections=("nope",))
    assert "e2e_video" in SECTIONS
