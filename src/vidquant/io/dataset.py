"""DCVC-style dataset configuration: root path, classes, sequences with size, frame count, intra period.

Layout::

    {"root_path": "/data",
     "test_classes": {"HEVC_B": {"test": 1, "base_path": "HEVC_B", "src_type": "yuv420",
                                 "sequences": {"BQTerrace_1920x1080_60.yuv":
                                     {"width": 1920, "height": 1080, "frames": 96, "intra_period": 32}}}}}

``src_type`` is ``yuv420`` (sequence = file) or ``png`` (sequence = folder of PNGs);
``intra_period`` -1 means a single intra frame. As in DCVC's ``test_video.py``, a ``yuv420``
sequence may be named without its ``.yuv`` extension.

Optional fields and their defaults: ``root_path`` (the config file's folder, when loaded from a
file), ``test`` (1), ``base_path`` (""), ``src_type`` ("yuv420"), ``intra_period`` (-1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidquant.errors import VidquantError
from vidquant.io.jsonfile import read_json

SRC_TYPES = ("yuv420", "png")


@dataclass(frozen=True)
class SequenceSpec:
    name: str
    width: int
    height: int
    frames: int
    intra_period: int
    path: Path


@dataclass(frozen=True)
class DatasetClass:
    name: str
    base_path: str
    src_type: str
    test: bool
    sequences: tuple[SequenceSpec, ...]


@dataclass(frozen=True)
class DatasetConfig:
    root_path: Path
    classes: tuple[DatasetClass, ...]

    def enabled(self) -> list[tuple[DatasetClass, SequenceSpec]]:
        """(class, sequence) pairs of the classes with ``test`` set."""
        return [(c, s) for c in self.classes if c.test for s in c.sequences]


_REQUIRED = object()


def _field(raw: dict, name: str, kind: type, where: str, default: Any = _REQUIRED) -> Any:
    if name not in raw:
        if default is not _REQUIRED:
            return default
        raise VidquantError(f"{where}: missing field {name!r}")
    value = raw[name]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise VidquantError(f"{where}: field {name!r} must be an integer, got {value!r}")
    if kind is not int and not isinstance(value, kind):
        raise VidquantError(f"{where}: field {name!r} must be a {kind.__name__}, got {value!r}")
    return value


def _sequence(name: str, raw: Any, folder: Path, src_type: str, where: str) -> SequenceSpec:
    if not isinstance(raw, dict):
        raise VidquantError(f"{where}: expected an object")
    values = {k: _field(raw, k, int, where) for k in ("width", "height", "frames")}
    for key, value in values.items():
        if value <= 0:
            raise VidquantError(f"{where}: field {key!r} must be positive, got {value}")
    intra_period = _field(raw, "intra_period", int, where, -1)
    return SequenceSpec(name, intra_period=intra_period, path=_sequence_path(folder, name, src_type), **values)


def _sequence_path(folder: Path, name: str, src_type: str) -> Path:
    """``folder / name``; a raw sequence named without ``.yuv`` (as DCVC's configs do) gets it."""
    path = folder / name
    if src_type == "yuv420" and path.suffix != ".yuv" and not path.is_file():
        return folder / f"{name}.yuv"
    return path


def _test_class(name: str, raw: Any, root: Path, where: str) -> DatasetClass:
    if not isinstance(raw, dict):
        raise VidquantError(f"{where}: expected an object")
    base = _field(raw, "base_path", str, where, "")
    src_type = _field(raw, "src_type", str, where, "yuv420")
    if src_type not in SRC_TYPES:
        raise VidquantError(f"{where}: src_type {src_type!r} is not one of {', '.join(SRC_TYPES)}")
    sequences = _field(raw, "sequences", dict, where)
    specs = tuple(_sequence(s, v, root / base, src_type, f"{where}/{s}") for s, v in sequences.items())
    return DatasetClass(name, base, src_type, bool(_field(raw, "test", int, where, 1)), specs)


def parse_dataset_config(raw: Any, source: str = "<memory>", check_files: bool = True,
                         root: str | Path | None = None) -> DatasetConfig:
    """Validate a decoded config; ``root`` stands in for a missing ``root_path``. The config must
    select at least one sequence; with ``check_files`` every selected sequence must exist on disk."""
    if not isinstance(raw, dict):
        raise VidquantError(f"{source}: expected a JSON object")
    root_path = Path(_field(raw, "root_path", str, source, _REQUIRED if root is None else str(root)))
    classes_raw = _field(raw, "test_classes", dict, source)
    classes = tuple(_test_class(n, c, root_path, f"{source}: {n}") for n, c in classes_raw.items())
    config = DatasetConfig(root_path, classes)
    if not config.enabled():
        raise VidquantError(f"{source}: selects no sequence (no class with test: 1 lists sequences)")
    if check_files:
        for test_class, seq in config.enabled():
            if not seq.path.exists():
                raise VidquantError(f"{source}: {test_class.name}/{seq.name}: file not found: {seq.path}")
    return config


def load_dataset_config(path: str | Path, check_files: bool = True) -> DatasetConfig:
    """The config in file ``path``; without ``root_path`` the sequences are found from its folder."""
    return parse_dataset_config(read_json(path), str(path), check_files, Path(path).parent)
