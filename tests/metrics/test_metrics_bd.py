"""BD-rate / BD-PSNR against the bjontegaard package, bad curves, and per-class tables."""

import warnings

import bjontegaard
import pytest

from vidquant.errors import VidquantError
from vidquant.metrics import RDCurve, bd_table, bjontegaard as bd

PAIRS = {
    "better": ([0.1, 0.2, 0.4, 0.8], [30.0, 33.0, 36.0, 39.0], [0.09, 0.17, 0.36, 0.75], [30.5, 33.2, 36.1, 39.3]),
    # The test curve is worse at low rates and better at high rates: the curves cross.
    "crossing": ([1000, 2000, 4000, 8000], [32.1, 34.9, 37.4, 39.6], [900, 2100, 3900, 7000],
                 [31.2, 34.6, 37.8, 40.9]),
    "five_points_unsorted": ([0.8, 0.05, 0.4, 0.1, 0.2], [38.2, 29.0, 35.5, 31.1, 33.0],
                             [0.5, 0.06, 0.12, 0.26, 0.9], [35.0, 28.6, 30.9, 32.8, 37.9]),
    "real_vtm_like": ([0.057281, 0.022714, 0.013001, 0.007820], [40.086706, 39.693770, 39.320024, 38.831207],
                      [0.050000, 0.020000, 0.011000, 0.007000], [40.01, 39.60, 39.25, 38.70]),
}


@pytest.mark.parametrize("method", ["pchip", "cubic"])
@pytest.mark.parametrize("name", list(PAIRS))
def test_matches_bjontegaard_package(name, method):
    ra, qa, rt, qt = PAIRS[name]
    result = bd(RDCurve.of(ra, qa), RDCurve.of(rt, qt), method)
    # The package keeps points in the given order; feed it sorted points as the convention requires.
    sa, st = sorted(zip(ra, qa)), sorted(zip(rt, qt))
    args = ([p[0] for p in sa], [p[1] for p in sa], [p[0] for p in st], [p[1] for p in st], method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_rate, expected_psnr = bjontegaard.bd_rate(*args), bjontegaard.bd_psnr(*args)
    assert result.bd_rate == pytest.approx(expected_rate, abs=1e-6)
    assert result.bd_psnr == pytest.approx(expected_psnr, abs=1e-6)


def test_crossing_curves_give_a_small_mixed_delta():
    ra, qa, rt, qt = PAIRS["crossing"]
    result = bd(RDCurve.of(ra, qa), RDCurve.of(rt, qt))
    assert abs(result.bd_rate) < 10 and not result.flags


@pytest.mark.parametrize("anchor, message", [
    (RDCurve.of([1, 2, 3], [30, 31, 32], "a"), "a: BD needs at least 4 rate points, got 3"),
    (RDCurve.of([1, 2, 3, 4], [30, 32, 31, 33], "a"),
     "a: not monotonic: rate 2 -> 3 gives quality 32 -> 31 (both must increase)"),
    (RDCurve.of([1, 2, 2, 4], [30, 31, 32, 33], "a"),
     "a: not monotonic: rate 2 -> 2 gives quality 31 -> 32 (both must increase)"),
    (RDCurve.of([1, 2, 3, 4], [40, 41, 42, 43], "a"),
     "curves do not overlap in quality: anchor 40..43, test 30..33"),
    (RDCurve.of([0, 2, 3, 4], [30, 31, 32, 33], "a"), "a: rates must be positive and all values finite"),
])
def test_bad_curves_raise(anchor, message):
    test = RDCurve.of([1, 2, 3, 4], [30, 31, 32, 33], "t")
    with pytest.raises(VidquantError) as info:
        bd(anchor, test)
    assert str(info.value) == message


def test_thin_overlap_is_flagged():
    result = bd(RDCurve.of([1, 2, 4, 8], [30, 32, 34, 36]), RDCurve.of([2, 3, 5, 9], [34.5, 36, 38, 40]))
    # quality: 34.5..36 of 30..40 is 15 %; log rate: log10(2)..log10(8) of 0..log10(9) is 63 %
    assert result.flags == ("thin quality overlap: 15% of the joint range (< 75%)",
                            "thin rate overlap: 63% of the joint range (< 75%)")


def test_unknown_method():
    curve = RDCurve.of([1, 2, 3, 4], [30, 31, 32, 33])
    with pytest.raises(VidquantError, match=r"^unknown BD interpolation 'akima' \(valid: pchip, cubic\)$"):
        bd(curve, curve, "akima")


def test_table_averages_sequences_then_classes():
    def curves(scale):
        return {name: RDCurve.of([r * scale for r in PAIRS[name][0]], PAIRS[name][1]) for name in PAIRS}

    anchor = {"A": curves(1.0), "B": {"only": RDCurve.of([1, 2, 4, 8], [30, 32, 34, 36])}}
    test = {"A": {**curves(0.9), "extra": RDCurve.of([1, 2, 3, 4], [1, 2, 3, 4])},
            "B": {"only": RDCurve.of([1, 2, 4, 8], [30, 32, 31, 36])}}
    table = bd_table(anchor, test, "pchip")
    rows = {r.sequence: r for r in table.sequences}
    assert rows["better"].result.bd_rate == pytest.approx(-10.0)  # 0.9x rate at equal quality
    assert rows["only"].result is None and "not monotonic" in rows["only"].error
    class_a, = (c for c in table.classes if c.name == "A")
    assert class_a.count == 4 and class_a.bd_rate == pytest.approx(-10.0)
    assert [c.name for c in table.classes] == ["A"]  # B has no computable sequence
    assert table.overall.bd_rate == pytest.approx(-10.0) and table.unmatched == ("A/extra",)
