"""The networks use only ops that the ONNX exporter handles; ONNX Runtime gives the same numbers."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnxruntime as ort
import torch

from vidquant.models.uvq import AggregationNet, ContentNet
from vidquant.models.uvq.config import ContentConfig
from vidquant.models.uvq.convert import load_weights
from vidquant.models.uvq.fill import fill_state_dict


def _onnx_matches_torch(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> float:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, inputs, buffer, dynamo=False, opset_version=17)
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    feeds = {arg.name: x.numpy() for arg, x in zip(session.get_inputs(), inputs)}
    with torch.inference_mode():
        want = model(*inputs).numpy()
    return float(np.abs(session.run(None, feeds)[0] - want).max())


def _filled(net: str, model: torch.nn.Module) -> torch.nn.Module:
    load_weights(model, fill_state_dict(net, model.state_dict()), net)
    return model.eval()


def test_aggregation_net_exports():
    model = _filled("aggregation_net", AggregationNet())
    gen = torch.Generator().manual_seed(1)
    inputs = (torch.randn(2, 8, 8, 128, generator=gen), torch.randn(2, 24, 24, 128, generator=gen))
    assert _onnx_matches_torch(model, inputs) < 1e-5


def test_content_net_exports_with_same_padding_and_resize():
    model = _filled("content_net", ContentNet(ContentConfig(resize=(64, 64))))
    frames = torch.rand(1, 3, 90, 160, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.inference_mode():
        assert float(model(frames).abs().max()) > 0.01  # the check below compares real signal
    assert _onnx_matches_torch(model, (frames,)) < 1e-4
