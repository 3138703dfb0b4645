"""Training of a preset's I and P models with a rate-distortion loss per qp (CPU-sized).

Loss per frame: lambda(qp) * 255^2 * MSE(YUV 6:1:1) + estimated bpp, with lambda log-spaced
over the qp rows so that qp 63 is the highest rate (SPEC 8.3). Quantisation: straight-through
rounding for reconstruction, additive uniform noise for the rate. The I model trains first;
the P model then trains on short I-P-P... chains coded with the (frozen) I model, with the
P-frame qp shifts of the real sequence. Progress is checkpointed and resumable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from tqdm import tqdm

from vidquant.errors import VidquantError, first_line
from vidquant.io.checkpoint import load_torch_weights
from vidquant.metrics.psnr import psnr_from_mse

from ..coding.sequence import crop_to_tensor
from ..coding.yuvfile import Planes, read_video
from ..net.config import QP_NUM, QP_SHIFT, QP_SHIFT_INDEX, get_preset
from ..net.model import DCVCRT, build_codec, packaged_weights
from .augment import check_colour_share, maybe_shift_colours

LIKELIHOOD_FLOOR = 1e-9


@dataclass
class TrainSettings:
    """Everything that defines a training run (written into the checkpoint)."""

    preset: str = "dcvc-rt-small"
    steps_i: int = 3000
    steps_p: int = 1500
    batch: int = 8
    crop: int = 80
    p_frames: int = 2
    lr: float = 4e-4
    lambda_min: float = 0.0008
    lambda_max: float = 0.1
    max_frames_per_clip: int = 300
    colour_aug: float = 0.5  # share of chains given a random hue rotation and saturation gain (augment.py)
    seed: int = 0
    checkpoint_every: int = 200
    device: str = "cpu"
    clips: list[str] = field(default_factory=list)
    init: str = "scratch"  # "scratch", "package" or a folder with <preset>_image/video.safetensors

    def __post_init__(self) -> None:
        check_colour_share(self.colour_aug)


def rd_lambda(qp: torch.Tensor, settings: TrainSettings) -> torch.Tensor:
    """Log-spaced Lagrange multiplier, growing with qp (qp 63 = highest rate)."""
    ratio = math.log(settings.lambda_max / settings.lambda_min)
    return settings.lambda_min * torch.exp(qp.float() / (QP_NUM - 1) * ratio)


# --------------------------------------------------------------------------- data


def load_clips(paths: Iterable[str | Path], max_frames: int, crop: int) -> list[list[Planes]]:
    """Frames of every clip large enough for the crop."""
    clips = []
    for path in paths:
        frames = list(read_video(path, max_frames=max_frames))
        if frames and min(frames[0][0].shape) >= crop:
            clips.append(frames)
    if not clips:
        raise VidquantError(f"no training clip is at least {crop}x{crop}")
    return clips


def sample_batch(clips: list[list[Planes]], settings: TrainSettings, frames: int, rng: np.random.Generator) -> torch.Tensor:
    """[B, T, 3, crop, crop] random aligned crops of ``frames`` consecutive frames."""
    batch = []
    crop = settings.crop
    for _ in range(settings.batch):
        clip = clips[rng.integers(len(clips))]
        start = rng.integers(max(1, len(clip) - frames + 1))
        chain = [clip[min(start + t, len(clip) - 1)] for t in range(frames)]
        height, width = chain[0][0].shape
        top = 2 * rng.integers((height - crop) // 2 + 1)
        left = 2 * rng.integers((width - crop) // 2 + 1)
        flip = bool(rng.integers(2))
        pictures = []
        for planes in chain:
            picture = crop_to_tensor(planes, top, left, crop, crop)
            pictures.append(picture.flip(-1) if flip else picture)
        batch.append(maybe_shift_colours(torch.stack(pictures), settings.colour_aug, rng))
    return torch.stack(batch)


def yuv_mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample MSE weighted 6:1:1 over Y, U, V."""
    per_plane = ((x_hat - x) ** 2).mean(dim=(2, 3))
    return (6 * per_plane[:, 0] + per_plane[:, 1] + per_plane[:, 2]) / 8


def rd_loss(x_hat, x, bits, qp, settings) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    mse = yuv_mse(x_hat, x)
    bpp = bits / (x.shape[-2] * x.shape[-1])
    loss = (rd_lambda(qp, settings) * 255.0**2 * mse + bpp).mean()
    return loss, mse.mean(), bpp.mean()


# --------------------------------------------------------------------------- loops


@dataclass
class TrainState:
    codec: DCVCRT
    opt_i: torch.optim.Optimizer
    opt_p: torch.optim.Optimizer
    step_i: int = 0
    step_p: int = 0

    def save(self, path: Path, settings: TrainSettings) -> None:
        state = {
            "image": self.codec.image.state_dict(), "video": self.codec.video.state_dict(),
            "opt_i": self.opt_i.state_dict(), "opt_p": self.opt_p.state_dict(),
            "step_i": self.step_i, "step_p": self.step_p, "settings": asdict(settings),
        }
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(path)

    def load(self, path: Path) -> None:
        state = load_torch_weights(path)  # on the CPU; load_state_dict copies onto the model's device
        missing = [key for key in STATE_KEYS if not isinstance(state, dict) or key not in state]
        if missing:
            raise VidquantError(f"{path} is not a codec training state (missing {', '.join(missing)})")
        try:
            self.codec.image.load_state_dict(state["image"])
            self.codec.video.load_state_dict(state["video"])
            self.opt_i.load_state_dict(state["opt_i"])
            self.opt_p.load_state_dict(state["opt_p"])
            self.step_i, self.step_p = int(state["step_i"]), int(state["step_p"])
        except (RuntimeError, ValueError, TypeError, KeyError) as error:
            raise VidquantError(f"{path} does not fit this run ({first_line(error)})") from None


STATE_KEYS = ("image", "video", "opt_i", "opt_p", "step_i", "step_p")  # what TrainState.save writes

QTABLE_LR_SCALE = 10.0  # each qp row sees few updates, so the tables learn faster


@torch.no_grad()
def init_quant_tables(codec: DCVCRT, low: float = 0.5, high: float = 4.0) -> None:
    """Start the per-qp tables as a log ramp (encoder side up, decoder side inverse), so the
    qp rows span a rate range from the first step (qp 63 = finest quantisation)."""
    for encoder_table, decoder_table in ((codec.image.q_scale_enc, codec.image.q_scale_dec),
                                         (codec.video.q_encoder, codec.video.q_decoder)):
        rows = encoder_table.shape[0]
        ramp = torch.exp(torch.linspace(math.log(low), math.log(high), QP_NUM))
        ramp = torch.cat((ramp, ramp[-1] * (ramp[-1] / ramp[-2]) ** torch.arange(1, rows - QP_NUM + 1)))
        encoder_table.copy_(ramp.view(-1, 1, 1, 1).expand_as(encoder_table))
        decoder_table.copy_((1.0 / ramp).view(-1, 1, 1, 1).expand_as(decoder_table))


def _optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    tables = [p for name, p in model.named_parameters() if "." not in name]
    others = [p for name, p in model.named_parameters() if "." in name]
    return torch.optim.Adam([
        {"params": others, "lr": lr, "lr_scale": 1.0},
        {"params": tables, "lr": lr * QTABLE_LR_SCALE, "lr_scale": QTABLE_LR_SCALE},
    ])


def initial_codec(preset: str, init: str) -> DCVCRT:
    """The weights a run starts from: untrained with ramped qp tables ("scratch"), the
    package's shipped pair ("package"), or the exported pair in folder ``init`` (fine-tuning)."""
    if init == "scratch":
        codec = DCVCRT(get_preset(preset))
        init_quant_tables(codec)
        return codec
    if init == "package":
        paths = packaged_weights(preset)
        if paths is None:
            raise VidquantError(f"preset {preset!r} has no packaged weights to start from")
    else:
        paths = tuple(Path(init) / f"{preset}_{part}.safetensors" for part in ("image", "video"))
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise VidquantError(f"--init folder lacks {', '.join(missing)}")
    return build_codec(preset, *paths)


def _new_state(settings: TrainSettings) -> TrainState:
    codec = initial_codec(settings.preset, settings.init)
    codec.to(settings.device)
    return TrainState(codec, _optimizer(codec.image, settings.lr), _optimizer(codec.video, settings.lr))


def _log_psnr(mse: float) -> float:
    """PSNR of a training step for the progress log: NaN when the step's MSE is not finite (a
    diverging step is logged, as before; ``psnr_from_mse`` refuses non-finite input)."""
    return psnr_from_mse(mse, 1.0) if math.isfinite(mse) else math.nan


def _lr_at(step: int, total: int, base: float) -> float:
    """Constant, then a tenth for the last fifth of the steps."""
    return base if step < 0.8 * total else base * 0.1


def train_intra_step(state: TrainState, batch: torch.Tensor, settings: TrainSettings, rng) -> dict:
    model = state.codec.image.train()
    x = batch[:, 0]
    qp = torch.from_numpy(rng.integers(0, QP_NUM, x.shape[0])).to(x.device)
    x_hat, bits = model(x, qp)
    loss, mse, bpp = rd_loss(x_hat, x, bits, qp, settings)
    state.opt_i.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    state.opt_i.step()
    return {"loss": loss.item(), "psnr": _log_psnr(mse.item()), "bpp": bpp.item()}


def train_inter_step(state: TrainState, batch: torch.Tensor, settings: TrainSettings, rng) -> dict:
    """One I-P-P... chain: the I-frame from the frozen I model, P-frames with shifted qps."""
    image, video = state.codec.image.eval(), state.codec.video.train()
    qp_p = torch.from_numpy(rng.integers(0, QP_NUM, batch.shape[0])).to(batch.device)
    with torch.no_grad():
        picture = image(batch[:, 0], qp_p)[0].clamp(0, 1)
    feature, total, mses, bpps = None, 0.0, [], []
    for t in range(1, batch.shape[1]):
        qp = qp_p + QP_SHIFT[QP_SHIFT_INDEX[t % 8]]
        x_hat, feature, bits = video(batch[:, t], qp, picture if feature is None else None, feature)
        loss, mse, bpp = rd_loss(x_hat, batch[:, t], bits, qp, settings)
        total, picture = total + loss, None
        mses.append(mse.item())
        bpps.append(bpp.item())
    state.opt_p.zero_grad()
    (total / (batch.shape[1] - 1)).backward()
    torch.nn.utils.clip_grad_norm_(video.parameters(), 1.0)
    state.opt_p.step()
    return {"psnr": _log_psnr(float(np.mean(mses))), "bpp": float(np.mean(bpps))}


def train(settings: TrainSettings, out_dir: Path, progress: bool = True) -> TrainState:
    """Train (or resume) I then P; checkpoints to ``out_dir/state.pt``; returns the state."""
    torch.manual_seed(settings.seed)
    torch.set_flush_denormal(True)  # untrained layers produce denormals that slow the CPU tenfold
    state = _new_state(settings)  # bad --init fails here, before the run folder exists
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "state.pt"
    if checkpoint.exists():
        state.load(checkpoint)
    clips = load_clips(settings.clips, settings.max_frames_per_clip, settings.crop)
    rng = np.random.default_rng(settings.seed + state.step_i + state.step_p)
    phases = (
        ("I", "step_i", settings.steps_i, state.opt_i, 1, train_intra_step),
        ("P", "step_p", settings.steps_p, state.opt_p, 1 + settings.p_frames, train_inter_step),
    )
    for label, attr, total, optimizer, frames, step_fn in phases:
        bar = tqdm(total=total, initial=getattr(state, attr), desc=f"train {label}", disable=not progress)
        while getattr(state, attr) < total:
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(getattr(state, attr), total, settings.lr) * group["lr_scale"]
            batch = sample_batch(clips, settings, frames, rng).to(settings.device)
            stats = step_fn(state, batch, settings, rng)
            setattr(state, attr, getattr(state, attr) + 1)
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items()})
            if getattr(state, attr) % settings.checkpoint_every == 0 or getattr(state, attr) == total:
                state.save(checkpoint, settings)
        bar.close()
    state.codec.eval().to("cpu")
    return state


def export_weights(codec: DCVCRT, out_dir: Path, half: bool = True) -> tuple[Path, Path]:
    """Write ``<preset>_image/video.safetensors`` (fp16 storage by default, loaded as fp32)."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for part, model in (("image", codec.image), ("video", codec.video)):
        tensors = {k: (v.half() if half else v).contiguous() for k, v in model.state_dict().items()}
        path = out_dir / f"{codec.preset.name}_{part}.safetensors"
        save_file(tensors, str(path))
        paths.append(path)
    return paths[0], paths[1]
