"""The one SQNR (vidquant.analysis.sqnr_db), used by report() per weight and by demo --tour on outputs."""

import math

import pytest

from vidquant.analysis import sqnr_db


def test_sqnr_from_summed_squares():
    assert sqnr_db(100.0, 1.0) == pytest.approx(20.0)
    assert sqnr_db(5.0, 0.0) == math.inf  # no error at all
    assert sqnr_db(0.0, 1.0) == pytest.approx(-300.0)  # an all-zero signal stays finite
