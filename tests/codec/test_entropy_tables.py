"""The coding tables are the same on every CPU: torch's vectorised float32 exp / erf kernels
differ in the last bit between instruction sets, which moved a table entry on some machines."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import numpy as np
import pytest

from vidquant.models.codec.net.entropy_models import gaussian_cdf_tables, scale_table

_PRINT_TABLES = (
    "import hashlib, numpy as np;"
    "from vidquant.models.codec.net.entropy_models import gaussian_cdf_tables, scale_table;"
    "h = hashlib.sha256(scale_table().numpy().tobytes());"
    "[h.update(np.ascontiguousarray(t).tobytes()) for t in gaussian_cdf_tables()];"
    "print(h.hexdigest())"
)


@functools.cache
def _tables_digest(capability: str) -> str:
    env = {**os.environ, "ATEN_CPU_CAPABILITY": capability}
    done = subprocess.run([sys.executable, "-c", _PRINT_TABLES], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize("capability", ["default", "avx2"])
def test_tables_do_not_depend_on_the_cpu_kernels(capability):
    assert _tables_digest(capability) == _tables_digest("avx512")


def test_scale_table_is_log_uniform_from_min_to_max():
    table = scale_table().double().numpy()
    assert table[0] == pytest.approx(0.11, rel=1e-6) and table[-1] == pytest.approx(16.0, rel=1e-6)
    ratios = table[1:] / table[:-1]
    assert np.allclose(ratios, ratios[0], rtol=1e-5)


def test_every_cdf_row_spans_the_16_bit_range():
    cdf, lengths, offsets = gaussian_cdf_tables()
    for row, length in zip(cdf, lengths):
        assert row[0] == 0 and row[length - 1] == 1 << 16 and np.all(np.diff(row[:length]) >= 1)
    assert np.array_equal(offsets, -(lengths - 3) // 2)
