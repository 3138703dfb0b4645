"""Fast start: ``import vidquant``, building the ``vidquant`` parser and listing recipes load no heavy module.

Each case runs in a fresh interpreter, since this test session has imported torch already.
Timings are in benchmarks/cli_startup.py (not a test: they depend on the machine).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "onnx", "onnxruntime", "matplotlib", "scipy", "vidquant.models")

CASES = {
    "import vidquant": "import vidquant",
    "build the parser": "from vidquant.cli.main import build_parser; build_parser()",
    "vidquant --help": "from vidquant.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
    "vidquant codec --help": "from vidquant.cli.main import main\ntry:\n    main(['codec', '--help'])\nexcept SystemExit:\n    pass",
    "vidquant recipes": "from vidquant.cli.main import main; main(['recipes'])",
}


def _heavy_modules_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    return [name for name in loaded if name in HEAVY or name.startswith(tuple(f"{h}." for h in HEAVY))]


@pytest.mark.parametrize("code", CASES.values(), ids=CASES.keys())
def test_starts_without_heavy_modules(code):
    assert _heavy_modules_after(code) == []


def test_a_name_of_the_top_level_api_loads_its_module_on_first_use():
    code = "import vidquant, sys\nassert 'torch' not in sys.modules\nfrom vidquant import quantize\nprint(quantize.__module__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "vidquant.quant.api"
    assert _heavy_modules_after("import vidquant\nvidquant.report") != []


def test_an_unknown_top_level_name_is_an_attribute_error():
    import vidquant

    with pytest.raises(AttributeError, match="has no attribute 'quantise'"):
        vidquant.quantise  # noqa: B018
