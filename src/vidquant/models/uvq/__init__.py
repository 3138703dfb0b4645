"""UVQ 1.5 (Google's Universal Video Quality model): networks, weights, pipeline, conformance.

Importing this package registers ``uvq1p5`` (the whole model) and its three networks with
``vidquant.models``; ``create_model("uvq1p5", weights_dir=DIR)`` loads official checkpoints
from DIR where present and FILL-v1 weights otherwise. The networks are quantized one by one
(``plans.PLANS``), BatchNorm folded first: ``create_model("uvq1p5-content", fold_batchnorm=True)``
is the float network a quantized checkpoint of it loads into.
"""

from __future__ import annotations

from pathlib import Path

from vidquant.models import register_model
from vidquant.models.uvq.aggregation_net import AggregationNet
from vidquant.models.uvq.config import CHECKPOINTS, DEFAULT_WEIGHTS_DIR, NET_NAMES, SamplingConfig
from vidquant.models.uvq.content_net import ContentNet
from vidquant.models.uvq.distortion_net import DistortionNet
from vidquant.models.uvq.layers import fold_batchnorm as fold_batchnorm_
from vidquant.models.uvq.model import FILL_V1, OFFICIAL, UVQ1p5, WeightSource, build_network, build_uvq
from vidquant.models.uvq.pipeline import VideoScore, model_scorer, score_video
from vidquant.models.uvq.plans import PLANS

__all__ = [
    "AggregationNet",
    "CHECKPOINTS",
    "ContentNet",
    "DEFAULT_WEIGHTS_DIR",
    "DistortionNet",
    "FILL_V1",
    "NET_NAMES",
    "OFFICIAL",
    "SamplingConfig",
    "UVQ1p5",
    "VideoScore",
    "WeightSource",
    "build_network",
    "build_uvq",
    "model_scorer",
    "network_model_info",
    "score_video",
]


@register_model("uvq1p5")
def uvq1p5(weights_dir: str | Path | None = None) -> UVQ1p5:
    """The whole model; each network's weights from ``weights_dir`` or FILL-v1."""
    return build_uvq(weights_dir)[0]


def network_model_name(net: str) -> str:
    """The registered name of one network: ``content_net`` -> ``uvq1p5-content``."""
    return f"uvq1p5-{net.removesuffix('_net')}"


def network_model_info(net: str) -> dict:
    """``{name, kwargs}`` of a quantized network (BatchNorm folded) as its checkpoint records it."""
    return {"name": network_model_name(net), "kwargs": {"fold_batchnorm": True}}


def _register_network(net: str) -> None:
    def factory(weights_dir: str | Path | None = None, fold_batchnorm: bool = False):
        module = build_network(net, weights_dir)
        return fold_batchnorm_(module) if fold_batchnorm else module

    register_model(network_model_name(net), plans=lambda **_: PLANS[net])(factory)


for _net in NET_NAMES:
    _register_network(_net)
