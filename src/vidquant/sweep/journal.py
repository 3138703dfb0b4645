"""The journal of a sweep: every finished job appended at once, so that a crash loses nothing.

``OUTPUT.partial.jsonl`` (next to the output ``OUTPUT.json``) holds one JSON line per record: first
a header with the sweep's arguments and the fingerprints of its model files, then one line per
finished job (``{"job": label, "result": ...}`` or ``{"job": label, "error": ...}``), each flushed
and synced to disk before the next job is taken. A rerun with the same header takes the finished
jobs from it and runs only the others (a job that failed runs again); a header that differs is
refused in one line. The final output is written atomically (``write_atomic``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from vidquant.errors import VidquantError

FORMAT = 1


def journal_path(output: str | Path) -> Path:
    """``results.json`` -> ``results.partial.jsonl``, in the same folder."""
    output = Path(output)
    return output.with_name(output.stem + ".partial.jsonl")


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to a temporary file in ``path``'s folder, then rename it over ``path``: a
    reader sees the old file or the whole new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _normal(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples become lists), for comparing with a read header."""
    return json.loads(json.dumps(value))


class Journal:
    """Append-only record of a sweep's finished jobs (see the module's docstring).

    ``arguments`` and ``fingerprints`` (JSON-serialisable) define the sweep: a journal written
    with others is refused unless ``resume`` is False, which starts it afresh."""

    def __init__(self, path: str | Path, arguments: dict, fingerprints: dict, resume: bool = True):
        self.path = Path(path)
        self.header = _normal({"vidquant_journal": FORMAT, "arguments": arguments, "fingerprints": fingerprints})
        self.done: dict[str, Any] = {}  # label -> result of the jobs finished before this run
        self._started = resume and self.path.exists()  # the file is written at the first finished job
        if self._started:
            self._read()

    def _read(self) -> None:
        lines = self.path.read_text().splitlines()
        try:
            header = json.loads(lines[0]) if lines else None
        except json.JSONDecodeError:
            header = None
        if not isinstance(header, dict) or header.get("vidquant_journal") != FORMAT:
            raise VidquantError(f"{self.path} is not a vidquant journal; move it away or pass --no-resume")
        if header != self.header:
            differ = sorted(f"{part}.{key}" for part in ("arguments", "fingerprints")
                            for key in set(header.get(part, {})) | set(self.header[part])
                            if header.get(part, {}).get(key) != self.header[part].get(key))
            raise VidquantError(f"{self.path} was written by a sweep with other {', '.join(differ) or 'settings'}; "
                                "rerun with the same arguments, or pass --no-resume to start afresh")
        for line in lines[1:]:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # the last line of a process killed while writing it
                continue
            if "result" in record:
                self.done[record["job"]] = record["result"]
            else:
                self.done.pop(record["job"], None)

    def record(self, label: str, result: Any = None, error: str | None = None) -> None:
        """Append one finished job (its result, or its error) and sync it to disk."""
        entry = {"job": label, "error": error} if error is not None else {"job": label, "result": result}
        if not self._started:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.header) + "\n")
            self._started = True
        with self.path.open("a") as file:
            file.write(json.dumps(entry) + "\n")
            file.flush()
            os.fsync(file.fileno())

    def remove(self) -> None:
        """Drop the journal (once the final output holds every result)."""
        self.path.unlink(missing_ok=True)
