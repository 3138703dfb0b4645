"""Arguments shared by commands that take a model: a registered name or a vidquant checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn

from vidquant.calibrate import quantize_on_random_inputs
from vidquant.errors import VidquantError
from vidquant.export import check_inputs_fit
from vidquant.models import checkpoint_model, create_model, list_models, load_quantized_model
from vidquant.quant.checkpoint import load_quantized


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=f"a registered model ({', '.join(list_models())}) or a vidquant .safetensors checkpoint")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--recipe", help="quantize the named model with this recipe (name or JSON file)")
    source.add_argument("--quant", metavar="FILE", help="load this quantized checkpoint into the named model")
    parser.add_argument(
        "--input-shape", action="append", metavar="NxCxHxW",
        help="example input shape (repeat for several inputs); default: the model's own example shape",
    )


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        raise VidquantError(f"input shape {text!r} is not of the form NxCxHxW") from None
    if not shape or any(d <= 0 for d in shape):
        raise VidquantError(f"input shape {text!r} must have positive sizes")
    return shape


def load_model(args: argparse.Namespace) -> tuple[nn.Module, nn.Module, list[torch.Tensor]]:
    """(float model, model as requested, example inputs). Recipes calibrate on random inputs."""
    if Path(args.model).suffix == ".safetensors":
        if args.recipe or args.quant:
            raise VidquantError(f"{args.model} is already quantized; --recipe and --quant go with a model name")
        info = checkpoint_model(args.model)
        if info is None:
            raise VidquantError(f"{args.model} names no registered model; export it from Python instead")
        float_model = create_model(info["name"], **info["kwargs"]).eval()
        model = load_quantized_model(args.model).eval()
        return float_model, model, example_inputs(float_model, args.input_shape)
    float_model = create_model(args.model).eval()
    inputs = example_inputs(float_model, args.input_shape)
    check_inputs_fit(float_model, tuple(inputs))
    model = create_model(args.model).eval()
    if args.quant:
        model = load_quantized(model, args.quant)
    elif args.recipe:
        model = quantize_on_random_inputs(model, args.recipe, inputs)
        print(f"note: {args.model} calibrated on random inputs; pass --quant FILE for a model calibrated on real data")
    return float_model, model, inputs


def example_inputs(model: nn.Module, shapes: Optional[list[str]]) -> list[torch.Tensor]:
    parsed = [parse_shape(text) for text in shapes] if shapes else list(getattr(model, "example_input_shapes", ()))
    if not parsed:
        raise VidquantError("this model has no default input shape; pass --input-shape NxCxHxW")
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(shape, generator=generator) for shape in parsed]
