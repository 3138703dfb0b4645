"""``vidquant models``: the registered models, their keyword arguments and the recipes they declare."""

from __future__ import annotations

import argparse
import inspect


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models", help="list the registered models and the recipes (plans) each declares",
        description="List the registered models: name, the keyword arguments create_model(name, **kwargs) takes "
                    "(with defaults) and the recipes the model declares a quantization plan for. With a name, "
                    "print each plan: what it changes against the bare recipe, and why.",
    )
    parser.add_argument("name", nargs="?", help="print this model's plans in full")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vidquant.io.text_table import format_table
    from vidquant.models import MODELS, list_models, model_plans

    if args.name:
        entry = MODELS.get(args.name)
        print(f"{args.name}({_kwargs(entry.factory)})")
        plans = model_plans(args.name)
        if plans:
            print("plans (for the default kwargs; a plan may depend on them):")
        else:
            print("declares no recipe (any recipe applies as it is: quantize(model, recipe))")
        for recipe, plan in plans.items():
            print(f"  {recipe}: {plan.summary()}" + (f" ({plan.reason})" if plan.reason else ""))
        return 0
    rows = [(name, _kwargs(MODELS.get(name).factory) or "-", _recipes(list(model_plans(name)))) for name in list_models()]
    print(format_table(("model", "kwargs", "recipes (plans)"), rows))
    print("`vidquant models NAME` prints a model's plans")
    return 0


def _recipes(names: list[str]) -> str:
    from vidquant.quant.recipes import RECIPES

    if names and names == RECIPES.names():
        return f"every built-in recipe ({len(names)})"
    return ", ".join(names) or "-"


def _kwargs(factory: object) -> str:
    """``a=1, b=None`` from the factory's signature."""
    parameters = inspect.signature(factory).parameters.values()  # type: ignore[arg-type]
    return ", ".join(str(p) if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}" for p in parameters)
