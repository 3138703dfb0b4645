"""The whole UVQ 1.5 model (three networks) and how its weights are found."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from vidquant.models.uvq.aggregation_net import AggregationNet
from vidquant.models.uvq.config import CHECKPOINTS, NET_NAMES
from vidquant.models.uvq.content_net import ContentNet
from vidquant.models.uvq.convert import load_checkpoint, load_weights
from vidquant.models.uvq.distortion_net import DistortionNet
from vidquant.models.uvq.fill import fill_state_dict

NETWORKS: dict[str, type[nn.Module]] = {
    "content_net": ContentNet,
    "distortion_net": DistortionNet,
    "aggregation_net": AggregationNet,
}
OFFICIAL = "official"
FILL_V1 = "FILL-v1"


class UVQ1p5(nn.Module):
    """Frames (N, 3, 1080, 1920) in [-1, 1] -> per-frame quality scores (N, 1) in (1, 5)."""

    def __init__(self) -> None:
        super().__init__()
        for net in NET_NAMES:
            self.add_module(net, NETWORKS[net]())

    def networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in NET_NAMES}

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.aggregation_net(self.content_net(frames), self.distortion_net(frames))


@dataclass(frozen=True)
class WeightSource:
    """Where one network's weights came from: ``official`` (a file) or ``FILL-v1`` (generated)."""

    net: str
    kind: str
    path: str | None = None


def load_network_weights(net: str, module: nn.Module, weights_dir: Path | None) -> WeightSource:
    """``weights_dir/<net>.pth`` when present, else FILL-v1 (SPEC.md 10)."""
    path = weights_dir / CHECKPOINTS[net].filename if weights_dir is not None else None
    if path is not None and path.is_file():
        load_checkpoint(module, path)
        return WeightSource(net, OFFICIAL, str(path))
    load_weights(module, fill_state_dict(net, module.state_dict()), f"{FILL_V1} {net}")
    return WeightSource(net, FILL_V1)


def load_uvq_weights(model: UVQ1p5, weights_dir: Path | None) -> list[WeightSource]:
    return [load_network_weights(net, module, weights_dir) for net, module in model.networks().items()]


def build_network(net: str, weights_dir: Path | str | None = None) -> nn.Module:
    """One of the three networks, with weights, in eval mode."""
    module = NETWORKS[net]()
    load_network_weights(net, module, Path(weights_dir) if weights_dir is not None else None)
    return module.eval()


def build_uvq(weights_dir: Path | str | None = None) -> tuple[UVQ1p5, list[WeightSource]]:
    """A ready-to-run model in eval mode and the source of each network's weights."""
    model = UVQ1p5()
    sources = load_uvq_weights(model, Path(weights_dir) if weights_dir is not None else None)
    return model.eval(), sources
