"""Start-up time of the ``vidquant`` command: ``--help`` and ``recipes`` (and ``import torch`` for scale).

Runs each command ``--runs`` times in a fresh interpreter and prints the median wall time, the
heavy modules it loaded (torch, onnx, onnxruntime, matplotlib, scipy, vidquant.models: none is
expected), and the machine (CPU model, cores, avx2 / avx512_vnni flags, load average). With
``--importtime`` it also prints the slowest imports of one run (``python -X importtime``).

    PYTHONPATH=src python benchmarks/cli_startup.py [--runs 7] [--importtime] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("torch", "onnx", "onnxruntime", "matplotlib", "scipy", "vidquant.models")
COMMANDS: dict[str, list[str]] = {
    "vidquant --help": ["--help"],
    "vidquant recipes": ["recipes"],
}
FLAGS = ("avx2", "avx512f", "avx512_vnni")

# Runs `vidquant ARGS` in this interpreter, then prints the modules it loaded as JSON on stderr.
PROBE = """
import json, runpy, sys
sys.argv = ["vidquant", *json.loads(sys.argv[1])]
try:
    runpy.run_module("vidquant", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def wall_seconds(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def heavy_modules(args: list[str]) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"vidquant {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    loaded = json.loads(result.stderr.strip().splitlines()[-1])
    return [name for name in HEAVY if name in loaded]


def slowest_imports(args: list[str], count: int = 8) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the slowest top-level imports of one run."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "vidquant", *args],
                            capture_output=True, text=True, check=True)
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            if not name.startswith("   "):  # top level: one space after the bar
                rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:count]


def machine() -> dict:
    model, flags = platform.processor() or "unknown", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "flags": {flag: flag in flags for flag in FLAGS},
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    parser.add_argument("--importtime", action="store_true", help="also print the slowest imports of each command")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()

    rows = {}
    commands = {name: [sys.executable, "-m", "vidquant", *argv] for name, argv in COMMANDS.items()}
    commands["python -c 'import torch' (for scale)"] = [sys.executable, "-c", "import torch"]
    for name, argv in commands.items():
        times = wall_seconds(argv, args.runs)
        vidquant_args = COMMANDS.get(name)
        rows[name] = {
            "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3),
            "runs": args.runs,
            "heavy_modules": heavy_modules(vidquant_args) if vidquant_args is not None else None,
        }
    info = machine()
    flags = " ".join(f"{flag}={'yes' if present else 'no'}" for flag, present in info["flags"].items())
    print(f"machine: {info['cpu']}, {info['cores']} cores, {flags}, load {info['load_average_1min']:.2f}, "
          f"Python {info['python']}")
    for name, row in rows.items():
        heavy = "" if row["heavy_modules"] is None else f"  heavy modules: {', '.join(row['heavy_modules']) or 'none'}"
        print(f"{name:<40} median {row['median_s']:.3f} s (min {row['min_s']:.3f} s, {row['runs']} runs){heavy}")
        if args.importtime and name in COMMANDS:
            for micros, module in slowest_imports(COMMANDS[name]):
                print(f"    {micros / 1e6:7.3f} s  import {module}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": info, "commands": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
