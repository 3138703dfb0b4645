"""SCI measurement model and EfficientSCI's input normalization."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.io import savemat

from tests.conftest import shared_file
from vidquant.errors import VidquantError
from vidquant.models.sci.data import load_benchmark
from vidquant.models.sci.forward_model import initial_estimate, load_mask, mask_sum, measure, random_masks


def test_measure_sums_masked_frames():
    frames = torch.rand(2, 4, 5, 6)
    mask = random_masks(4, 5, 6)
    expected = sum(frames[:, t] * mask[t] for t in range(4))
    assert torch.allclose(measure(frames, mask), expected)


def test_measure_rejects_mismatched_mask():
    with pytest.raises(VidquantError, match="differ"):
        measure(torch.rand(1, 4, 5, 6), torch.ones(8, 5, 6))


def test_random_masks_are_binary_with_requested_density():
    mask = random_masks(8, 64, 64, batch=2, density=0.25, generator=torch.Generator().manual_seed(1))
    assert mask.shape == (2, 8, 64, 64)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert abs(mask.mean().item() - 0.25) < 0.02


def test_initial_estimate_normalizes_by_mask_sum():
    frames = torch.full((1, 4, 3, 3), 0.5)
    mask = torch.ones(4, 3, 3)
    mask[:, 0, 0] = 0  # a pixel no mask opens: divided by 1, not 0
    estimate = initial_estimate(measure(frames, mask), mask)
    assert estimate.shape == (1, 1, 4, 3, 3)
    # all masks open: y / T = 0.5, plus mask * 0.5 -> 1.0 everywhere but the closed pixel
    assert torch.allclose(estimate[0, 0, :, 1:, :], torch.ones(4, 2, 3))
    assert torch.all(estimate[0, 0, :, 0, 0] == 0)
    assert torch.all(mask_sum(mask) >= 1)


def test_per_sample_masks_broadcast():
    mask = random_masks(4, 6, 6, batch=3)
    frames = torch.rand(3, 4, 6, 6)
    estimate = initial_estimate(measure(frames, mask), mask)
    single = initial_estimate(measure(frames[1:2], mask[1]), mask[1])
    assert torch.allclose(estimate[1:2], single)


def test_load_mask_from_mat_and_npy(tmp_path):
    mask = (np.random.default_rng(0).random((8, 6, 5)) > 0.5).astype(np.uint8)
    savemat(tmp_path / "m.mat", {"mask": np.moveaxis(mask, 0, -1)})
    np.save(tmp_path / "m.npy", mask)
    assert torch.equal(load_mask(tmp_path / "m.mat"), torch.from_numpy(mask).float())
    assert torch.equal(load_mask(tmp_path / "m.npy"), torch.from_numpy(mask).float())
    with pytest.raises(VidquantError, match="not found"):
        load_mask(tmp_path / "missing.npy")


@pytest.mark.parametrize("name", ["drop40_cacti.mat", "runner40_cacti.mat"])
def test_benchmark_measurements_follow_the_model(name):
    bench = load_benchmark(shared_file(f"data/sci/{name}"))
    assert bench.orig.shape == (40, 256, 256) and bench.mask.shape == (8, 256, 256)
    for index in range(bench.meas.shape[0]):
        y, truth = bench.group(index)
        assert torch.allclose(measure(truth, bench.mask), y, atol=1e-4)
