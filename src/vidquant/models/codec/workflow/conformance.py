"""Replays every check of the DCVC-RT conformance pack (VECTORS.md section 8).

Sections: weights (8.1), module calls (8.2), teacher-forced quantisation (8.3), end-to-end
I-frames and I-P-P-P sequences (8.4), rate estimates (8.5), PSNR (8.6), plus the unit
vectors of section 6. Each check has a name; the report lists the failing ones.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from vidquant.errors import VidquantError
from vidquant.io.shared_data import require_folder

from ..coding.sequence import pad_picture, plan_frame, psnr_yuv420, yuv420_to_tensor
from ..net.conformance_fill import fill_model, fill_rule, fill_values, splitmix64
from ..net.entropy_models import (
    gaussian_bits,
    gaussian_cdf_tables,
    likelihood_bits,
    scale_index,
    scale_table,
)
from ..net.frame_coder import EncoderSide, FrameCoder, FramePlan
from ..net.image_model import DMCI
from ..net.layers import wsilu
from ..net.prior import (
    IMAGE_STEP_PATTERNS,
    VIDEO_STEP_PATTERNS,
    masked_quantise,
    round_clamp,
    step_mask,
)
from ..net.prior import pack as pack_groups
from ..net.video_model import DMC

FLOAT_TOL = 1e-4
RATE_TOL = 1e-6
PSNR_TOL = 1e-9
NEAR_HALF = 1e-4
IMAGE_FILE, VIDEO_FILE = "vectors_image.npz", "vectors_video.npz"
KEYS_FILES = {"image": "keys_image.json", "video": "keys_video.json"}

# VECTORS.md 1, reference table: (model, key, crc32, first SplitMix64 output, first 4 float32 bit patterns).
REFERENCE_FILL = (
    ("image", "q_scale_enc", 0x7AECA9EB, 0x0438137287B05D7B, (0x3FC21C0A, 0x3FE1EBF3, 0x400C8CE9, 0x3FE83F17)),
    ("image", "enc.enc_1.adaptor.weight", 0x2FB6474A, 0x84D017B39AD10552, (0x3B9A02F6, 0x3D8783C7, 0xBDA31AAE, 0xBD8A744A)),
    ("image", "bit_estimator_z.f4.b", 0x1EF28970, 0xE877CCB92D2FA091, (0x3F50EF99, 0xBF151E84, 0xBF79959D, 0x3E1E51B3)),
    ("video", "encoder.conv2.0.dc.3.weight", 0xAF0C3A90, 0x0E8716D38B3EEE05, (0xBC1D3B5A, 0x3BBC89CB, 0xBBAF1159, 0x3C01A4B7)),
    ("video", "hyper_decoder.conv.0.up.conv.0.weight", 0x3F36B26F, 0xA6544177911AA2BB, (0x3CBBC60A, 0x3B559810, 0xBA0FB686, 0x3D9BFCB2)),
    ("video", "recon_generation_net.head.bias", 0x87CCF58A, 0x3E3DC9DE28C50B0C, (0xBCD26D7A, 0xBC54B20D, 0xBCB6394D, 0xBCA1A126)),
)
SPLITMIX_SEED0 = (0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4)
SYMBOL_NAMES = ("z_hat", "y_q", "y_q_w")


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class ConformanceReport:
    checks: list[Check]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        passed = len(self.checks) - len(self.failed)
        return f"{passed}/{len(self.checks)} passed"


# --------------------------------------------------------------------------- comparisons


def _array(x) -> np.ndarray:
    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def rel_err(ours, ref) -> float:
    """max|ours - ref| / max(max|ref|, 1e-6) (VECTORS.md 8)."""
    ours, ref = _array(ours).astype(np.float64), _array(ref).astype(np.float64)
    if ours.shape != ref.shape:
        return math.inf
    return float(np.abs(ours - ref).max(initial=0.0) / max(np.abs(ref).max(initial=0.0), 1e-6))


def near_half(pre_round: np.ndarray) -> np.ndarray:
    """Elements within 1e-4 of a rounding boundary (x.5)."""
    pre = _array(pre_round).astype(np.float64)
    return np.abs(pre - np.floor(pre) - 0.5) < NEAR_HALF


def float_check(name: str, ours, ref, tol: float = FLOAT_TOL) -> Check:
    err = rel_err(ours, ref)
    return Check(name, err <= tol, f"err {err:.3g} (tol {tol:g})")


def symbol_check(name: str, ours, ref, exempt: np.ndarray | None) -> Check:
    """Exact equality except at the exempt near-boundary elements."""
    ours, ref = _array(ours), _array(ref)
    if ours.shape != ref.shape:
        return Check(name, False, f"shape {ours.shape} != {ref.shape}")
    differ = ours != ref
    if exempt is not None:
        differ &= ~exempt
    return Check(name, not differ.any(), f"{int(differ.sum())} differing symbols")


def exact_check(name: str, ours, ref) -> Check:
    ours, ref = _array(ours), _array(ref)
    same = ours.shape == ref.shape and bool(np.array_equal(ours, ref))
    return Check(name, same, "identical" if same else "differs")


# --------------------------------------------------------------------------- pack access


@dataclass
class Pack:
    """The conformance pack's archives and key lists."""

    root: Path
    image: dict
    video: dict
    calls: dict[str, list]
    meta: dict[str, dict]

    @classmethod
    def load(cls, root: Path) -> "Pack":
        root = require_folder(root, "conformance pack")
        missing = [f for f in (IMAGE_FILE, VIDEO_FILE, *KEYS_FILES.values()) if not (root / f).exists()]
        if missing:
            raise VidquantError(f"conformance pack {root} lacks {', '.join(missing)}")
        image, video = dict(np.load(root / IMAGE_FILE)), dict(np.load(root / VIDEO_FILE))
        calls = {"image": json.loads(str(image.pop("__calls__"))), "video": json.loads(str(video.pop("__calls__")))}
        meta = {"image": json.loads(str(image.pop("__meta__"))), "video": json.loads(str(video.pop("__meta__")))}
        return cls(root, image, video, calls, meta)

    def keys(self, model: str) -> list[dict]:
        return json.loads((self.root / KEYS_FILES[model]).read_text())["keys"]


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


# --------------------------------------------------------------------------- 8.1 weights


def weight_checks(pack: Pack, models: dict[str, torch.nn.Module]) -> Iterator[Check]:
    yield exact_check("weights.splitmix64.seed0", splitmix64(0, 2), np.array(SPLITMIX_SEED0, dtype=np.uint64))
    for model, key, crc, first, bits in REFERENCE_FILL:
        shape = tuple(models[model].state_dict()[key].shape)
        values = fill_values(key, shape).ravel()[:4].view(np.uint32)
        ok = zlib.crc32(key.encode()) == crc and int(splitmix64(crc, 1)[0]) == first
        ok = ok and np.array_equal(values, np.array(bits, dtype=np.uint32))
        yield Check(f"weights.{model}.{key}", ok, "crc, first output and first values")
    for model, net in models.items():
        ours = [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in net.state_dict().items()]
        ref = [(k["key"], k["shape"], k["dtype"]) for k in pack.keys(model)]
        yield Check(f"keys.{model}", ours == ref, f"{len(ours)} keys vs {len(ref)}")
        rules = [(k["fill"]["rule"], k["fill"]["lo"], k["fill"]["hi"]) for k in pack.keys(model)]
        derived = [fill_rule(k["key"], tuple(k["shape"])) for k in pack.keys(model)]
        yield Check(f"fill_rules.{model}", derived == rules, "rule, lo, hi per key")


# --------------------------------------------------------------------------- 8.2 module calls


def _call_module(net: torch.nn.Module, call: dict, arrays: dict) -> tuple[torch.Tensor, ...]:
    inputs = [t(arrays[name]) for name in call["inputs"]]
    if call["module"] == "bit_estimator_z":
        estimator, row = net.bit_estimator_z, call["qp_row"]
        if inputs[0].dim() == 1:
            grid = inputs[0].view(1, 1, -1, 1)
            return (estimator.cdf(grid, row).reshape(estimator.f1.h.shape[1], -1),)
        return (estimator.likelihood(inputs[0], row),)
    out = getattr(net, call["module"])(*inputs)
    return out if isinstance(out, tuple) else (out,)


def module_checks(pack: Pack, models: dict[str, torch.nn.Module]) -> Iterator[Check]:
    for model, arrays in (("image", pack.image), ("video", pack.video)):
        for call in pack.calls[model]:
            with torch.no_grad():
                outputs = _call_module(models[model], call, arrays)
            for name, ours in zip(call["outputs"], outputs):
                yield float_check(f"module.{call['module']}:{name}", ours, arrays[name])


# --------------------------------------------------------------------------- 8.3 teacher forcing


def _runs(pack: Pack) -> Iterator[tuple[str, dict, str, dict]]:
    """(model, arrays, run prefix, run meta) of every coded frame with stored intermediates."""
    for name, meta in pack.meta["image"]["image"]["runs"].items():
        yield "image", pack.image, name, meta
    for name, meta in pack.meta["video"]["video"]["runs"].items():
        if meta["type"] == "P":
            yield "video", pack.video, name, meta


def _step_patterns(model: str) -> tuple[tuple[int, ...], ...]:
    return IMAGE_STEP_PATTERNS if model == "image" else VIDEO_STEP_PATTERNS


def _thres(meta: dict, pack: Pack) -> float | None:
    return meta["force_zero_thres"] if "force_zero_thres" in meta else pack.meta["video"]["video"]["force_zero_thres"]


def teacher_checks(pack: Pack) -> Iterator[Check]:
    for model, arrays, run, meta in _runs(pack):
        thres = _thres(meta, pack)
        z = arrays[f"{run}.z"]
        yield symbol_check(f"teacher.{run}.z_hat", round_clamp(t(z)), arrays[f"{run}.z_hat"], near_half(z))
        y_scaled = t(arrays[f"{run}.y_scaled"])
        groups = 4 if model == "image" else 2
        for step, patterns in enumerate(_step_patterns(model)):
            p = f"{run}.step{step}"
            mask = step_mask(patterns, y_scaled.shape[1], *y_scaled.shape[-2:])
            y_res, y_q, y_hat, s_hat = masked_quantise(y_scaled, t(arrays[f"{p}.scales"]), t(arrays[f"{p}.means"]), mask, thres)
            exempt = near_half(arrays[f"{p}.y_res"])
            yield float_check(f"teacher.{p}.y_res", y_res, arrays[f"{p}.y_res"])
            yield symbol_check(f"teacher.{p}.y_q", y_q, arrays[f"{p}.y_q"], exempt)
            yield symbol_check(f"teacher.{p}.y_q_w", pack_groups(y_q, groups), arrays[f"{p}.y_q_w"], _packed(exempt, groups))
            yield float_check(f"teacher.{p}.s_w", pack_groups(s_hat, groups), arrays[f"{p}.s_w"])
            yield float_check(f"teacher.{p}.y_hat", y_hat, arrays[f"{p}.y_hat"])


def _packed(exempt: np.ndarray, groups: int) -> np.ndarray:
    return np.logical_or.reduce(np.split(exempt, groups, axis=1))


# --------------------------------------------------------------------------- 8.4 end to end


def _compare_trace(prefix: str, trace: dict, arrays: dict) -> Iterator[Check]:
    """Every stored array of a run against the same-named intermediate of our run."""
    names = sorted(k[len(prefix) + 1 :] for k in arrays if k.startswith(prefix + "."))
    for name in names:
        ref = arrays[f"{prefix}.{name}"]
        label = f"e2e.{prefix}.{name}"
        if name not in trace:
            yield Check(label, False, "not produced")
        elif name.split(".")[-1] in SYMBOL_NAMES:
            yield symbol_check(label, trace[name], ref, _symbol_exempt(prefix, name, arrays))
        else:
            yield float_check(label, trace[name], ref)


def _symbol_exempt(prefix: str, name: str, arrays: dict) -> np.ndarray:
    if name == "z_hat":
        return near_half(arrays[f"{prefix}.z"])
    step = name.split(".")[0]
    exempt = near_half(arrays[f"{prefix}.{step}.y_res"])
    return _packed(exempt, 4 if prefix.startswith("I.") else 2) if name.endswith("y_q_w") else exempt


def _finish_trace(trace: dict, x_hat: torch.Tensor, estimator, qp: int, size: tuple[int, int]) -> None:
    trace["x_hat_crop"] = x_hat[:, :, : size[0], : size[1]]
    trace["z_likelihood"] = estimator.likelihood(trace["z_hat"], qp)


def input_checks(pack: Pack) -> Iterator[Check]:
    x = yuv420_to_tensor(pack.image["in_y"][0], *pack.image["in_uv"])
    yield float_check("input.x_444", x, pack.image["x_444"])
    yield float_check("input.x_pad", pad_picture(x), pack.image["x_pad"])
    for frame in range(4):
        x = pad_picture(yuv420_to_tensor(pack.video[f"in_y.f{frame}"][0], *pack.video[f"in_uv.f{frame}"]))
        yield float_check(f"input.x_pad.f{frame}", x, pack.video[f"x_pad.f{frame}"])


def image_e2e_checks(pack: Pack, image: DMCI, video: DMC) -> Iterator[Check]:
    x = t(pack.image["x_pad"])
    size = (pack.meta["image"]["image"]["pic_h"], pack.meta["image"]["image"]["pic_w"])
    for run, meta in pack.meta["image"]["image"]["runs"].items():
        trace: dict = {}
        side = EncoderSide(meta["force_zero_thres"], trace)
        x_hat = FrameCoder(image, video).code(FramePlan(0, "I", meta["qp"]), side, x, tuple(x.shape[-2:]), trace)
        _finish_trace(trace, x_hat, image.bit_estimator_z, meta["qp"], size)
        yield from _compare_trace(run, trace, pack.image)


def video_e2e_checks(pack: Pack, image: DMCI, video: DMC) -> Iterator[Check]:
    info = pack.meta["video"]["video"]
    size = (info["pic_h"], info["pic_w"])
    for qp_p in sorted({m["qp_p"] for m in info["runs"].values() if m["type"] == "P"}):
        coder = FrameCoder(image, video)
        for frame in range(4):
            run = f"V.qp{qp_p}.f{frame}"
            plan = plan_frame(frame, qp_p, qp_p, -1, info["reset_interval"])
            meta = info["runs"][run]
            ok = plan.qp == meta["qp"] and (plan.kind == "I" or plan.use_ada_i == bool(meta["use_ada_i"]))
            yield Check(f"e2e.{run}.plan", ok, f"type {plan.kind} qp {plan.qp} use_ada_i {plan.use_ada_i}")
            x = t(pack.video[f"x_pad.f{frame}"])
            trace: dict = {}
            x_hat = coder.code(plan, EncoderSide(info["force_zero_thres"], trace), x, tuple(x.shape[-2:]), trace)
            net = image if plan.kind == "I" else video
            _finish_trace(trace, x_hat, net.bit_estimator_z, plan.qp, size)
            yield from _compare_trace(run, trace, pack.video)


# --------------------------------------------------------------------------- 8.5 rates, 8.6 PSNR


def rate_checks(pack: Pack) -> Iterator[Check]:
    for model, arrays, run, meta in _runs(pack):
        thres = _thres(meta, pack)
        bits_y = 0.0
        for step in range(len(_step_patterns(model))):
            s_w, y_q_w = arrays[f"{run}.step{step}.s_w"], arrays[f"{run}.step{step}.y_q_w"]
            keep = np.ones_like(s_w, dtype=bool) if thres is None else np.clip(s_w, 0.11, 16.0) > thres
            bits_y += gaussian_bits(y_q_w[keep], s_w[keep])
        bits_z = likelihood_bits(arrays[f"{run}.z_likelihood"])
        yield float_check(f"rate.{run}.bits_y_est", np.array(bits_y), np.array(meta["bits_y_est"]), RATE_TOL)
        yield float_check(f"rate.{run}.bits_z_est", np.array(bits_z), np.array(meta["bits_z_est"]), RATE_TOL)


def psnr_checks(pack: Pack) -> Iterator[Check]:
    for run, meta in pack.meta["image"]["image"]["runs"].items():
        ours = psnr_yuv420(t(pack.image[f"{run}.x_hat_crop"]), pack.image["in_y"][0], *pack.image["in_uv"])
        yield _psnr_check(run, ours, meta["psnr"])
    info = pack.meta["video"]["video"]
    for run, meta in info["runs"].items():
        frame = run.split(".f")[-1]
        x_hat = pack.video.get(f"{run}.x_hat_crop")
        if x_hat is None:
            x_hat = pack.video[f"{run}.x_hat"][:, :, : info["pic_h"], : info["pic_w"]]
        ours = psnr_yuv420(t(x_hat), pack.video[f"in_y.f{frame}"][0], *pack.video[f"in_uv.f{frame}"])
        yield _psnr_check(run, ours, meta["psnr"])


def _psnr_check(run: str, ours: list[float], ref: list[float]) -> Check:
    err = max(abs(a - b) for a, b in zip(ours, ref))
    return Check(f"psnr.{run}", err <= PSNR_TOL, f"max diff {err:.3g} dB")


# --------------------------------------------------------------------------- unit vectors (6)


def unit_checks(pack: Pack) -> Iterator[Check]:
    u = pack.image
    yield float_check("unit.wsilu", wsilu(t(u["U.wsilu.x"])), u["U.wsilu.y"])
    for step, patterns in enumerate(IMAGE_STEP_PATTERNS):
        yield exact_check(f"unit.mask4x.{step}", step_mask(patterns, 8, 5, 7), u[f"U.mask4x.{step}"])
    for step, patterns in enumerate(VIDEO_STEP_PATTERNS):
        yield exact_check(f"unit.mask2x.{step}", step_mask(patterns, 4, 5, 7), u[f"U.mask2x.{step}"])
    inputs = [t(u[f"U.pwm.{n}"]) for n in ("y", "scales", "means", "mask")]
    for label, thres in (("thres0.12", 0.12), ("nothres", None)):
        outputs = masked_quantise(*inputs, thres)
        for name, ours in zip(("y_res", "y_q", "y_hat", "s_hat"), outputs):
            yield float_check(f"unit.pwm.{label}.{name}", ours, u[f"U.pwm.{label}.{name}"])
    yield exact_check("unit.zround", round_clamp(t(u["U.zround.z"])), u["U.zround.z_hat"])
    # A float32 tensor (VECTORS.md section 8 compares those to 1e-4): the pack's table and a
    # correctly rounded one differ in the last bit of one entry.
    yield float_check("unit.scale_table", scale_table(), u["U.scale_table"])
    yield exact_check("unit.scale_index", scale_index(t(u["U.index.scales"])).to(torch.int32), u["U.index.idx"])
    for name, ours in zip(("gauss_cdf", "gauss_cdf_len", "gauss_offset"), gaussian_cdf_tables()):
        yield exact_check(f"unit.{name}", ours, u[f"U.{name}"])


# --------------------------------------------------------------------------- driver


SECTIONS: dict[str, Callable[..., Iterator[Check]]] = {
    "weights": lambda pack, image, video: weight_checks(pack, {"image": image, "video": video}),
    "modules": lambda pack, image, video: module_checks(pack, {"image": image, "video": video}),
    "teacher": lambda pack, image, video: teacher_checks(pack),
    "inputs": lambda pack, image, video: input_checks(pack),
    "e2e_image": image_e2e_checks,
    "e2e_video": video_e2e_checks,
    "rates": lambda pack, image, video: rate_checks(pack),
    "psnr": lambda pack, image, video: psnr_checks(pack),
    "units": lambda pack, image, video: unit_checks(pack),
}


def filled_models() -> tuple[DMCI, DMC]:
    """The official-size models with the pack's deterministic weights, in eval mode."""
    return fill_model(DMCI()).eval(), fill_model(DMC()).eval()


def run_conformance(pack_dir: Path, sections: tuple[str, ...] | None = None, progress: bool = False) -> ConformanceReport:
    """Run the named sections (all by default) against the pack in ``pack_dir``."""
    unknown = set(sections or ()) - set(SECTIONS)
    if unknown:
        raise VidquantError(f"unknown conformance section(s) {sorted(unknown)}; valid: {', '.join(SECTIONS)}")
    pack = Pack.load(pack_dir)
    image, video = filled_models()
    checks: list[Check] = []
    names = sections or tuple(SECTIONS)
    for name in tqdm(names, desc="conformance", disable=not progress):
        with torch.no_grad():
            checks.extend(SECTIONS[name](pack, image, video))
    return ConformanceReport(checks)
