"""The CI part of issue #22's fuzzing campaign: a few hundred Hypothesis-drawn cases of every kind
in tests/fuzz_cases.py (corrupted and forged codec streams, malformed Y4M and raw files, recipe
JSON of every wrong type, NaN/Inf frames). No case may end in a traceback; corrupted input must
be a clean one-line error. The long run is ``benchmarks/fuzz.py --cases 10000``."""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is in the 'test' extra: pip install -e '.[test]'")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from tests.fuzz_cases import CORRUPT_KINDS, FAILURES, KINDS, Fixture, run_case  # noqa: E402

CASES_PER_KIND = 30


@pytest.fixture(scope="module")
def fixture():
    return Fixture()


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_is_a_clean_error_never_a_traceback(kind, fixture):
    @settings(max_examples=CASES_PER_KIND, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def case(data):
        outcome = run_case(kind, lambda low, high: data.draw(st.integers(low, high)), fixture)
        assert outcome.status not in FAILURES, outcome.detail
        if kind in CORRUPT_KINDS:
            assert outcome.status == "clean_error"

    case()
