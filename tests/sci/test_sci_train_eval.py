"""Training (resumable), checkpoints, benchmark evaluation and the ``vidquant sci`` CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import shared_file
from vidquant.cli.main import main
from vidquant.errors import VidquantError
from vidquant.models.sci import EfficientSCI, SCIConfig
from vidquant.models.sci.checkpoint import load_model, read_metadata, save_weights
from vidquant.models.sci.data import Benchmark
from vidquant.metrics.psnr import PSNR_CAP
from vidquant.models.sci.evaluate import evaluate, psnr, save_grid
from vidquant.models.sci.forward_model import measure, random_masks
from vidquant.models.sci.train import TrainSettings, train

TINY = {"width": 4, "units": 1, "groups": 2}


@pytest.fixture
def clip_dir(tmp_path):
    """A smooth moving pattern as an I420 .yuv clip."""
    yy, xx = np.mgrid[0:24, 0:24]
    frames = np.stack([128 + 100 * np.sin((xx + 2 * t) / 4.0) * np.cos(yy / 5.0) for t in range(12)]).astype(np.uint8)
    chroma = np.full(12 * 12 * 2, 128, np.uint8).tobytes()
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "wave_24x24_12f.yuv").write_bytes(b"".join(f.tobytes() + chroma for f in frames))
    return folder


def _settings(clip_dir, out, epochs):
    return TrainSettings(preset="efficientsci-cpu", data=(str(clip_dir),), out=out, epochs=epochs,
                         iters_per_epoch=2, batch_size=2, crop=16, save_every=1, config_overrides=TINY)


def test_resumed_training_matches_uninterrupted(clip_dir, tmp_path):
    straight = train(_settings(clip_dir, tmp_path / "a", epochs=2), progress=False)
    train(_settings(clip_dir, tmp_path / "b", epochs=1), progress=False)
    resumed = train(_settings(clip_dir, tmp_path / "b", epochs=2), progress=False)
    assert straight.steps == resumed.steps == 4
    a, b = load_file(str(straight.weights)), load_file(str(resumed.weights))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == [1, 2, 3, 4]
    assert read_metadata(resumed.weights)[1]["step"] == 4


def test_training_lowers_the_loss(clip_dir, tmp_path):
    settings = TrainSettings(preset="efficientsci-cpu", data=(str(clip_dir),), out=tmp_path / "run", epochs=1,
                             iters_per_epoch=30, batch_size=2, crop=16, lr=2e-3, save_every=10, config_overrides=TINY)
    train(settings, progress=False)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0]


def test_schedules():
    settings = TrainSettings(preset="efficientsci-cpu", data=("x",), out="o", crop=128,
                             crop_schedule=((100, 256),), lr_drop_epoch=120)
    assert [settings.crop_at(e) for e in (0, 99, 100, 130)] == [128, 128, 256, 256]
    assert settings.lr_at(119) == 1e-4 and settings.lr_at(120) == pytest.approx(1e-5)
    with pytest.raises(VidquantError, match="even"):
        TrainSettings(preset="efficientsci-cpu", data=("x",), out="o", crop=33)


def test_checkpoint_round_trip(tmp_path):
    model = EfficientSCI(SCIConfig(**TINY, qk_shift=True))
    save_weights(tmp_path / "m.safetensors", model, {"note": "x"})
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.config == model.config
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    with pytest.raises(VidquantError, match="not found"):
        load_model(tmp_path / "missing.safetensors")


def test_psnr_values():
    a = torch.zeros(4, 4)
    assert psnr(a, a + 0.1) == pytest.approx(20.0)
    assert psnr(a, a) == PSNR_CAP  # identical frames: the cap vidquant.metrics uses everywhere


@pytest.mark.parametrize("where", ["meas", "orig"])
def test_nan_or_inf_samples_are_an_error_never_a_capped_psnr(where):
    """A measurement with NaN pixels used to score "PSNR 100.00 dB SSIM nan" on every frame."""
    orig = torch.rand(8, 16, 16)
    mask = random_masks(8, 16, 16)
    meas = measure(orig[None], mask)
    bad = {"meas": meas, "orig": orig}[where]
    bad[0, 3, 4] = float("nan") if where == "meas" else float("inf")
    with pytest.raises(VidquantError, match=r"synthetic, group 0, frame \d+: the (reconstructed|ground-truth) picture "
                                            r"holds \d+ NaN or Inf"):
        evaluate(EfficientSCI(SCIConfig(**TINY)), Benchmark("synthetic", orig, meas, mask))


def test_evaluate_scores_every_frame(tmp_path):
    orig = torch.rand(16, 16, 16)
    mask = random_masks(8, 16, 16)
    meas = torch.cat([measure(orig[i * 8 : (i + 1) * 8][None], mask) for i in range(2)])
    result = evaluate(EfficientSCI(SCIConfig(**TINY)), Benchmark("synthetic", orig, meas, mask))
    assert len(result.psnr) == len(result.ssim) == 16
    assert result.recon.shape == orig.shape and 0 <= result.recon.min() and result.recon.max() <= 1
    assert result.mean_psnr == pytest.approx(np.mean([psnr(o, r) for o, r in zip(orig, result.recon)]))
    png = save_grid(tmp_path / "grid.png", orig, result.recon)
    import matplotlib.image

    assert matplotlib.image.imread(png).shape[:2] == (32, 128)


def test_cli_test_on_benchmark(tmp_path, capsys):
    drop = shared_file("data/sci/drop40_cacti.mat")
    save_weights(tmp_path / "m.safetensors", EfficientSCI(SCIConfig(**TINY)))
    code = main(["sci", "test", "--ckpt", str(tmp_path / "m.safetensors"), "--data", str(drop),
                 "--png", str(tmp_path / "png"), "--json", str(tmp_path / "r.json"), "--per-frame"])
    assert code == 0
    out = capsys.readouterr().out
    assert "drop40_cacti: PSNR" in out and out.count(" frame ") == 40
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["results"][0]["psnr_per_frame"]) == 40
    assert (tmp_path / "png" / "drop40_cacti.png").exists()


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["sci", "test", "--ckpt", str(tmp_path / "none.safetensors"), "--data", "x.mat"]) == 2
    assert capsys.readouterr().err.strip().startswith("vidquant sci: error: checkpoint not found")
    code = main(["sci", "train", "--preset", "efficientsci-cpu", "--data", str(tmp_path / "b.mat"), "--out", str(tmp_path / "o")])
    assert code == 2 and "benchmark" in capsys.readouterr().err


def test_shipped_fp_checkpoint_beats_plain_backprojection():
    """The shipped CPU model must do better than y / sum(M) repeated over frames (24.5 dB on drop)."""
    from pathlib import Path

    import vidquant.models.sci as sci
    from vidquant.models.sci.data import load_benchmark
    from vidquant.models.sci.forward_model import mask_sum

    bench = load_benchmark(shared_file("data/sci/drop40_cacti.mat"))
    bench = Benchmark(bench.name, bench.orig[:8, :128, :128], bench.meas[:1, :128, :128], bench.mask[:, :128, :128])
    model = load_model(Path(sci.__file__).parent / "weights" / "efficientsci-cpu-fp.safetensors")
    assert model.config == sci.get_preset("efficientsci-cpu")
    y, truth = bench.group(0)
    plain = psnr(truth, (y / mask_sum(bench.mask)).unsqueeze(1).expand_as(truth))
    assert evaluate(model, bench).mean_psnr > plain + 0.5


@pytest.mark.parametrize("flag", ["--init", "--mask"])
def test_an_unreadable_init_or_mask_is_one_line_and_leaves_no_run_folder(tmp_path, capsys, flag):
    """A non-safetensors --init ended in a traceback, an object-array .npy mask too; both left an empty run."""
    from vidquant.io import Frame, open_writer

    clip = tmp_path / "clip_64x64.yuv"
    with open_writer(clip, 64, 64) as writer:
        for _ in range(8):
            writer.write(Frame(np.full((64, 64), 100, np.uint8), np.full((32, 32), 128, np.uint8), np.full((32, 32), 128, np.uint8)))
    bad = tmp_path / ("junk.pth" if flag == "--init" else "mask.npy")
    if flag == "--init":
        bad.write_text("not safetensors")
    else:
        np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    run = tmp_path / "run"
    assert main(["sci", "train", "--preset", "efficientsci-cpu", "--data", str(clip), "--out", str(run), flag, str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err
    assert not run.exists()


def test_meas_only_real_capture_with_a_separate_mask(tmp_path, capsys):
    """#22 case 12: a 512x512 cr10 capture (meas only, mask in its own file) was refused."""
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    mask = (rng.random((10, 512, 512)) < 0.5).astype(np.float32)
    frames = rng.random((10, 512, 512)).astype(np.float32)
    meas = (frames * mask).sum(axis=0) * 255.0
    savemat(tmp_path / "blocks_cr10.mat", {"meas": meas[..., None]})
    np.save(tmp_path / "mask.npy", mask)
    ckpt = tmp_path / "m.safetensors"
    save_weights(ckpt, EfficientSCI(SCIConfig(**TINY, frames=10)))
    data = str(tmp_path / "blocks_cr10.mat")
    assert main(["sci", "test", "--ckpt", str(ckpt), "--data", data, "--mask", str(tmp_path / "mask.npy")]) == 2
    assert "lacks key(s) ['orig']; a capture without ground truth needs --meas-only" in capsys.readouterr().err
    assert main(["sci", "test", "--ckpt", str(ckpt), "--data", data, "--meas-only"]) == 2
    assert "--meas-only needs --recon" in capsys.readouterr().err
    assert main(["sci", "test", "--ckpt", str(ckpt), "--data", data, "--meas-only", "--recon", str(tmp_path / "r")]) == 2
    assert "lacks key(s) ['mask']; give the mask with --mask FILE" in capsys.readouterr().err
    code = main(["sci", "test", "--ckpt", str(ckpt), "--data", data, "--mask", str(tmp_path / "mask.npy"), "--meas-only",
                 "--recon", str(tmp_path / "r"), "--json", str(tmp_path / "r.json")])
    assert code == 0
    assert "blocks_cr10: no ground truth  measurement RMSE" in capsys.readouterr().out
    recon = np.load(tmp_path / "r" / "blocks_cr10.npy")
    assert recon.shape == (10, 512, 512) and recon.dtype == np.float32
    report = json.loads((tmp_path / "r.json").read_text())["results"][0]
    expected = np.sqrt(np.mean((meas / 255.0 - (recon * mask).sum(axis=0)) ** 2, dtype=np.float64))
    assert report["measurement_rmse"] == pytest.approx(expected, rel=1e-4) and "psnr" not in report


def test_a_mask_of_another_size_is_one_line(tmp_path, capsys):
    drop = shared_file("data/sci/drop40_cacti.mat")
    np.save(tmp_path / "mask.npy", np.ones((8, 128, 128), np.float32))
    save_weights(tmp_path / "m.safetensors", EfficientSCI(SCIConfig(**TINY)))
    assert main(["sci", "test", "--ckpt", str(tmp_path / "m.safetensors"), "--data", str(drop),
                 "--mask", str(tmp_path / "mask.npy")]) == 2
    assert "mask frames are (128, 128), measurements (256, 256)" in capsys.readouterr().err
