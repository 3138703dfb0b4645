"""``vidquant bd``: table from two DCVC-style result files, plot, JSON, and schema errors."""

import json

import bjontegaard
import pytest

from vidquant.cli.main import main

ANCHOR = {"A": {"s1": [(0.1, 30.0), (0.2, 33.0), (0.4, 36.0), (0.8, 39.0)],
                "s2": [(0.05, 31.0), (0.1, 33.5), (0.2, 35.8), (0.4, 38.0)]},
          "B": {"s3": [(1.0, 32.1), (2.0, 34.9), (4.0, 37.4), (8.0, 39.6)]}}
TEST = {"A": {"s1": [(0.09, 30.5), (0.17, 33.2), (0.36, 36.1), (0.75, 39.3)],
              "s2": [(0.045, 31.1), (0.09, 33.6), (0.19, 35.9), (0.37, 38.2)]},
        "B": {"s3": [(0.9, 31.2), (2.1, 34.6), (3.9, 37.8), (7.0, 40.9)]}}


def write(path, table):
    raw = {g: {s: {f"{i:03d}": {"ave_all_frame_bpp": r, "ave_all_frame_psnr": q} for i, (r, q) in enumerate(pts)}
               for s, pts in seqs.items()} for g, seqs in table.items()}
    path.write_text(json.dumps(raw))
    return str(path)


def expected(group, seq):
    (ra, qa), (rt, qt) = zip(*ANCHOR[group][seq]), zip(*TEST[group][seq])
    return bjontegaard.bd_rate(ra, qa, rt, qt, "pchip"), bjontegaard.bd_psnr(ra, qa, rt, qt, "pchip")


def test_bd_table_plot_and_json(tmp_path, capsys):
    plot, out = tmp_path / "rd.png", tmp_path / "bd.json"
    argv = ["bd", write(tmp_path / "a.json", ANCHOR), write(tmp_path / "t.json", TEST),
            "--plot", str(plot), "--json", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    rate_s1, psnr_s1 = expected("A", "s1")
    assert f"A/s1" in printed and f"{rate_s1:.3f}" in printed and f"{psnr_s1:.4f}" in printed
    table = json.loads(out.read_text())
    rows = {r["sequence"]: r["result"] for r in table["sequences"]}
    for group, seq in (("A", "s1"), ("A", "s2"), ("B", "s3")):
        assert rows[seq]["bd_rate"] == pytest.approx(expected(group, seq)[0], abs=1e-6)
    class_a = next(c for c in table["classes"] if c["name"] == "A")
    assert class_a["bd_rate"] == pytest.approx((rows["s1"]["bd_rate"] + rows["s2"]["bd_rate"]) / 2)
    assert table["overall"]["bd_rate"] == pytest.approx((class_a["bd_rate"] + rows["s3"]["bd_rate"]) / 2)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bd_reports_bad_sequence_without_hiding_it(tmp_path, capsys):
    test = {**TEST, "B": {"s3": TEST["B"]["s3"][:3]}}
    assert main(["bd", write(tmp_path / "a.json", ANCHOR), write(tmp_path / "t.json", test), "--method", "cubic"]) == 0
    printed = capsys.readouterr().out
    assert "B/s3" in printed and "error" in printed and "test B/s3: BD needs at least 4 rate points, got 3" in printed
    assert "[B]" not in printed and "[overall]" in printed


def test_bd_missing_field_is_one_line(tmp_path, capsys):
    anchor = write(tmp_path / "a.json", ANCHOR)
    raw = json.loads((tmp_path / "a.json").read_text())
    del raw["A"]["s2"]["001"]["ave_all_frame_psnr"]
    (tmp_path / "bad.json").write_text(json.dumps(raw))
    assert main(["bd", anchor, str(tmp_path / "bad.json")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"vidquant bd: error: {tmp_path / 'bad.json'}: A/s2/001: missing field 'ave_all_frame_psnr'")
